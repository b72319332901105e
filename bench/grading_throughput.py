"""Grading throughput on a mixed class of all five assignments: this grader against the one before bubblewrap,
without a sandbox, and against nbgrader's own serial CLI, all in one run on this machine.

    python bench/grading_throughput.py [--students 4] [--jobs 2] [--repeat 3] [--baseline COMMIT]

Every student hands in every assignment: a third perfect, some blank, the rest one corpus mistake each. Timed,
interleaved in each repeat so that the machine's load falls on all alike (medians are reported):

- ``sandbox``: ``python -m autograder grade --jobs N``, as shipped (bubblewrap, the course's answers switched off);
- ``sandbox_guard_off``: the same with nothing switched off (``autograder.guard.OFF_LIMITS`` emptied), which
  isolates the cost of the sandbox itself: with the guard on, demonstration cells that use the course's code
  (04's and 05's quick training runs) stop at once, so the shipped grader also does less work;
- ``no_sandbox``: ``--no-sandbox``;
- ``baseline``: the grader of ``--baseline`` (default ``169d2e9``, the last commit with the ctypes namespace
  sandbox) from a git worktree, same Python, same helpers;
- ``nbgrader``: ``nbgrader autograde`` + ``generate_feedback``, serial, per assignment, no sandbox (scores from
  inside the kernel).

Prints a table and writes bench/results/grading_throughput.json.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from autograder.course import NOTEBOOKS, SOLUTIONS, assignments  # noqa: E402
from conftest import load_mistakes  # noqa: E402
from studentwork import fill_release, write_submission  # noqa: E402

BIN = Path(sys.executable).parent
GUARD_OFF = ("import sys, autograder.guard as g; g.OFF_LIMITS.clear(); from autograder.cli import main; "
             "sys.exit(main(sys.argv[1:]))")


def make_class(root, students):
    """``students`` students x every assignment; returns the number of notebooks."""
    corpus = load_mistakes()
    count = 0
    for assignment in assignments():
        for path in sorted((NOTEBOOKS / assignment).glob("*.ipynb")):
            source = SOLUTIONS / assignment / path.name
            mistakes = [m for _, a, nb, m in corpus if a == assignment and nb == path.stem]
            for i in range(students):
                if i % 3 == 0:
                    nb = fill_release(path, source)
                elif i % 3 == 1 and i % 2 == 1:
                    nb = nbformat.read(path, as_version=4)
                else:
                    m = mistakes[i % len(mistakes)]
                    nb = fill_release(path, source, replace={m["cell"]: m["code"]})
                folder = write_submission(root, f"student{i:03d}", assignment, {path.stem: nb})
                if i % 3 == 0:
                    for handed_in in (SOLUTIONS / assignment).glob("*.npz"):
                        shutil.copyfile(handed_in, folder / handed_in.name)
                count += 1
    return count


def time_nbgrader(subs, course):
    """Serial nbgrader CLI (autograde + generate_feedback) in a plain course folder, one assignment at a time."""
    shutil.rmtree(course, ignore_errors=True)
    shutil.copytree(SOLUTIONS, course / "source", ignore=shutil.ignore_patterns("*.npz"))
    shutil.copytree(subs, course / "submitted")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'convnets'\n"
        "c.Execute.timeout = 60\nc.OverwriteCells.add_missing_cells = True\n")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    run = dict(check=False, cwd=course, env=env, capture_output=True)
    for assignment in assignments():
        subprocess.run([BIN / "nbgrader", "generate_assignment", assignment, "--force"], **run)
    start = time.perf_counter()
    for assignment in assignments():
        subprocess.run([BIN / "nbgrader", "autograde", assignment, "--force"], **run)
        subprocess.run([BIN / "nbgrader", "generate_feedback", assignment, "--force"], **run)
    return time.perf_counter() - start


def baseline_checkout(commit, where):
    subprocess.run(["git", "worktree", "add", "--detach", str(where), commit], cwd=ROOT, check=True,
                   capture_output=True)
    return where


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", default="169d2e9")
    parser.add_argument("--no-nbgrader", action="store_true", help="leave out serial nbgrader (slow)")
    args = parser.parse_args()
    jobs = ["--jobs", str(args.jobs)]
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        tmp = Path(tmp)
        subs = tmp / "submissions"
        notebooks = make_class(subs, args.students)
        old = baseline_checkout(args.baseline, tmp / "baseline")
        variants = {
            "sandbox": (ROOT, [sys.executable, "-m", "autograder"], jobs),
            "sandbox_guard_off": (ROOT, [sys.executable, "-c", GUARD_OFF], jobs),
            "no_sandbox": (ROOT, [sys.executable, "-m", "autograder"], jobs + ["--no-sandbox"]),
            "baseline": (old, [sys.executable, "-m", "autograder"], jobs),
        }
        times = {name: [] for name in list(variants) + ([] if args.no_nbgrader else ["nbgrader"])}
        try:
            for r in range(args.repeat):
                for name, (cwd, argv, extra) in variants.items():
                    out = tmp / f"{name}{r}"
                    start = time.perf_counter()
                    subprocess.run(argv + ["grade", str(subs), "--out", str(out)] + extra, check=True, cwd=cwd,
                                   capture_output=True)
                    times[name].append(time.perf_counter() - start)
                if not args.no_nbgrader:
                    times["nbgrader"].append(time_nbgrader(subs, tmp / "course"))
                print(f"run {r + 1}/{args.repeat}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()),
                      file=sys.stderr, flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, capture_output=True)
    median = {name: statistics.median(t) for name, t in times.items()}
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or 'cpu'}, "
                   f"Python {platform.python_version()}, shared and loaded while measured",
        "class": f"{args.students} students x {len(assignments())} assignments = {notebooks} notebooks",
        "jobs": args.jobs, "repeat": args.repeat, "baseline": args.baseline,
        "seconds_median": median, "seconds_all": times,
        "notebooks_per_minute": {name: notebooks * 60 / m for name, m in median.items()},
        "sandbox_cost_vs_baseline": median["sandbox_guard_off"] / median["baseline"] - 1,
        "shipped_vs_baseline": median["sandbox"] / median["baseline"] - 1,
    }
    print(f"{'grader':52} {'median s':>9} {'notebooks/min':>14}")
    for name in times:
        print(f"{name:52} {median[name]:9.1f} {result['notebooks_per_minute'][name]:14.1f}")
    print(f"bubblewrap sandbox against the baseline's sandbox: {result['sandbox_cost_vs_baseline']:+.1%}; "
          f"as shipped (answers switched off): {result['shipped_vs_baseline']:+.1%}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "grading_throughput.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
