"""Watch mode: check a repository while it is edited, and heal faults that stay.

After each burst of saves the changed files are linted and the tests that
import them run in the sandbox; once the repository has been quiet for a
while the whole suite runs. Checks run on the working tree (``HEAD`` with the
changed and untracked Python files laid over it), so they see the edits.

A fault is healed only when two consecutive runs show it with no edit between
them, so a half-typed line is left alone. A fault whose heal was attempted is
not attempted again until the code it points at changes, and a test that is
flaky in the history is never patched. Heals commit to HEAD as ``agentos
heal`` does: on the current branch when the tree is clean, else on a new
branch (see :func:`kernel.runner.heal_faults`). A change whose content is
what the tool's own commit wrote is not a change to react to.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import watchfiles

from kernel import lint
from kernel.anomalies import find_anomalies, flaky_tests
from kernel.checks import usable_baseline
from kernel.config import Settings
from kernel.errors import KernelError
from kernel.faults import Fault, file_reader, lint_faults, test_faults
from kernel.gitops import Repository
from kernel.import_graph import IGNORED_FOLDERS, affected_tests
from kernel.providers import build_providers
from kernel.run_history import record_test_run, tree_id
from kernel.runner import heal_faults
from kernel.watch_events import Event, EventReporter, EventSink, fault_event
from kernel.worktree_apply import working_snapshot
from patches.context import symbol_source
from patches.errors import EditError
from patches.provider import PatchProvider
from patches.types import FaultKind
from sandbox.backend import RunPlan, SandboxBackend
from sandbox.docker_backend import sweep_leftovers
from sandbox.errors import BackendUnavailable
from sandbox.selection import open_backend

logger = logging.getLogger(__name__)

_ABSENT = object()  # a path the tool has not written


@dataclass(frozen=True)
class WatchOptions:
    debounce_ms: int = 500  # saves closer together than this are one change
    quiet_seconds: float = 10.0  # the full suite runs after this long without edits
    max_cycles: int | None = None  # stop after this many check runs; None watches until stopped
    heal: bool = True  # False only reports faults
    no_verify: bool = False  # skip the repository's commit hooks on fixes


class WatchSession:
    """The state of watch mode between events; :func:`run_watch` feeds it from watchfiles."""

    def __init__(
        self,
        repository: Repository,
        settings: Settings,
        backend: SandboxBackend,
        providers: list[PatchProvider],
        sink: EventSink,
        options: WatchOptions,
    ) -> None:
        self.repository = repository
        self.root = repository.root
        self.settings = settings
        self.backend = backend
        self.providers = providers
        self.sink = sink
        self.options = options
        self.runs = 0  # check runs so far
        self._previous: dict[str, Fault] | None = None  # faults of the last run; None after an edit
        self._attempted: dict[str, str] = {}  # fault id -> hash of its code when last attempted
        self._own_writes: dict[str, bytes | None] = {}  # path -> what the tool's commit wrote
        self._full_due = True  # the full suite has not run since the last edit
        self._pending = False  # the last run found faults that a second run must confirm
        self._branch: str | None = None  # the separate branch of the current heal, if any
        self._anomalies_shown: set[tuple[str, str, str]] = set()

    def on_changes(self, paths: Iterable[str]) -> bool:
        """Check after a burst of changes; return False when every change was the tool's own."""
        changed = []
        deleted = set(self.repository.dirty_paths())
        for path in sorted(set(paths)):
            target = self.root / path
            current = target.read_bytes() if target.is_file() else None
            if self._own_writes.get(path, _ABSENT) == current:
                continue
            if current is None and path not in deleted:
                continue  # a temporary file, written and renamed or removed already
            self._own_writes.pop(path, None)
            changed.append(path)
        if not changed:
            self.sink.emit(Event("ignored", "the only changes are the tool's own commit"))
            return False

        self.sink.emit(Event("change", ", ".join(changed), {"paths": changed}))
        self._previous = None  # an edit breaks the run of sightings
        self._full_due = True
        self._check(changed)
        return True

    def on_quiet(self) -> bool:
        """Run the full suite when it is due; return whether a check ran."""
        if not (self._full_due or self._pending):
            return False
        self._check(None)
        return True

    def check_all(self) -> None:
        self._check(None)

    def _check(self, changed: list[str] | None) -> None:
        snapshot = working_snapshot(self.repository)
        if changed is None:
            diagnostics = lint.check_tree(self.root)
            plan: RunPlan | None = RunPlan(full_suite=True, timeout=self.settings.test_timeout)
            scope = "full suite"
        else:
            sources = [path for path in changed if path.endswith(".py")]
            diagnostics = lint.check_paths(
                self.root, [p for p in sources if (self.root / p).is_file()]
            )
            targets = affected_tests(self.root, changed)
            plan = _targeted_plan(targets, self.settings.test_timeout)
            scope = "full suite" if targets is None else f"{len(targets)} test file(s)"

        run = self.backend.run(snapshot, plan) if plan is not None else None
        faults = lint_faults(diagnostics, file_reader(self.root))
        if run is not None:
            faults += test_faults(run, self.root)
            record_test_run(self.root, run, tree_id(snapshot), "watch")
        self.runs += 1
        self._report_run(scope, run, faults)
        if changed is None:
            self._full_due = False
            self._report_anomalies()

        previous = self._previous or {}
        confirmed = [fault for fault in faults if fault.id in previous]
        for fault in faults:
            self.sink.emit(fault_event(fault, 2 if fault.id in previous else 1))
        self._previous = {fault.id: fault for fault in faults}
        self._pending = any(fault.id not in previous for fault in faults)
        if confirmed and self.options.heal:
            self._heal(confirmed)

    def _report_run(self, scope: str, run, faults: list[Fault]) -> None:
        lint_count = sum(1 for fault in faults if fault.kind is FaultKind.LINT)
        data = {"scope": scope, "lint": lint_count, "passed": 0, "failed": 0}
        if run is not None:
            data.update(passed=len(run.passed()), failed=len(run.failed()))
            problem = usable_baseline(run)
            if problem is not None:
                self.sink.emit(Event("error", problem.replace(" on the unpatched code", "")))
        tests = f"{data['passed']} passed, {data['failed']} failed" if run else "no tests affected"
        text = f"ruff: {lint_count} finding(s); {scope}: {tests}"
        self.sink.emit(Event("checks", text, data))

    def _report_anomalies(self) -> None:
        for anomaly in find_anomalies(self.root):
            key = (anomaly.kind.value, anomaly.subject, anomaly.detail)
            if key in self._anomalies_shown:
                continue
            self._anomalies_shown.add(key)
            data = {"anomaly": anomaly.kind.value, "subject": anomaly.subject}
            self.sink.emit(Event("anomaly", f"{anomaly.subject}: {anomaly.detail}", data))

    def _heal(self, confirmed: list[Fault]) -> None:
        flaky = flaky_tests(self.root)
        chosen = []
        for fault in confirmed:
            code = self._code_hash(fault)
            if self._attempted.get(fault.id) == code:
                continue  # tried on this very code already
            self._attempted[fault.id] = code
            if fault.test_id is not None and fault.test_id in flaky:
                text = (
                    f"{fault.test_id} is flaky (it passed and failed on the same tree): not patched"
                )
                self.sink.emit(Event("skip", text, {"fault": fault.id, "reason": "flaky"}))
                continue
            chosen.append(fault)
        if not chosen:
            return

        ids = {fault.id for fault in chosen}
        self.sink.emit(
            Event("heal", f"healing {len(chosen)} confirmed fault(s)", {"faults": sorted(ids)})
        )
        head_before = self.repository.head()
        self._branch = None
        try:
            report = heal_faults(
                self.repository,
                self.settings,
                self.backend,
                self.providers,
                EventReporter(self.sink),
                lambda fault: fault.id in ids,
                no_verify=self.options.no_verify,
                on_branch=self._announce_branch,
            )
        except KernelError as error:
            self.sink.emit(Event("error", f"the heal failed: {error}"))
            return

        handled = {outcome.fault.id for outcome in report.outcomes}
        for fault in chosen:
            if fault.id in handled:
                continue
            if self._branch is not None:
                text = (
                    f"{fault.id} is only in uncommitted changes, and fixes for a dirty tree "
                    "are made on HEAD: not healed"
                )
                self.sink.emit(Event("skip", text, {"fault": fault.id, "reason": "uncommitted"}))
            else:
                text = f"{fault.id} is gone after the other fixes"
                self.sink.emit(Event("outcome", text, {"fault": fault.id, "status": "gone"}))
        if self.repository.head() != head_before:
            for path in self.repository.changed_paths(head_before):
                target = self.root / path
                self._own_writes[path] = target.read_bytes() if target.is_file() else None

    def _announce_branch(self, branch: str) -> None:
        self._branch = branch
        text = (
            f"the tree has uncommitted changes, so fixes go on the new branch {branch}; "
            "your files are not touched"
        )
        self.sink.emit(Event("branch", text, {"branch": branch}))

    def _code_hash(self, fault: Fault) -> str:
        """Hash the code a fault points at: its enclosing symbol, else its whole file."""
        if fault.location is None:
            return ""
        source = file_reader(self.root)(fault.location.path) or ""
        text = source
        if fault.location.symbol:
            try:
                text = symbol_source(source, fault.location.symbol, fault.location.path) or source
            except EditError:
                text = source
        return hashlib.sha256(text.encode()).hexdigest()


def _targeted_plan(targets: list[str] | None, timeout: float) -> RunPlan | None:
    if targets is None:
        return RunPlan(full_suite=True, timeout=timeout)
    if not targets:
        return None
    return RunPlan(targets=tuple(targets), full_suite=False, timeout=timeout)


class WatchFilter(watchfiles.DefaultFilter):
    """Ignores git and tool folders, virtual environments, caches and build output."""

    ignore_dirs = tuple(sorted(set(watchfiles.DefaultFilter.ignore_dirs) | IGNORED_FOLDERS))

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def __call__(self, change: watchfiles.Change, path: str) -> bool:
        if not super().__call__(change, path):
            return False
        try:
            parts = Path(path).relative_to(self.root).parts
        except ValueError:
            return False
        folder = self.root
        for part in parts[:-1]:
            folder = folder / part
            # A virtual environment may have any name; its pyvenv.cfg gives it away.
            if part.endswith(".egg-info") or (folder / "pyvenv.cfg").exists():
                return False
        return True


def run_watch(
    path: Path,
    settings: Settings,
    options: WatchOptions,
    sink: EventSink,
    stop_event: threading.Event | None = None,
) -> int:
    """Watch the repository at ``path`` until Ctrl-C, ``stop_event`` or ``options.max_cycles``."""
    repository = Repository.open(path)
    providers = build_providers(settings)
    try:
        backend = open_backend(settings.sandbox, settings.image, repository.root)
    except BackendUnavailable as error:
        repository.close()
        raise KernelError(str(error)) from error
    if backend.name == "docker":
        sweep_leftovers()

    try:
        session = WatchSession(repository, settings, backend, providers, sink, options)
        sink.emit(Event("start", f"watching {repository.root} with the {backend.name} sandbox"))
        session.check_all()
        _loop(session, options, stop_event)
    finally:
        backend.close()
        repository.close()
        sink.emit(Event("stop", "stopped watching"))
    return 0


def _loop(session: WatchSession, options: WatchOptions, stop_event: threading.Event | None) -> None:
    def finished() -> bool:
        return options.max_cycles is not None and session.runs >= options.max_cycles

    if finished():
        return
    last_activity = time.monotonic()
    changes_stream = watchfiles.watch(
        session.root,
        watch_filter=WatchFilter(session.root),
        debounce=options.debounce_ms,
        stop_event=stop_event,
        rust_timeout=int(min(options.quiet_seconds, 1.0) * 1000) or 100,
        yield_on_timeout=True,
    )
    for changes in changes_stream:
        paths = {Path(changed).relative_to(session.root).as_posix() for _, changed in changes}
        if paths:
            if session.on_changes(paths):
                last_activity = time.monotonic()
        elif time.monotonic() - last_activity >= options.quiet_seconds:
            if session.on_quiet():
                last_activity = time.monotonic()
        if finished():
            return
