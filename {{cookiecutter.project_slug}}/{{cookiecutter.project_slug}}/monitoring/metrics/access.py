"""Who may read metrics: direct connections from allowed networks, or a bearer token.

A request that came through a proxy (it carries X-Forwarded-For, Forwarded or X-Real-IP)
is never let in by network, because its REMOTE_ADDR is the proxy's: behind an ingress
that would open /metrics to the internet. Such requests need METRICS_TOKEN.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")
BEARER = "Bearer "


def parse_networks(values: Iterable[str]) -> tuple[IPv4Network | IPv6Network, ...]:
    networks = []
    for value in values:
        try:
            networks.append(ip_network(value.strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"METRICS_ALLOWED_NETWORKS has {value!r}, which is not an IP network: "
                "give comma-separated CIDR blocks such as 10.0.0.0/8,::1/128."
            ) from None
    return tuple(networks)


@dataclass(frozen=True)
class AccessPolicy:
    networks: tuple[IPv4Network | IPv6Network, ...]
    token: str

    @classmethod
    def from_settings(cls) -> AccessPolicy:
        return cls(parse_networks(settings.METRICS_ALLOWED_NETWORKS), settings.METRICS_TOKEN)

    def status_for(self, meta: Mapping[str, str]) -> int:
        """200 when the WSGI environ `meta` may read metrics, else 401 or 403."""
        authorization = meta.get("HTTP_AUTHORIZATION", "")
        if self.token and authorization.startswith(BEARER):
            given = authorization.removeprefix(BEARER).strip().encode()
            return 200 if hmac.compare_digest(given, self.token.encode()) else 401
        if not any(meta.get(header) for header in PROXY_HEADERS) and self._from_allowed_network(
            meta.get("REMOTE_ADDR", "")
        ):
            return 200
        # 401 tells a client it may authenticate; without a token there is no way in.
        return 401 if self.token else 403

    def _from_allowed_network(self, remote_addr: str) -> bool:
        try:
            address = ip_address(remote_addr)
        except ValueError:
            return False
        if address.version == 6 and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)
