"""A verification that cannot run after the fix is committed: the error names the commit."""

from __future__ import annotations

import pytest

from kernel.config import load_settings
from kernel.console import Reporter
from kernel.errors import KernelError
from kernel.runner import HealOptions, run_heal
from sandbox.errors import SandboxError
from tests.conftest import git

CALC = "import os\n\n\ndef one():\n    return 1\n"
TEST_CALC = "from calc import one\n\n\ndef test_one():\n    assert one() == 1\n"


class FailingVerifyReporter(Reporter):
    """Reporter that raises a sandbox error when verification starts, as a dead daemon would."""

    def __init__(self) -> None:
        super().__init__(quiet=True)

    def step(self, phase: str, text: str) -> None:
        if phase == "verify":
            raise SandboxError("the Docker daemon stopped responding")
        super().step(phase, text)


def test_verify_error_names_kept_commit(make_repo):
    root = make_repo({"calc.py": CALC, "test_calc.py": TEST_CALC})
    start = git(root, "rev-parse", "HEAD").strip()
    settings = load_settings(root, {"sandbox": "local", "provider": "offline"})

    with pytest.raises(KernelError) as raised:
        run_heal(root, settings, HealOptions(), FailingVerifyReporter())

    head = git(root, "rev-parse", "HEAD").strip()
    assert head != start
    message = str(raised.value)
    assert "the Docker daemon stopped responding" in message
    assert f"Fix commit {head[:12]}" in message
    assert f"git revert {head[:12]}" in message
    assert git(root, "status", "--porcelain") == ""
