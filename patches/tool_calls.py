"""The optional edit tool: a function the model may call with its edits instead of writing them.

Tool calling is opt-in, because many OpenAI-compatible servers ignore
``tool_choice`` or mangle code inside JSON arguments. The tool's argument is
the same text a plain reply contains (SEARCH/REPLACE blocks or another
accepted format), so both paths share one parser, and a reply that does not
call the tool is read from its message text as usual.
"""

from __future__ import annotations

import json
import logging
from typing import Any

logger = logging.getLogger(__name__)

TOOL_NAME = "apply_edits"
EDIT_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": (
            "Apply edits to the repository. Pass the explanation and the SEARCH/REPLACE blocks "
            "exactly as they would appear in a plain reply."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "edits": {
                    "type": "string",
                    "description": "One or more SEARCH/REPLACE blocks, each after its file path.",
                }
            },
            "required": ["edits"],
        },
    },
}


def reply_text(message: object) -> str:
    """Return the edits of a message: the edit tool's argument when it is usable, else the text."""
    content = getattr(message, "content", None)
    text = content if isinstance(content, str) else ""
    for call in getattr(message, "tool_calls", None) or ():
        function = getattr(call, "function", None)
        if getattr(function, "name", None) != TOOL_NAME:
            continue
        arguments = getattr(function, "arguments", None)
        try:
            edits = json.loads(arguments).get("edits") if isinstance(arguments, str) else None
        except (ValueError, AttributeError) as error:
            logger.info("ignoring an %s call with invalid arguments: %s", TOOL_NAME, error)
            continue
        if isinstance(edits, str) and edits.strip():
            return f"{text}\n\n{edits}" if text.strip() else edits
    return text
