"""What a sandbox raises when it cannot do what it was asked."""


class SandboxError(Exception):
    """The sandbox failed to start a command, or was used before `start` or after `stop`."""


class PathOutsideWorkspace(SandboxError):
    """A path names a file outside the workspace, directly, through `..` or through a symlink."""


class SandboxUnavailable(SandboxError):
    """No sandbox with the required isolation can be made on this machine; the message says how to fix it."""
