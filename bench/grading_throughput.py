"""Grading throughput on a mixed class of all five assignments, all in one run on this machine: this grader with 1
and 2 local Dask workers and on a loopback Dask cluster (a scheduler and two worker processes), without a
sandbox, and nbgrader's own serial CLI; plus the start of one sealed kernel.

    python bench/grading_throughput.py [--students 4] [--large 20] [--repeat 3] [--no-nbgrader]

Every student hands in every assignment: a third perfect, some blank, the rest one corpus mistake each. Timed,
interleaved in each repeat so that the machine's load falls on all alike (medians are reported):

- ``jobs1``, ``jobs2``: ``python -m autograder grade --jobs N`` as shipped (bubblewrap, the course's answers
  switched off, which also stops 04's and 05's quick training runs early);
- ``cluster2``: the same through ``--scheduler-file`` on a loopback cluster of two one-thread worker processes,
  started (untimed) before the cluster variants in each repeat and stopped after them;
- ``jobs1_no_sandbox``, ``no_sandbox``: ``--jobs 1`` and ``--jobs 2`` with ``--no-sandbox`` (the kernel sees the
  real helpers, so the quick training runs run to their end: these do a little more work);
- ``nbgrader``: ``nbgrader autograde`` + ``generate_feedback``, serial, per assignment, no sandbox;
- ``large_jobs2``, ``large_cluster2``: ``jobs2`` and ``cluster2`` on a larger class (``--large`` students, 0: none),
  where the run's fixed costs (starting the workers, the assignments' scratch courses, the output folder's
  gradebook) weigh less: what a real class of a few hundred notebooks sees.

The cost of the sandbox itself is measured apart, as the time to start a Python that imports numpy and helpers:
under bubblewrap, under the sandbox bubblewrap replaced (the stdlib mount-namespace launcher of commit
``--baseline``, taken from git) and under no sandbox (``--starts`` of each). (The older grader as a whole is no
baseline here: it grades today's notebooks against its own, older course and fails them in a second.)

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
SEALED_START = """
import subprocess, sys, tempfile, time
from pathlib import Path
mode, script = sys.argv[1], "import numpy, helpers"
work = Path(tempfile.mkdtemp())
if mode == "bubblewrap":
    from autograder.course import HELPERS
    from autograder.sandbox import command
    connection = work / "connection.json"
    connection.write_text("{}")
    connection.chmod(0o644)
    argv = command([sys.executable, "-c", script], helpers_dir=HELPERS, helpers_source=HELPERS, inputs=[],
                   connection_file=connection, work=work)
elif mode == "namespaces":  # the replaced launcher: its package is first on PYTHONPATH
    argv = [sys.executable, "-m", "autograder.sandbox", "--hide", str(work), "--mem-mb", "4096", "--",
            sys.executable, "-c", script]
else:
    argv = [sys.executable, "-c", script]
start = time.perf_counter()
subprocess.run(argv, check=True, capture_output=True)
print(time.perf_counter() - start)
"""


def sealed_start(mode, launcher):
    """Seconds to start a Python that imports numpy and helpers, sealed (``mode``: bubblewrap, namespaces = the
    replaced launcher in the folder ``launcher``, or none): what the sandbox adds to every kernel's start."""
    path = [str(launcher)] if mode == "namespaces" else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path + [str(ROOT)])}
    done = subprocess.run([sys.executable, "-c", SEALED_START, mode], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True)
    return float(done.stdout.strip().splitlines()[-1])


def old_launcher(folder, commit):
    """The sandbox launcher of ``commit`` (stdlib only) as a package ``autograder`` in ``folder``."""
    package = Path(folder) / "autograder"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    code = subprocess.run(["git", "show", f"{commit}:autograder/sandbox.py"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout
    (package / "sandbox.py").write_text(code)
    return folder


class LoopbackCluster:
    """A Dask scheduler and two one-thread workers on 127.0.0.1, each a process of its own, as the instructor README
    starts them (``--preload autograder.run``); returns once both workers have joined."""

    def __init__(self, folder):
        Path(folder).mkdir(parents=True, exist_ok=True)
        self.file = Path(folder) / "scheduler.json"
        quiet = dict(cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host",
                                        "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file",
                                        str(self.file)], **quiet)]
        while not self.file.exists():
            time.sleep(0.2)
        self.procs += [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file",
                                         str(self.file), "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                                         "--host", "127.0.0.1", "--preload", "autograder.run"], **quiet)
                       for _ in range(2)]
        from distributed import Client
        with Client(scheduler_file=str(self.file), timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)

    def close(self):
        for proc in self.procs:
            proc.kill()
            proc.wait()


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--starts", type=int, default=10, help="sealed Python starts per sandbox")
    parser.add_argument("--baseline", default="169d2e9", help="commit of the replaced sandbox launcher")
    parser.add_argument("--no-nbgrader", action="store_true", help="leave out serial nbgrader (slow)")
    parser.add_argument("--large", type=int, default=20, help="students of the larger class (0: leave it out)")
    args = parser.parse_args()
    grader = [sys.executable, "-m", "autograder", "grade"]
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        tmp = Path(tmp)
        subs = tmp / "submissions"
        notebooks = make_class(subs, args.students)
        large = tmp / "large-class"
        large_notebooks = make_class(large, args.large) if args.large else 0
        launcher = old_launcher(tmp / "old-launcher", args.baseline)
        on_cluster = ["--scheduler-file", str(tmp / "cluster" / "scheduler.json")]
        variants = {
            "jobs1": (ROOT, ["--jobs", "1"]),
            "jobs2": (ROOT, ["--jobs", "2"]),
            "jobs1_no_sandbox": (ROOT, ["--jobs", "1", "--no-sandbox"]),
            "no_sandbox": (ROOT, ["--jobs", "2", "--no-sandbox"]),
        }
        if args.large:
            variants.update(large_jobs2=(ROOT, ["--jobs", "2"]))
        # last in each repeat, on a loopback cluster started (untimed) just before them and stopped after them: its
        # idle processes would load the machine under the other variants (5 % slower, measured)
        variants.update(cluster2=(ROOT, on_cluster))
        if args.large:
            variants.update(large_cluster2=(ROOT, on_cluster))
        size = {name: large_notebooks if name.startswith("large_") else notebooks for name in variants}
        size["nbgrader"] = notebooks
        times = {name: [] for name in list(variants) + ([] if args.no_nbgrader else ["nbgrader"])}
        starts = {"bubblewrap": [], "namespaces": [], "none": []}
        cluster = None
        try:
            for _ in range(args.starts):
                for mode in starts:
                    starts[mode].append(sealed_start(mode, launcher))
            for r in range(args.repeat):
                for name, (cwd, extra) in variants.items():
                    if extra is on_cluster and cluster is None:
                        shutil.rmtree(tmp / "cluster", ignore_errors=True)
                        cluster = LoopbackCluster(tmp / "cluster")
                    start = time.perf_counter()
                    folder = large if name.startswith("large_") else subs
                    subprocess.run(grader + [str(folder), "--out", str(tmp / f"{name}{r}")] + extra, check=True,
                                   cwd=cwd, capture_output=True)
                    times[name].append(time.perf_counter() - start)
                if cluster is not None:
                    cluster.close()
                    cluster = None
                if not args.no_nbgrader:
                    times["nbgrader"].append(time_nbgrader(subs, tmp / "course"))
                print(f"run {r + 1}/{args.repeat}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()),
                      file=sys.stderr, flush=True)
        finally:
            if cluster is not None:
                cluster.close()
    median = {name: statistics.median(t) for name, t in times.items()}
    start_median = {mode: statistics.median(t) for mode, t in starts.items()}
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or 'cpu'}, "
                   f"Python {platform.python_version()}",
        "class": f"{args.students} students x {len(assignments())} assignments = {notebooks} notebooks",
        "large_class": f"{args.large} students x {len(assignments())} assignments = {large_notebooks} notebooks",
        "notebooks": size,
        "repeat": args.repeat, "baseline": args.baseline,
        "seconds_median": median, "seconds_all": times,
        "notebooks_per_minute": {name: size[name] * 60 / m for name, m in median.items()},
        "sealed_start_seconds_median": start_median, "sealed_start_seconds_all": starts,
        "sandbox_cost": {"jobs1": median["jobs1"] / median["jobs1_no_sandbox"] - 1,
                         "jobs2": median["jobs2"] / median["no_sandbox"] - 1,
                         "sealed_start_vs_replaced": start_median["bubblewrap"] / start_median["namespaces"] - 1},
    }
    print(f"{'grader':28} {'notebooks':>9} {'median s':>9} {'notebooks/min':>14}")
    for name in times:
        print(f"{name:28} {size[name]:9d} {median[name]:9.1f} {result['notebooks_per_minute'][name]:14.1f}")
    print("a sealed Python importing numpy and helpers, median s: "
          + ", ".join(f"{k} {v:.3f}" for k, v in start_median.items()))
    print("the sandbox's cost: " + ", ".join(f"{k} {v:+.1%}" for k, v in result["sandbox_cost"].items()))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "grading_throughput.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
