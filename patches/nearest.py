"""The real text nearest to a quote that matched nowhere, for the "did you mean" feedback.

The nearest text is only ever shown to the model, never applied.
"""

from __future__ import annotations

import difflib
import re

# A line that stands for left-out code: "...", "# ...", "# ... rest unchanged ...", "…".
ELISION = re.compile(r"^\s*(#\s*)?(\.\.\.|…)(\s*\S.*)?$")
_MAX_WINDOWS = 5000  # windows compared by the nearest-text search, more than most files have
_NEAREST_MIN_SCORE = 0.3  # below this similarity no line is shown as "most similar"


def no_match_message(path: str, source: list[str], search: list[str]) -> str:
    message = (
        f"the SEARCH section for {path} does not match the file. SEARCH must copy "
        "existing lines exactly."
    )
    nearest = nearest_window(source, search)
    if nearest is None:
        return message
    start, end = nearest
    shown = "\n".join(source[start:end])
    return f"{message} The most similar lines are {start + 1}-{end}:\n{shown}"


def nearest_window(
    source: list[str], search: list[str], min_score: float = _NEAREST_MIN_SCORE
) -> tuple[int, int] | None:
    """Return the [start, end) line range of ``source`` most similar to ``search``."""
    search = [line for line in search if not ELISION.match(line)]
    if not source or not search:
        return None
    size = min(len(search), len(source))
    wanted = "\n".join(line.strip() for line in search)
    matcher = difflib.SequenceMatcher(None, autojunk=False)
    matcher.set_seq2(wanted)
    best_score = 0.0
    best_start = 0
    for start in range(min(len(source) - size + 1, _MAX_WINDOWS)):
        matcher.set_seq1("\n".join(line.strip() for line in source[start : start + size]))
        # The cheap upper bounds skip most windows before the full comparison.
        if matcher.real_quick_ratio() <= best_score or matcher.quick_ratio() <= best_score:
            continue
        score = matcher.ratio()
        if score > best_score:
            best_score, best_start = score, start
    if best_score < min_score:
        return None
    return best_start, best_start + size
