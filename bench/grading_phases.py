"""Where one submission's grading time goes, per assignment: the phases of ``autograder.run.run_task`` as a Dask
worker runs it (sealed kernel, one BLAS thread), for a perfect submission of each assignment.

    python bench/grading_phases.py [--repeat 5] [--no-sandbox]

Phases, in seconds (medians over ``--repeat`` submissions; the first submission of each assignment in a process
is left out of the medians, since the worker's one-time work happens then):

- ``template``: the assignment's scratch nbgrader course (``build_templates``), made once per grading run by the
  instructor's process;
- ``cases``: the grader's random inputs and references for the submission (``references.cases_for``);
- ``kernel_start``, ``kernel_stop``: starting the sealed kernel until it answers, and shutting it down;
- ``cells``: running the notebook's cells in the kernel (the student's code, the tests, the demonstrations);
- ``nbgrader``: the rest of ``nbgrader autograde`` (its other preprocessors, the gradebook, copying files);
- ``judge``: judging the recorded results and writing the scores (``run._judge``);
- ``feedback``: the HTML feedback pages (``run._feedback``);
- ``total``: the whole task.

Prints a table and writes bench/results/grading_phases.json (grading_phases_no_sandbox.json).
"""
import argparse
import collections
import functools
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")  # as Dask's workers set
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from autograder import references, run  # noqa: E402
from autograder.course import NOTEBOOKS, SOLUTIONS, assignments  # noqa: E402
from autograder.kernel import GradingExecute  # noqa: E402
from autograder.outcomes import NEEDS_MANUAL  # noqa: E402
from autograder.task import Settings, course_version, read_task  # noqa: E402
from nbgrader.apps import NbGraderAPI  # noqa: E402
from studentwork import fill_release, write_submission  # noqa: E402

PHASES = ("cases", "kernel_start", "kernel_stop", "cells", "nbgrader", "judge", "feedback", "total")
spent = collections.Counter()


def timed(owner, name, phase):
    """Adds the time of every call of ``owner.name`` to ``spent[phase]``."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[phase] += time.perf_counter() - start
    setattr(owner, name, wrapper)


def instrument():
    timed(references, "cases_for", "cases")
    timed(GradingExecute, "start_new_kernel", "kernel_start")  # nbclient's setup_kernel calls these three
    timed(GradingExecute, "start_new_kernel_client", "kernel_start")
    timed(GradingExecute, "_cleanup_kernel", "kernel_stop")
    timed(GradingExecute, "preprocess_cell", "cells")  # the sealed kernels' SandboxedExecute calls it too
    timed(NbGraderAPI, "autograde", "autograde")
    timed(run, "_judge", "judge")
    timed(run, "_feedback", "feedback")
    timed(run, "run_task", "total")


def perfect_task(folder, assignment, version, settings=Settings()):
    notebooks = {p.stem: fill_release(p, SOLUTIONS / assignment / p.name)
                 for p in sorted((NOTEBOOKS / assignment).glob("*.ipynb"))}
    write_submission(folder, "student", assignment, notebooks)
    for checkpoint in (SOLUTIONS / assignment).glob("*.npz"):
        (folder / "student" / assignment / checkpoint.name).write_bytes(checkpoint.read_bytes())
    return read_task("student", assignment, folder / "student" / assignment, list(notebooks), settings, version)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-sandbox", action="store_true", help="kernels not sealed (to see what the sandbox costs)")
    args = parser.parse_args()
    instrument()
    version = course_version(ROOT)
    table = {}
    with tempfile.TemporaryDirectory(prefix="bench-phases-") as tmp:
        for assignment in assignments():
            task = perfect_task(Path(tmp), assignment, version, Settings(sandbox=not args.no_sandbox))
            start = time.perf_counter()
            template = run.build_templates([assignment], Path(tmp) / f"template-{assignment}")[assignment]
            runs = {"template": [time.perf_counter() - start]}
            for i in range(args.repeat + 1):
                spent.clear()
                result = run.run_task(task, template)
                assert all(r["status"] in ("passed", NEEDS_MANUAL) for r in result.rows), [r["reason"] for r in result.rows]
                spent["nbgrader"] = spent.pop("autograde") - spent["kernel_start"] - spent["kernel_stop"] \
                    - spent["cells"]
                if i:
                    for phase in PHASES:
                        runs.setdefault(phase, []).append(spent[phase])
            table[assignment] = {phase: statistics.median(times) for phase, times in runs.items()}
            print(f"{assignment}: " + ", ".join(f"{k} {v:.2f}" for k, v in table[assignment].items()), flush=True)
    columns = ("template",) + PHASES
    print(f"\n{'assignment':20}" + "".join(f"{c:>13}" for c in columns))
    for assignment, row in table.items():
        print(f"{assignment:20}" + "".join(f"{row[c]:13.2f}" for c in columns))
    mean_total = statistics.mean(row["total"] for row in table.values())
    print(f"mean task {mean_total:.2f} s: {60 / mean_total:.1f} notebooks a minute per worker process")
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
              "load_average_at_end": os.getloadavg(), "repeat": args.repeat, "sandbox": not args.no_sandbox,
              "seconds_median": table}
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    name = "grading_phases_no_sandbox.json" if args.no_sandbox else "grading_phases.json"
    (out / name).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
