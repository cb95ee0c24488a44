"""The sandbox's /etc: a directory prepared once, then bound read-only into every jail."""

import hashlib
import os
import shutil
import threading
import uuid
from pathlib import Path

SANDBOX_UID = 1000
"""The uid (and gid) of commands inside: an ordinary user with no capabilities."""
HOSTNAME = "sandbox"

# Host files of /etc that hold no secret and that programs need: the dynamic linker's cache, the
# Debian alternatives (`awk`, `editor`, … are symlinks through them) and the time zone.
_HOST_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime", "services", "protocols")
# And with network (through the egress proxy, which resolves names itself): TLS roots.
_HOST_ETC_NETWORK = (
    "gai.conf", "ssl/certs", "ssl/openssl.cnf", "ca-certificates", "ca-certificates.conf",
    "pki/tls/certs", "pki/ca-trust/extracted",  # not /etc/ssl/private nor /etc/pki/tls/private
)  # fmt: skip
_PASSWD = f"""\
root:x:0:0:root:/root:/usr/sbin/nologin
sandbox:x:{SANDBOX_UID}:{SANDBOX_UID}:sandbox:/workspace:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
"""
_GROUP = f"root:x:0:\nsandbox:x:{SANDBOX_UID}:\nnogroup:x:65534:\n"
_HOSTS = f"127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n127.0.1.1 {HOSTNAME}\n"
_NSSWITCH = "".join(
    f"{database}: {sources}\n"
    for database, sources in [("passwd", "files"), ("group", "files"), ("shadow", "files"), ("hosts", "files dns"),
                              ("networks", "files"), ("protocols", "files"), ("services", "files")]
)  # fmt: skip

_prepared: dict[tuple[Path, bool], Path] = {}
_lock = threading.Lock()


def generated_etc() -> dict[str, str]:
    """The files of /etc written for the sandbox (never copied from the host's /etc). There is no resolv.conf: a
    jail has no DNS; with network, its egress proxy resolves names."""
    etc = {"passwd": _PASSWD, "group": _GROUP, "hosts": _HOSTS, "hostname": f"{HOSTNAME}\n"}
    return etc | {"nsswitch.conf": _NSSWITCH}


def prepared_etc(root: Path, *, network: bool) -> Path:
    """The directory under `root` that jails bind as /etc: made on this process's first call, then reused.

    Binding one directory costs a jail one mount where binding each file cost it two dozen (about 3 ms of
    its 15 here). Its name is a digest of its content, so processes sharing `root` share it, and a host
    whose files changed (a package installed, resolv.conf rewritten) gets a new one at the next start.
    """
    key = (root, network)
    with _lock:
        if key not in _prepared:
            _prepared[key] = prepare_etc(root, network=network)
        return _prepared[key]


def prepare_etc(root: Path, *, network: bool) -> Path:
    """Make (or find) the directory of `prepared_etc` under `root` now, without remembering it."""
    building = root / f".etc-building-{uuid.uuid4().hex}"
    building.mkdir(mode=0o755)
    try:
        building.chmod(0o755)  # whatever the umask: the sandbox's host user reads it
        for name, text in generated_etc().items():
            (building / name).write_text(text)
            (building / name).chmod(0o644)
        for name in (*_HOST_ETC, *(_HOST_ETC_NETWORK if network else ())):
            _copy(Path("/etc") / name, building / name)
        prepared = root / f".etc-{_digest(building)}"
        try:
            building.rename(prepared)
        except OSError:  # another process made the same one first
            if not prepared.is_dir():
                raise
            shutil.rmtree(building)
        return prepared
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise


def _copy(source: Path, target: Path) -> None:
    """Copy a host file or directory as it is (symlinks as symlinks: their targets are in /usr); skip one missing."""
    if not source.exists() and not source.is_symlink():
        return
    target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    if source.is_dir() and not source.is_symlink():
        shutil.copytree(source, target, symlinks=True)
    else:
        shutil.copy2(source, target, follow_symlinks=False)


def _digest(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*")):
        digest.update(str(path.relative_to(directory)).encode() + b"\0")
        if path.is_symlink():
            digest.update(b"->" + os.readlink(path).encode())
        elif path.is_file():
            digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]
