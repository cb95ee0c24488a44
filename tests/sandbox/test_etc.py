"""The jails' /etc is prepared once per content, readable by the sandbox's user, and holds no host secret."""

import stat
from pathlib import Path

from agentruns.sandbox.etc import prepare_etc


def test_the_same_content_gives_the_same_directory_and_network_adds_name_resolution(tmp_path: Path) -> None:
    offline = prepare_etc(tmp_path, network=False)
    again = prepare_etc(tmp_path, network=False)
    online = prepare_etc(tmp_path, network=True)

    assert offline == again != online
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted({offline.name, online.name})  # no leftovers
    assert {"passwd", "group", "hosts", "hostname", "nsswitch.conf", "ld.so.cache"} <= {
        p.name for p in offline.iterdir()
    }
    assert not (offline / "resolv.conf").exists() and (online / "ssl" / "certs").is_dir()
    assert not any(path.name in {"shadow", "gshadow", "private"} for path in online.rglob("*"))


def test_the_sandboxs_user_can_read_it(tmp_path: Path) -> None:
    etc = prepare_etc(tmp_path, network=False)

    assert stat.S_IMODE(etc.stat().st_mode) == 0o755
    assert stat.S_IMODE((etc / "passwd").stat().st_mode) == 0o644
    assert (etc / "passwd").read_text().startswith("root:x:0:0:")
