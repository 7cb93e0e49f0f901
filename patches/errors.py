"""Errors raised by the patches package.

PatchError
├── ProviderError   the provider cannot work (configuration, endpoint down)
└── EditError       an edit cannot be applied or breaks a guard
"""


class PatchError(Exception):
    """Base class: catch this to handle every failure of this package."""


class ProviderError(PatchError):
    """A provider cannot be used as configured; the message says what to change."""


class EditError(PatchError):
    """An edit could not be applied, or the result breaks a guard."""
