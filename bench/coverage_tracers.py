"""Time the per-test coverage plugin with sys.settrace against sys.monitoring.

Runs one small generated suite (loops in workspace code, called from many
tests) with pytest three ways: without coverage, with the plugin forced to
``sys.settrace``, and with the plugin on ``sys.monitoring``. Each way runs
``--repeat`` times and the median wall-clock time is printed, with the
coverage overhead of each tracer and their ratio. It also checks that both
tracers record the same lines.

``sys.monitoring`` needs Python 3.12 or later, with pytest installed:

    python bench/coverage_tracers.py --python /path/to/python3.12 [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox import coverage_plugin  # noqa: E402
from sandbox.coverage_plugin import read_coverage  # noqa: E402

WORK = """\
def primes(limit):
    found = []
    for number in range(2, limit):
        is_prime = True
        for divisor in found:
            if divisor * divisor > number:
                break
            if number % divisor == 0:
                is_prime = False
                break
        if is_prime:
            found.append(number)
    return found


def collatz_steps(start):
    steps = 0
    while start != 1:
        start = start // 2 if start % 2 == 0 else 3 * start + 1
        steps += 1
    return steps
"""

TEST_TEMPLATE = """\
from app.work import collatz_steps, primes


def test_primes_{index}():
    assert len(primes(20000 + {index})) > 2000


def test_collatz_{index}():
    assert sum(collatz_steps(n) for n in range(1, 3000)) > 0
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter, 3.12 or later")
    parser.add_argument("--repeat", type=int, default=3, help="runs per way (default 3)")
    parser.add_argument("--tests", type=int, default=20, help="test files to write, two tests each")
    options = parser.parse_args()
    version = subprocess.run(
        [options.python, "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if tuple(int(part) for part in version.split(".")[:2]) < (3, 12):
        parser.error(f"{options.python} is Python {version}; sys.monitoring needs 3.12 or later")

    with tempfile.TemporaryDirectory(prefix="agentos-tracers-") as folder:
        root = Path(folder) / "work"
        write_suite(root, options.tests)
        plugins = Path(folder) / "plugins"
        plugins.mkdir()
        shutil.copy(coverage_plugin.__file__, plugins / f"{coverage_plugin.MODULE_NAME}.py")

        ways = {"no coverage": None, "settrace": "settrace", "monitoring": "monitoring"}
        seconds: dict[str, float] = {}
        lines: dict[str, dict] = {}
        for label, tracer in ways.items():
            times = []
            for _ in range(options.repeat):
                elapsed, coverage = run_suite(options.python, root, plugins, tracer)
                times.append(elapsed)
            seconds[label] = statistics.median(times)
            if coverage is not None:
                lines[label] = coverage

    print(
        f"coverage plugin on Python {version}, {2 * options.tests} tests, "
        f"median of {options.repeat} run(s) each"
    )
    for label, value in seconds.items():
        print(f"  {label:<12} {value:7.2f} s")
    base = seconds["no coverage"]
    for label in ("settrace", "monitoring"):
        print(f"  {label} overhead: {seconds[label] / base:5.2f}x the run without coverage")
    print(f"  settrace / monitoring: {seconds['settrace'] / seconds['monitoring']:5.2f}x")
    recorded = len(lines.get("monitoring") or {})
    same = recorded == 2 * options.tests and lines.get("settrace") == lines.get("monitoring")
    print(f"  tests with coverage: {recorded}; both tracers record the same lines: {same}")
    return 0 if same else 1


def write_suite(root: Path, tests: int) -> None:
    (root / "app").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "work.py").write_text(WORK)
    for index in range(tests):
        text = TEST_TEMPLATE.format(index=index)
        (root / "tests" / f"test_work_{index}.py").write_text(textwrap.dedent(text))


def run_suite(
    python: str, root: Path, plugins: Path, tracer: str | None
) -> tuple[float, dict | None]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("AGENTOS_")
    }
    environment["PYTHONPATH"] = str(plugins)
    environment["PYTHONDONTWRITEBYTECODE"] = "1"
    output = root.parent / "coverage.jsonl"
    output.unlink(missing_ok=True)
    if tracer is not None:
        environment["PYTEST_PLUGINS"] = coverage_plugin.MODULE_NAME
        environment[coverage_plugin.COVERAGE_VARIABLE] = str(output)
        environment[coverage_plugin.TRACER_VARIABLE] = tracer
    command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
    started = time.perf_counter()
    subprocess.run(command, cwd=root, env=environment, capture_output=True, check=True)
    elapsed = time.perf_counter() - started
    coverage = read_coverage(output.read_text()).lines if tracer is not None else None
    return elapsed, coverage


if __name__ == "__main__":
    raise SystemExit(main())
