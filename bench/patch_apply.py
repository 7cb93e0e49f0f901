"""Measure how well the edit engine turns the reply corpus into correct edits.

Run from the repository root::

    python bench/patch_apply.py [--repeat N]

Prints the share of applicable replies applied correctly, the number of
wrong applications (a reply applied with a result other than the expected
file, or applied when it should have been rejected), the share of the other
replies rejected with the expected reason, and the median time per reply.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.reply_corpus import REPOSITORY, load_cases, run_case  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per reply for the timing")
    arguments = parser.parse_args()

    cases = load_cases()
    applicable = [case for case in cases if case.expect == "applied"]
    correct, wrong, rejected_right = 0, [], 0
    seconds: list[float] = []
    for case in cases:
        results = [run_case(case) for _ in range(max(1, arguments.repeat))]
        seconds.append(statistics.median(result.seconds for result in results))
        result = results[0]
        if case.expect == "applied":
            if result.applied and result.files == case.expected_files(REPOSITORY):
                correct += 1
            elif result.applied:
                wrong.append(case.name)
        elif result.applied:
            wrong.append(case.name)
        elif any(case.reason in reason for reason in result.reasons):
            rejected_right += 1

    rejectable = len(cases) - len(applicable)
    print(f"replies:                       {len(cases)}")
    print(
        f"applicable, applied correctly: {correct}/{len(applicable)} "
        f"({100 * correct / max(1, len(applicable)):.1f}%)"
    )
    print(f"wrong applications:            {len(wrong)} {' '.join(wrong)}".rstrip())
    print(f"rejected with expected reason: {rejected_right}/{rejectable}")
    print(f"median time per reply:         {1000 * statistics.median(seconds):.2f} ms")
    return 0 if not wrong and correct == len(applicable) else 1


if __name__ == "__main__":
    raise SystemExit(main())
