"""Measure what the Docker sandbox costs against running pytest directly.

Two figures, from one run of this script:

1. Overhead. A generated repository with about 200 tests runs directly with
   ``python -m pytest`` on the host and through the Docker sandbox, alternating,
   ``--rounds`` times each. Prints the median of each, their ratio, and
   whether the sandbox stays within 1 s + 15 % of the direct run.
2. Throughput. Eight candidates (the repository with one file changed each)
   are validated one after another, then in parallel through the validation
   pool, alternating. Prints the median time of each and the speed-up.

Usage: python bench/sandbox_overhead.py [--image TAG] [--rounds N] [--tests N]
Needs a Docker daemon and the sandbox image (sandbox/image/build-base.sh).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox.backend import RunPlan  # noqa: E402
from sandbox.docker_backend import DockerBackend  # noqa: E402
from sandbox.pool import first_accepted  # noqa: E402
from sandbox.results import RunStatus, TestRun  # noqa: E402
from sandbox.workspace import Snapshot  # noqa: E402

TESTS_PER_MODULE = 10
CANDIDATES = 8


def generate_repository(root: Path, tests: int) -> None:
    """Write a package and ``tests`` small tests spread over modules of ten."""
    (root / "shapes").mkdir()
    (root / "shapes" / "__init__.py").write_text("")
    (root / "shapes" / "area.py").write_text(
        "import math\n\n\ndef square(side):\n    return side * side\n\n\n"
        "def circle(radius):\n    return math.pi * radius * radius\n"
    )
    (root / "tests").mkdir()
    for module in range(max(tests // TESTS_PER_MODULE, 1)):
        lines = ["import math\n", "from shapes.area import circle, square\n"]
        for index in range(TESTS_PER_MODULE):
            value = module * TESTS_PER_MODULE + index
            lines.append(
                f"\ndef test_square_{index}():\n    assert square({value}) == {value * value}\n"
                if index % 2 == 0
                else f"\ndef test_circle_{index}():\n"
                f"    assert math.isclose(circle({value}), math.pi * {value} ** 2)\n"
            )
        (root / "tests" / f"test_shapes_{module:03d}.py").write_text("".join(lines))


def snapshot_of(root: Path) -> Snapshot:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path in sorted(root.rglob("*")):
            if "__pycache__" not in path.parts:
                archive.add(path, arcname=str(path.relative_to(root)), recursive=False)
    return Snapshot(buffer.getvalue())


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def run_direct(root: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        capture_output=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the direct run failed:\n{done.stdout.decode()[-2000:]}")


def run_sandboxed(backend: DockerBackend, snapshot: Snapshot) -> TestRun:
    run = backend.run(snapshot, RunPlan(full_suite=True, timeout=300))
    if run.status is not RunStatus.COMPLETED or run.failed():
        raise SystemExit(f"the sandbox run failed: {run.status.value} {run.detail}")
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="agentos-sandbox:latest", help="sandbox image tag")
    parser.add_argument("--rounds", type=int, default=7, help="runs of each kind (default 7)")
    parser.add_argument("--tests", type=int, default=200, help="tests to generate (default 200)")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="parallel validations at once (default: the backend's parallel_limit())",
    )
    options = parser.parse_args()
    if options.workers is not None and options.workers < 1:
        parser.error(f"invalid --workers {options.workers}: it must be at least 1")

    with tempfile.TemporaryDirectory(prefix="agentos-bench-") as folder:
        root = Path(folder)
        generate_repository(root, options.tests)
        snapshot = snapshot_of(root)
        backend = DockerBackend(options.image)
        try:
            collected = len(run_sandboxed(backend, snapshot).tests)  # also warms the page cache
            run_direct(root)
            measure_overhead(backend, snapshot, root, options.rounds, collected)
            measure_throughput(backend, snapshot, options.rounds, options.workers)
        finally:
            backend.close()
    return 0


def measure_overhead(
    backend: DockerBackend, snapshot: Snapshot, root: Path, rounds: int, collected: int
) -> None:
    direct, sandboxed = [], []
    for _ in range(rounds):
        direct.append(timed(lambda: run_direct(root)))
        sandboxed.append(timed(lambda: run_sandboxed(backend, snapshot)))
    direct_median = statistics.median(direct)
    sandbox_median = statistics.median(sandboxed)
    budget = 1.0 + 1.15 * direct_median
    print(f"suite: {collected} tests, {rounds} alternating rounds")
    print(f"direct pytest   median {direct_median:6.2f} s")
    print(f"docker sandbox  median {sandbox_median:6.2f} s")
    print(
        f"ratio {sandbox_median / direct_median:.2f}; overhead "
        f"{sandbox_median - direct_median:.2f} s; goal <= {budget:.2f} s: "
        f"{'met' if sandbox_median <= budget else 'missed'}"
    )


def measure_throughput(
    backend: DockerBackend, snapshot: Snapshot, rounds: int, workers: int | None = None
) -> None:
    candidates = [
        snapshot.with_overlay({"shapes/version.py": f"VERSION = {index}\n".encode()})
        for index in range(CANDIDATES)
    ]
    if workers is None:
        workers = backend.parallel_limit()

    def serial() -> None:
        for candidate in candidates:
            run_sandboxed(backend, candidate)

    def parallel() -> None:
        # Nothing is accepted, so every candidate runs, as in a fault no candidate fixes.
        first_accepted(
            candidates,
            lambda candidate: run_sandboxed(backend, candidate),
            lambda run: False,
            workers=workers,
            cancel=backend.cancel,
        )

    serial_times, parallel_times = [], []
    for _ in range(max(rounds // 2, 1)):
        serial_times.append(timed(serial))
        parallel_times.append(timed(parallel))
    serial_median = statistics.median(serial_times)
    parallel_median = statistics.median(parallel_times)
    speedup = serial_median / parallel_median
    print(f"{CANDIDATES} candidates, {workers} workers, {len(serial_times)} alternating rounds")
    print(f"serial          median {serial_median:6.2f} s")
    print(f"parallel        median {parallel_median:6.2f} s")
    verdict = "met" if speedup >= 1.6 else "missed"
    print(f"throughput {speedup:.2f}x serial; goal >= 1.6x: {verdict}")


if __name__ == "__main__":
    sys.exit(main())
