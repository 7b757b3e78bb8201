"""The two sentry-sdk lines the project runs on, and what tells them apart.

monitoring/sentry/_sdk_compat.py picks 2.x's or 3.x's way by the installed major.
These tests run on whichever SDK the venv holds (the template's sdk3 test runs this
folder on 3.x too): the first fails when that SDK no longer matches what the module
assumes of its line, the others check the 3.x span hook and the receiver's span check.
"""

from __future__ import annotations

import importlib.util
import inspect

import pytest
import sentry_sdk
from sentry_sdk.consts import ClientConstructor
from sentry_sdk.integrations import logging as sdk_logging
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.logging import LoggingIntegration
from structlog.contextvars import bound_contextvars

from {{ cookiecutter.project_slug }}.monitoring.redaction import FILTERED, Redactor
from {{ cookiecutter.project_slug }}.monitoring.sentry import _sdk_compat
from {{ cookiecutter.project_slug }}.monitoring.sentry.filters import before_send_span

from ..conftest import PROJECT_DIR
from ..support.sentry_stubs import SPAN_CONTENT_TYPE, Item, span_problems

FIX = "sentry-sdk changed: see monitoring/sentry/_sdk_compat.py"


# What only one SDK line has, as code spells it: only _sdk_compat.py may say it.
ONE_LINE_ONLY = (
    "from sentry_sdk.tracing",
    "start_transaction(",
    ".set_data(",
    '"before_send_transaction"',
    "before_send_span=",
    "transaction_style=",
    "sentry_logs_level=",
    "ignore_logger(",
)


def parameters(function: object) -> set[str]:
    return set(inspect.signature(function).parameters)  # type: ignore[arg-type]


def test_the_installed_sdk_is_the_line_the_compat_module_took():
    streams = _sdk_compat.STREAMS_SPANS
    assert int(sentry_sdk.VERSION.split(".")[0]) == _sdk_compat.SDK_MAJOR
    assert streams == (_sdk_compat.SDK_MAJOR >= 3)
    init = parameters(ClientConstructor.__init__)
    # Transactions and their hook on 2.x; spans and theirs on 3.x, which refuses the other.
    assert ("before_send_transaction" in init) is not streams, FIX
    assert "before_send_span" in init, FIX
    assert set(_sdk_compat.trace_options(Redactor(), "https://k@o1.example/1")) <= init, FIX
    assert (importlib.util.find_spec("sentry_sdk.tracing") is None) is streams, FIX
    assert ("transaction_style" in parameters(DjangoIntegration.__init__)) is not streams, FIX
    logging_levels = parameters(LoggingIntegration.__init__)
    assert ("breadcrumb_level" in logging_levels) is streams, FIX
    assert ("sentry_logs_level" in logging_levels) is not streams, FIX
    # The same name, opposite jobs: on 3.x ignore_logger silences Sentry Logs only.
    assert hasattr(sdk_logging, "ignore_logger_for_events") is streams, FIX
    assert hasattr(sdk_logging, "ignore_logger_for_sentry_logs") is not streams, FIX
    assert callable(sentry_sdk.traces.start_span), FIX


# LoggingIntegration's handlers per line: (events, breadcrumbs, Sentry Logs).
LOGGING_HANDLERS = {
    2: ("_handler", "_breadcrumb_handler", "_sentry_logs_handler"),
    3: ("_event_handler", "_breadcrumb_handler", "_logs_handler"),
}


def test_only_the_compat_module_names_what_one_sdk_line_lacks():
    compat = PROJECT_DIR / "{{ cookiecutter.project_slug }}" / "monitoring" / "sentry" / "_sdk_compat.py"
    sources = [
        *(PROJECT_DIR / "{{ cookiecutter.project_slug }}").rglob("*.py"),
        *(PROJECT_DIR / "config").rglob("*.py"),
    ]
    found = [
        f"{path.relative_to(PROJECT_DIR)}: {name}"
        for path in sources
        if path != compat
        for name in ONE_LINE_ONLY
        if name in path.read_text()
    ]
    assert found == []


def test_the_integrations_start_as_the_options_ask_on_this_line():
    django = _sdk_compat.django_integration(middleware_spans=False)
    assert django.middleware_spans is False
    if not _sdk_compat.STREAMS_SPANS:
        assert django.transaction_style == "url"
    integration = _sdk_compat.logging_integration(breadcrumb_level=20, event_level=40)
    events, breadcrumbs, sentry_logs = (
        getattr(integration, name) for name in LOGGING_HANDLERS[_sdk_compat.SDK_MAJOR]
    )
    assert (events.level, breadcrumbs.level) == (40, 20), FIX
    # The integration's own Sentry Logs stay off: logs.py's handler sends them.
    assert sentry_logs is None, FIX


def span(name: str, **attributes: object) -> dict[str, object]:
    return {"trace_id": "0" * 32, "span_id": "1" * 16, "name": name, "attributes": attributes}


def test_before_send_span_scrubs_tags_and_drops_personal_user_fields():
    redactor = Redactor(allow_pii=False, secret_values=("slack-secret-path-4242",))
    sent = span(
        "GET https://hooks.example/services/slack-secret-path-4242",
        **{
            "url.full": "https://h/reset/?token=SPAN-SECRET-1&page=2",
            "db.query.text": "SELECT 1 -- password=SPAN-SECRET-2",
            "api_key": "SPAN-SECRET-3",
            "user.id": "42",
            "user.email": "ada@example.com",
            "user.ip_address": "10.1.2.3",
            "http.response.status_code": 200,
        },
    )
    with bound_contextvars(request_id="span-rid-1"):
        result = before_send_span(sent, {}, redactor=redactor)
    assert "slack-secret-path-4242" not in str(result["name"])
    attributes = result["attributes"]
    assert isinstance(attributes, dict)
    assert "SPAN-SECRET" not in str(attributes)
    assert "page=2" in attributes["url.full"]
    assert attributes["api_key"] == FILTERED
    assert attributes["user.id"] == "42"
    assert not {"user.email", "user.ip_address"} & set(attributes)
    assert attributes["http.response.status_code"] == 200
    assert attributes["request_id"] == "span-rid-1"


def test_before_send_span_keeps_the_user_fields_when_pii_is_allowed():
    sent = span("GET /orders/", **{"user.id": "42", "user.email": "ada@example.com"})
    attributes = before_send_span(sent, {}, redactor=Redactor(allow_pii=True))["attributes"]
    assert attributes == {"user.id": "42", "user.email": "ada@example.com"}


GOOD_SPAN = {
    "trace_id": "a" * 32,
    "span_id": "b" * 16,
    "name": "GET /orders/",
    "status": "ok",
    "is_segment": True,
    "start_timestamp": 1.0,
    "end_timestamp": 2.0,
    "attributes": {"sentry.op": {"type": "string", "value": "http.server"}},
}
HEADERS = {"trace": {"trace_id": "a" * 32}}


def span_item(*spans: dict[str, object], **headers: object) -> Item:
    item_headers = {"content_type": SPAN_CONTENT_TYPE, "item_count": len(spans), **headers}
    return Item("span", item_headers, {"version": 2, "items": list(spans)})


def test_the_receiver_takes_spans_of_the_documented_shape():
    assert span_problems(HEADERS, span_item(GOOD_SPAN)) == []


@pytest.mark.parametrize(
    ("headers", "item", "problem"),
    [
        ({}, span_item(GOOD_SPAN), "dynamic sampling context"),
        (HEADERS, span_item(GOOD_SPAN, content_type="application/json"), "content_type"),
        (HEADERS, span_item(GOOD_SPAN, item_count=2), "item_count"),
        (HEADERS, span_item({**GOOD_SPAN, "span_id": "b" * 32}), "span_id"),
        (HEADERS, span_item({**GOOD_SPAN, "status": "internal_error"}), "status"),
        (HEADERS, span_item({**GOOD_SPAN, "end_timestamp": 0.5}), "timestamps"),
        (HEADERS, span_item({**GOOD_SPAN, "attributes": {"op": "http"}}), "attribute op"),
    ],
)
def test_the_receiver_refuses_spans_of_another_shape(headers, item, problem):
    assert problem in " ".join(span_problems(headers, item))
