"""Errors raised by the sandbox package.

SandboxError
└── BackendUnavailable   the backend cannot run at all (no daemon, no image)
"""


class SandboxError(Exception):
    """Base class: catch this to handle every failure of this package."""


class BackendUnavailable(SandboxError):
    """The requested backend cannot run; the message says how to make it work."""
