"""buildah and podman on a storage of the tests' own, and the stand-in base image.

No registry serves base images here, so the Dockerfile's `FROM python:3.11-slim` is
answered by an image made from Debian's packages: debootstrap's minimal bookworm with
python3 and python3-venv, `python` added where the official image has it
(/usr/local/bin), tagged `docker.io/library/python:3.11-slim` in this storage and never
pulled. The Dockerfile is built unchanged. How it differs from the official image, and so
what a build on it does not prove: README, "The image test".

Everything lives under .cache/image/ (gitignored): the vfs storage (root and run root),
and the base, made once and remade only when its recipe below changes. Every command has
a timeout, and the tests remove what they create but the base.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
# podman's database records the storage's path and refuses another spelling of it
# ("database configuration mismatch"): the real path, the same from any work tree that
# shares the repo's .cache (a moved clone starts over: rm -rf .cache/image).
IMAGE_CACHE = (REPO_DIR / ".cache").resolve() / "image"
STORAGE = ("--root", str(IMAGE_CACHE / "storage"), "--runroot", str(IMAGE_CACHE / "run"),
           "--storage-driver", "vfs")  # fmt: skip
# Seen working on this machine (no systemd, no cgroup delegation, no Debian crun): Debian's
# runc, cgroupfs, and ulimits given outright (podman's defaults ask for more than the
# sandbox grants: "error setting rlimit type 6").
PODMAN_RUN = ("--runtime", "runc", "--cgroup-manager", "cgroupfs")
ULIMITS = ("--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096")
TOOLS = ("buildah", "podman", "runc", "debootstrap")

# --- the stand-in base --------------------------------------------------------------------
BASE = "docker.io/library/python:3.11-slim"
SUITE, MIRROR = "bookworm", "http://deb.debian.org/debian"
PACKAGES = ("python3", "python3-venv")  # venv brings ensurepip's pip wheel
# The official image's PATH, LANG and CMD.
BASE_CONFIG = (
    "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
)
# This machine reaches PyPI through a proxy with certificate authorities of its own
# (/usr/local/share/ca-certificates): the base trusts them too, or pip cannot install.
LOCAL_CAS = Path("/usr/local/share/ca-certificates")
RECIPE_LABEL = "template-tests.stand-in-recipe"


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def run(*command: str, timeout: float, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(command[:3])}... exited {result.returncode}:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def buildah(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    return run("buildah", *STORAGE, *args, timeout=timeout, check=check)


def podman(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    return run("podman", *STORAGE, *PODMAN_RUN, *args, timeout=timeout, check=check)


def local_cas() -> list[Path]:
    return sorted(LOCAL_CAS.glob("*.crt")) if LOCAL_CAS.is_dir() else []


def recipe() -> str:
    """A digest of everything the base is made from: a change makes it again."""
    material = [SUITE, MIRROR, *PACKAGES, *BASE_CONFIG, "python-link-1"]
    material += [ca.read_text() for ca in local_cas()]
    return hashlib.sha256("\n".join(material).encode()).hexdigest()[:16]


def image_labels(reference: str) -> dict[str, str] | None:
    """The image's labels, or None when this storage has no such image."""
    result = buildah("inspect", "--type", "image", reference, check=False)
    if result.returncode != 0:
        return None
    image = json.loads(result.stdout)["OCIv1"]
    return (image.get("config") or {}).get("Labels") or {}


def ensure_base() -> str:
    """The stand-in base in the tests' storage, made if absent or of an older recipe."""
    IMAGE_CACHE.mkdir(parents=True, exist_ok=True)
    key = recipe()
    with open(IMAGE_CACHE / "base.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one maker at a time; the others then find it
        labels = image_labels(BASE)
        if labels is None or labels.get(RECIPE_LABEL) != key:
            make_base(key)
    return BASE


def make_base(key: str) -> None:
    rootfs = IMAGE_CACHE / "rootfs"
    shutil.rmtree(rootfs, ignore_errors=True)
    try:
        run("debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE,
            str(rootfs), MIRROR, timeout=1200)  # fmt: skip
        if cas := local_cas():
            for ca in cas:
                shutil.copy2(ca, rootfs / "usr/local/share/ca-certificates" / ca.name)
            run("chroot", str(rootfs), "update-ca-certificates", timeout=120)
        # The official image installs its Python in /usr/local/bin, `python` included; the
        # Dockerfile's `python -m venv` needs that name.
        (rootfs / "usr/local/bin").mkdir(parents=True, exist_ok=True)
        (rootfs / "usr/local/bin/python").symlink_to("/usr/bin/python3")
        # debootstrap's downloads and apt's lists: the official image keeps neither.
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for path in (rootfs / leftover).glob("*"):
                if path.is_file():
                    path.unlink()
        archive = IMAGE_CACHE / "rootfs.tar"  # owners, modes and links as debootstrap made them
        run("tar", "-C", str(rootfs), "-cf", str(archive), ".", timeout=300)
        changes = [arg for line in (*BASE_CONFIG, f"LABEL {RECIPE_LABEL}={key}")
                   for arg in ("--change", line)]  # fmt: skip
        buildah("rmi", "--force", BASE, check=False)
        podman("import", *changes, str(archive), BASE, timeout=600)
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
        (IMAGE_CACHE / "rootfs.tar").unlink(missing_ok=True)
