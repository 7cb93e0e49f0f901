"""Small programs with one seeded bug each, for measuring the offline repair engine.

Each module of this package is one defect class and lists its programs. A
program is a module ``app/prog.py``, visible tests that the engine reads and
that fail because of the bug, and held-back tests that the engine never reads,
used only to tell a correct fix from one that overfits the visible tests.
Every program was written for this corpus.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Program:
    name: str
    module: str  # the text of app/prog.py, with the bug
    visible: str  # the text of tests/test_visible.py
    held_back: str  # the text of the held-back tests, never shown to the engine
    other_files: tuple[tuple[str, str], ...] = ()  # (path, text) of further modules
