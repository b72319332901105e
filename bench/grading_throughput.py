"""Grading throughput: `python -m autograder grade --jobs 2` against nbgrader's serial `nbgrader autograde`.

Both grade the same N submissions of assignment 01 (perfect, blank and corpus-mistake notebooks, mixed) in the
same run, on this machine. Prints a table and JSON (also written to bench/results/grading_throughput.json).

    python bench/grading_throughput.py [--submissions 40] [--jobs 2] [--repeat 3]

Our grader's time includes its sandbox, the trusted re-judging and the HTML feedback for every submission; it
is also timed without the sandbox and with one job. nbgrader's (no sandbox, scores from inside the kernel) is
given for `autograde` alone and for `autograde` + `generate_feedback`.
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

from autograder.course import NOTEBOOKS, SOLUTIONS  # noqa: E402
from conftest import load_mistakes  # noqa: E402
from studentwork import fill_release, write_submission  # noqa: E402

ASSIGNMENT = "01_conv_arithmetic"
BIN = Path(sys.executable).parent


def make_submissions(root, count):
    """``count`` students: every third perfect, some blank, the rest one corpus mistake each (cycled)."""
    (notebook,) = [p.stem for p in (NOTEBOOKS / ASSIGNMENT).glob("*.ipynb")]
    release, source = NOTEBOOKS / ASSIGNMENT / f"{notebook}.ipynb", SOLUTIONS / ASSIGNMENT / f"{notebook}.ipynb"
    mistakes = [m for _, a, _, m in load_mistakes() if a == ASSIGNMENT]
    for i in range(count):
        if i % 3 == 0:
            nb = fill_release(release, source)
        elif i % 7 == 1:
            nb = nbformat.read(release, as_version=4)
        else:
            m = mistakes[i % len(mistakes)]
            nb = fill_release(release, source, replace={m["cell"]: m["code"]})
        write_submission(root, f"student{i:03d}", ASSIGNMENT, {notebook: nb})


def time_ours(subs, out, jobs, *flags):
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "autograder", "grade", str(subs), "--out", str(out), "--jobs", str(jobs),
                    *flags], check=True, cwd=ROOT, capture_output=True)
    return time.perf_counter() - start


def time_nbgrader(subs, course):
    """Serial nbgrader CLI in a plain course folder; returns (autograde seconds, generate_feedback seconds)."""
    shutil.rmtree(course, ignore_errors=True)
    shutil.copytree(SOLUTIONS / ASSIGNMENT, course / "source" / ASSIGNMENT)
    shutil.copytree(subs, course / "submitted")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'convnets'\n"
        "c.Execute.timeout = 60\nc.OverwriteCells.add_missing_cells = True\n")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    run = dict(check=True, cwd=course, env=env, capture_output=True)
    subprocess.run([BIN / "nbgrader", "generate_assignment", ASSIGNMENT, "--force"], **run)
    start = time.perf_counter()
    subprocess.run([BIN / "nbgrader", "autograde", ASSIGNMENT, "--force"], **run)
    autograde = time.perf_counter() - start
    start = time.perf_counter()
    subprocess.run([BIN / "nbgrader", "generate_feedback", ASSIGNMENT, "--force"], **run)
    return autograde, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--submissions", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ours, ours_open, ours_serial, nb_auto, nb_total = [], [], [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        subs = Path(tmp) / "submissions"
        make_submissions(subs, args.submissions)
        for r in range(args.repeat):
            ours.append(time_ours(subs, Path(tmp) / f"grades{r}", args.jobs))
            ours_open.append(time_ours(subs, Path(tmp) / f"open{r}", args.jobs, "--no-sandbox"))
            ours_serial.append(time_ours(subs, Path(tmp) / f"serial{r}", 1))
            auto, feedback = time_nbgrader(subs, Path(tmp) / "course")
            nb_auto.append(auto)
            nb_total.append(auto + feedback)
            print(f"run {r + 1}/{args.repeat}: ours {ours[-1]:.1f} s (no sandbox {ours_open[-1]:.1f} s, "
                  f"--jobs 1 {ours_serial[-1]:.1f} s), nbgrader autograde {auto:.1f} s (+ feedback {feedback:.1f} s)",
                  file=sys.stderr, flush=True)
    n = args.submissions
    timings = {"ours": ours, "ours_no_sandbox": ours_open, "ours_jobs_1": ours_serial,
               "nbgrader_autograde": nb_auto, "nbgrader_autograde_feedback": nb_total}
    rate = {name: n * 60 / statistics.median(times) for name, times in timings.items()}
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "submissions": n, "jobs": args.jobs, "repeat": args.repeat,
        "seconds_median": {name: statistics.median(times) for name, times in timings.items()},
        "seconds_all": timings,
        "notebooks_per_minute": rate,
    }
    print(f"{'grader':48} {'median s':>9} {'notebooks/min':>14}")
    for label, key in ((f"autograder grade --jobs {args.jobs}", "ours"),
                       (f"autograder grade --jobs {args.jobs} --no-sandbox", "ours_no_sandbox"),
                       ("autograder grade --jobs 1", "ours_jobs_1"),
                       ("nbgrader autograde (serial)", "nbgrader_autograde"),
                       ("nbgrader autograde + generate_feedback", "nbgrader_autograde_feedback")):
        print(f"{label:48} {result['seconds_median'][key]:9.1f} {rate[key]:14.1f}")
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "grading_throughput.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
