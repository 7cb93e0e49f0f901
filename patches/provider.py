"""The seam between the kernel and whatever proposes patches."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from patches.types import Proposal, RepairRequest


class PatchProvider(Protocol):
    """Turns a repair request into candidate patches.

    ``root`` is the checkout the request refers to; providers read files from
    it and never write to it. ``limit`` caps the number of candidates.
    Providers report every failure as a :class:`~patches.types.Rejection`
    and raise only :class:`~patches.errors.ProviderError` for a problem that
    makes the provider unusable (for example, a missing model name).

    A provider with ``accepts_feedback`` true holds a conversation: it reads
    ``request.history`` and shows the model its earlier replies with what
    went wrong, so the kernel may ask it again for the same fault.
    """

    name: str
    accepts_feedback: bool

    def propose(self, request: RepairRequest, root: Path, limit: int) -> Proposal: ...
