"""How often the grader names the cause: over every corpus mistake (``tests/mistakes``) and a few seeds, the share
whose FIRST failing check already gives the mistake's own message, rather than a generic hint ("wrong values",
"compare with the numerical gradient") or another mistake's message.

    python bench/cause_naming.py [--seeds 5] [--json bench/results/cause_naming.json]

Grades in this process (``tests/inprocess.py``: no sandbox, the course's own code only). Prints one line per
mistake whose first message is not its own, then the share overall and per assignment, and writes them as JSON.
"""
import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import inprocess  # noqa: E402


def measure(seeds):
    """{assignment: [named, graded]} over the corpus and ``seeds``, and the (mistake id, first message) misses."""
    counts, misses = defaultdict(lambda: [0, 0]), []
    for assignment, name, mistake in inprocess.corpus():
        notebook = inprocess.notebook_of(assignment, name)
        namespace = notebook.with_answer(mistake["cell"], mistake["code"])
        for seed in seeds:
            first = inprocess.first_failure(inprocess.grade_cell(notebook, namespace, mistake["test_cell"], seed))
            named = mistake["message"] in first
            counts[assignment][0] += named
            counts[assignment][1] += 1
            if not named:
                misses.append((mistake["id"], seed, first))
    return dict(counts), misses


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    counts, misses = measure(range(args.seeds))
    for mistake_id, seed, first in misses:
        print(f"not named: {mistake_id} (seed {seed}): {first[:150]}")
    named, graded = (sum(c[i] for c in counts.values()) for i in (0, 1))
    result = {"seeds": args.seeds, "mistakes": graded // args.seeds, "named": named, "graded": graded,
              "share": round(named / graded, 4),
              "by_assignment": {a: round(n / g, 4) for a, (n, g) in sorted(counts.items())}}
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
