"""How a jail reaches its egress proxy: the proxy's socket bound in, socat bridging it to 127.0.0.1, proxy variables.

The jail keeps its own network namespace, whose only interface is its loopback; a connection to 127.0.0.1:3128
there is carried by socat over the bound Unix socket to the worker's proxy. Nothing else leaves the jail: there
is no route, no DNS server, no UDP.
"""

from collections.abc import Sequence

from agentruns.sandbox.runner import LauncherFds

SOCKET_IN_JAIL = "/run/agentruns/egress.sock"
PORT = 3128
PROXY_URL = f"http://127.0.0.1:{PORT}"
ENV = {
    **{
        name: PROXY_URL for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
    },
    "NO_PROXY": "localhost,127.0.0.1,::1",
    "no_proxy": "localhost,127.0.0.1,::1",
}
"""The variables curl, pip (requests), Python's urllib, git and most tools take their proxy from."""

# socat listens on the jail's loopback, each connection forked and carried over the socket; the launcher waits
# (reading /proc/net/tcp with bash's builtins, for at most a second) until it listens, so that the command's first
# connection finds it. socat keeps none of the launcher's pipes.
_BRIDGE = """\
( exec {started}>&- {alive}<&- </dev/null >/dev/null 2>&1
  exec socat TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:{socket} ) &
for _ in {{1..1000}}; do
  while read -r _ local _ state _; do
    [[ $local == 0100007F:{hex_port} && $state == 0A ]] && break 2
  done </proc/net/tcp
  sleep 0.001
done
exec "$@"
"""


def bridged(command: Sequence[str], fds: LauncherFds) -> list[str]:
    """The command, run once socat bridges the jail's 127.0.0.1:3128 to the proxy."""
    script = _BRIDGE.format(
        started=fds.started, alive=fds.alive, port=PORT, socket=SOCKET_IN_JAIL, hex_port=f"{PORT:04X}"
    )
    return ["bash", "-c", script, "agentruns-egress-bridge", *command]
