"""From one model reply to one candidate patch: the checks every reply goes through.

The order matters. A reply cut off at the token limit is rejected before
anything in it is read, because a half-written block can still match and
apply. Then the edits are applied (:mod:`patches.reply_formats`) and every
edited Python file must compile.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection
from pathlib import Path

from patches.diff import make_candidate
from patches.errors import EditError
from patches.reply_formats import apply_reply
from patches.types import Candidate


def candidate_from_reply(
    text: str | None,
    root: Path,
    *,
    provider: str,
    model: str | None,
    finish_reason: str | None = "stop",
    allowed: Collection[str] | None = None,
) -> Candidate:
    """Turn a reply into a candidate, or raise EditError with the reason it cannot be one."""
    if finish_reason == "length":
        raise EditError(
            "the reply was cut off at the token limit (finish_reason 'length'), so its edits "
            "may be incomplete."
        )
    if finish_reason == "content_filter":
        raise EditError("the endpoint's content filter stopped the reply")
    if not isinstance(text, str) or not text.strip():
        raise EditError("the reply is empty")

    applied = apply_reply(text, root, allowed)
    candidate = make_candidate(provider, model, reply_summary(text), applied.changes)
    for edit in candidate.edits:
        if edit.path.endswith(".py"):
            check_compiles(edit.path, edit.after)
    return candidate


def reply_summary(text: str) -> str:
    """Use the model's first line of prose, before any edit, as the candidate's summary."""
    head = text.split("<<<<<<<", 1)[0].split("```", 1)[0].splitlines()
    prose = [line.strip().strip("#*` ") for line in head if line.strip()]
    prose = [line for line in prose if line and not line.startswith(("~~~", "---", "+++", "@@"))]
    if prose and ("/" in prose[-1] or prose[-1].endswith(".py")) and " " not in prose[-1]:
        prose = prose[:-1]  # the last line before the first edit is its path
    return prose[0][:160] if prose else "patch proposed by the model"


def check_compiles(path: str, text: str) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for odd escapes is not a rejection
            compile(text, path, "exec", dont_inherit=True)
    except SyntaxError as error:
        raise EditError(
            f"{path} does not compile after the patch, at line {error.lineno}: {error.msg}"
        ) from error
    except ValueError as error:
        raise EditError(f"{path} does not compile after the patch: {error}") from error
