"""Run a Python program and record its uncaught exception as JSON.

Usage: ``python bootstrap.py [--limit=NAME=VALUE...] SCRIPT [ARGS...]`` or
``python bootstrap.py [--limit=NAME=VALUE...] -m MODULE [ARGS...]``.

The program runs with ``runpy`` as ``__main__``, with ``sys.argv`` and
``sys.path`` set as ``python SCRIPT`` or ``python -m MODULE`` would set them.
When it raises an exception other than SystemExit and KeyboardInterrupt, and
the environment variable AGENTOS_CRASH_FILE names a file, the exception is
written there as one JSON object: type, message, and the frames (innermost
last) with path, line, function, source line and a summary of local
variables. Values of variables whose name suggests a secret are replaced by
``<redacted>``. The traceback is then printed and the exit status is 1, as
Python itself does. Frames under AGENTOS_CRASH_ROOT (default: the working
folder) get paths relative to it. AGENTOS_CRASH_FILE may also be ``fd:N``,
an inherited file descriptor, for a sandbox whose files are gone once it
stops: the record is then written there as one line, and the descriptor is
kept from the program and its children.

Each ``--limit=NAME=VALUE`` sets a resource limit before the program starts,
which its children inherit: ``as`` (bytes of address space), ``nproc``
(processes), ``fsize`` (bytes of one file) or ``cpu`` (seconds).

This file imports only the standard library, and it is run by path, so it can
be copied into a sandbox on its own. Both variables are removed from the
environment before the program starts, so its child processes do not see them.
"""

from __future__ import annotations

import json
import linecache
import os
import re
import runpy
import sys
import traceback
import types

CRASH_FILE_VARIABLE = "AGENTOS_CRASH_FILE"
ROOT_VARIABLE = "AGENTOS_CRASH_ROOT"
MAX_REPR = 200  # characters of one local variable's repr
MAX_LOCALS = 30  # local variables kept per frame
REDACTED = "<redacted>"
SECRET_NAME = re.compile(
    r"pass(word|wd|phrase)?|secret|token|api_?key|credential|auth|private|cookie|session",
    re.IGNORECASE,
)
LIMIT_OPTION = "--limit="
_LIMITS = {"as": "RLIMIT_AS", "nproc": "RLIMIT_NPROC", "fsize": "RLIMIT_FSIZE", "cpu": "RLIMIT_CPU"}
# Python 3.11 freezes runpy, so its frames name "<frozen runpy>" rather than a file.
_OWN_FILES = {os.path.abspath(__file__), os.path.abspath(runpy.__file__), "<frozen runpy>"}


def main(argv: list[str]) -> int:
    while argv and argv[0].startswith(LIMIT_OPTION):
        if not _apply_limit(argv.pop(0)[len(LIMIT_OPTION) :]):
            return 2
    if not argv or (argv[0] == "-m" and len(argv) < 2):
        sys.stderr.write(
            "usage: bootstrap.py [--limit=NAME=VALUE...] SCRIPT [ARGS...] | -m MODULE [ARGS...]\n"
        )
        return 2
    crash_file = _claim_descriptor(os.environ.pop(CRASH_FILE_VARIABLE, ""))
    root = os.path.abspath(os.environ.pop(ROOT_VARIABLE, "") or os.getcwd())

    # Python put this file's folder first on sys.path; the program must not see it.
    sys.path.pop(0)
    if argv[0] == "-m":
        module = argv[1]
        sys.argv = [module, *argv[2:]]
        sys.path.insert(0, os.getcwd())

        def run() -> None:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
    else:
        script = argv[0]
        sys.argv = list(argv)
        sys.path.insert(0, os.path.dirname(os.path.abspath(script)))

        def run() -> None:
            runpy.run_path(script, run_name="__main__")

    try:
        run()
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as error:  # every other uncaught exception is the crash to record
        traceback_start = _program_traceback(error.__traceback__)
        if crash_file:
            _write_record(crash_file, error, traceback_start, root)
        traceback.print_exception(type(error), error, traceback_start)
        return 1
    return 0


def _apply_limit(limit: str) -> bool:
    """Set one ``NAME=VALUE`` resource limit, never above the hard one; False when invalid."""
    import resource  # Unix only, and only needed with --limit

    name, _, value = limit.partition("=")
    if name not in _LIMITS or not value.isdigit():
        sys.stderr.write(f"bootstrap: invalid --limit {limit!r}: expected NAME=VALUE with NAME in ")
        sys.stderr.write(f"{sorted(_LIMITS)}\n")
        return False
    kind = getattr(resource, _LIMITS[name])
    _, hard = resource.getrlimit(kind)
    soft = int(value) if hard == resource.RLIM_INFINITY else min(int(value), hard)
    resource.setrlimit(kind, (soft, hard if hard != resource.RLIM_INFINITY else soft))
    return True


def _claim_descriptor(crash_file: str) -> str:
    """Turn ``fd:N`` into a private copy of N and close N, so the program cannot write there."""
    if not crash_file.startswith("fd:"):
        return crash_file
    descriptor = int(crash_file[3:])
    private = os.dup(descriptor)  # not inheritable: the program's children do not get it
    os.close(descriptor)
    return f"fd:{private}"


def _program_traceback(start: types.TracebackType | None) -> types.TracebackType | None:
    """Skip the frames of this file and of runpy at the top of the traceback."""
    while start is not None and _is_own(start.tb_frame.f_code.co_filename):
        start = start.tb_next
    return start


def _is_own(filename: str) -> bool:
    return filename in _OWN_FILES or os.path.abspath(filename) in _OWN_FILES


def _write_record(
    path: str, error: BaseException, start: types.TracebackType | None, root: str
) -> None:
    frames = []
    current = start
    while current is not None:
        frames.append(_frame(current.tb_frame, current.tb_lineno, root))
        current = current.tb_next
    record = {
        "exc_type": type(error).__qualname__,
        "module": type(error).__module__,
        "message": str(error),
        "frames": frames,
    }
    target: str | int = int(path[3:]) if path.startswith("fd:") else path
    try:
        with open(target, "w", encoding="utf-8") as stream:
            # One line, so that a reader of a shared stream can find it.
            stream.write(json.dumps(record) + "\n")
    except OSError as write_error:
        sys.stderr.write(f"bootstrap: cannot write the crash record to {path}: {write_error}\n")


def _frame(frame: types.FrameType, line: int, root: str) -> dict:
    filename = os.path.abspath(frame.f_code.co_filename)
    inside = filename.startswith(root + os.sep) and not any(
        part in ("site-packages", "dist-packages") for part in filename.split(os.sep)
    )
    return {
        "path": os.path.relpath(filename, root).replace(os.sep, "/") if inside else filename,
        "line": line,
        "function": frame.f_code.co_name,
        "source": linecache.getline(filename, line).strip(),
        "in_workspace": inside,
        "locals": _locals(frame),
    }


def _locals(frame: types.FrameType) -> dict[str, str]:
    summary: dict[str, str] = {}
    for name, value in list(frame.f_locals.items()):
        if len(summary) >= MAX_LOCALS:
            break
        if name.startswith("__") or isinstance(value, (types.ModuleType, types.FunctionType, type)):
            continue
        summary[name] = REDACTED if SECRET_NAME.search(name) else _short_repr(value)
    return summary


def _short_repr(value: object) -> str:
    try:
        text = repr(value)
    except Exception as error:  # a broken __repr__ must not hide the crash being recorded
        text = f"<repr failed: {type(error).__name__}>"
    return text if len(text) <= MAX_REPR else text[: MAX_REPR - 3] + "..."


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
