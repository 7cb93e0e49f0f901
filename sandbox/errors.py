"""Errors raised by the sandbox package.

SandboxError
└── BackendUnavailable          the backend cannot run at all (no daemon, no image)
    └── EnvironmentBuildError   the repository's environment image cannot be built
        ├── DeclarationError    a dependency declaration cannot be used
        └── ResolutionFailed    pip found no wheels for a requirement
"""


class SandboxError(Exception):
    """Base class: catch this to handle every failure of this package."""


class BackendUnavailable(SandboxError):
    """The requested backend cannot run; the message says how to make it work."""


class EnvironmentBuildError(BackendUnavailable):
    """An environment image cannot be built; the message gives the reason and the next step."""


class DeclarationError(EnvironmentBuildError):
    """A dependency declaration cannot be used; the message names the file and the line."""


class ResolutionFailed(EnvironmentBuildError):
    """pip could not resolve or download the wheels of a requirement."""

    def __init__(self, message: str, requirement: str | None, output: str) -> None:
        super().__init__(message)
        self.requirement = requirement  # the requirement pip named, when it named one
        self.output = output  # pip's standard output and error, in full
