"""Grade a folder of submissions in parallel: ``python -m autograder grade DIR``.

DIR holds ``<student>/<assignment>/*.ipynb``. ``--jobs`` worker processes (``autograder.worker``) grade the
submissions, each in a scratch copy of the course, with its kernel in ``autograder.sandbox``. The grader
writes ``grades.csv`` (one row per student x assignment x graded cell) and ``feedback/<student>/<assignment>/
<notebook>.html`` into the output folder, and returns the rows. A submission that cannot be graded still gets
its rows, with a status and a reason; nothing is dropped.
"""
import csv
import json
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple
from pathlib import Path

from nbgrader.api import Gradebook
from tqdm import tqdm

from . import references
from .course import CELL_TIMEOUT, HELPERS, SOLUTIONS, assignments
from .guard import prepare_helpers
from .outcomes import FIELDS, error_rows, last_error
from .release import GraderError, generate_assignment
from .sandbox import Limits
from .worker import DONE, write_failure_pages

SUBMISSION_TIMEOUT = 900  # seconds for a whole submission, kernel start and feedback included


def prepare_template(assignment, root, solutions=SOLUTIONS):
    """Makes a scratch course at ``root`` whose gradebook knows ``assignment``; returns its graded cells.

    Returns:
        {notebook name: [(cell name, max points), ...]} in notebook order.
    """
    generate_assignment(assignment, root, solutions)
    shutil.rmtree(root / "release", ignore_errors=True)
    for notebook in (root / "source" / assignment).glob("*.ipynb"):
        notebook.unlink()  # the gradebook holds what grading needs; no source notebook near a submission
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        cells = {nb.name: [(cell.name, cell.max_score) for cell in _in_notebook_order(nb)]
                 for nb in gb.find_assignment(assignment).notebooks}
    unchecked = {c for cs in cells.values() for c, _ in cs} - set(references.load(assignment).cases(random.Random(0)))
    if unchecked:
        raise GraderError(f"autograder/references has no checks for {assignment}'s cells {sorted(unchecked)}")
    return cells


def _in_notebook_order(notebook):
    order = {cell.name: i for i, cell in enumerate(notebook.source_cells)}
    return sorted(notebook.grade_cells, key=lambda cell: order.get(cell.name, len(order)))


def find_submissions(submissions, known, skip=()):
    """[(student, assignment, folder)] for every ``<student>/<assignment>/`` under ``submissions``.

    Folders named like an assignment that is not in ``known`` are reported on stderr and left out.
    """
    found = []
    for student in sorted(p for p in Path(submissions).iterdir() if p.is_dir() and not p.name.startswith(".")):
        if student.resolve() in skip:
            continue
        for folder in sorted(p for p in student.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if folder.name in known:
                found.append((student.name, folder.name, folder))
            else:
                print(f"warning: {folder} is not an assignment of this course; skipped", file=sys.stderr)
    return found


def grade(submissions, out=None, jobs=None, cell_timeout=CELL_TIMEOUT, submission_timeout=SUBMISSION_TIMEOUT,
          sandbox=True, solutions=SOLUTIONS, progress=True, limits=Limits()):
    """Grades every submission under ``submissions``; writes grades.csv and feedback; returns the rows."""
    submissions = Path(submissions).resolve()
    if not submissions.is_dir():
        raise GraderError(f"{submissions} is not a folder of <student>/<assignment>/ submissions")
    out = Path(out).resolve() if out else submissions.parent / "grades"
    known = assignments(solutions)
    found = find_submissions(submissions, known, skip={out})
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="autograder-"))
    os.chmod(work, 0o700)
    try:
        templates = {}
        for assignment in sorted({a for _, a, _ in found}):
            templates[assignment] = (work / "templates" / assignment,
                                     prepare_template(assignment, work / "templates" / assignment, solutions),
                                     prepare_helpers(HELPERS, assignment, work / "helpers" / assignment / "helpers"))
        settings = {"cell_timeout": cell_timeout, "sandbox": sandbox, "limits": list(astuple(limits)),
                    "mpl_cache": _matplotlib_cache()}
        specs = [make_job(i, student, assignment, folder, templates[assignment], work, out, settings)
                 for i, (student, assignment, folder) in enumerate(found)]
        rows = run_jobs(specs, jobs or os.cpu_count() or 1, submission_timeout, progress, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_csv(rows, out / "grades.csv")
    write_checks(rows, out / "checks.csv")
    return rows


def _matplotlib_cache():
    """matplotlib's font cache file of the grader's own environment, if it has one (lent to every kernel)."""
    from matplotlib import font_manager, get_cachedir
    font_manager.findfont("DejaVu Sans")  # builds the cache if missing
    found = sorted(Path(get_cachedir()).glob("fontlist-*.json"))
    return os.fspath(found[-1]) if found else None


def make_job(index, student, assignment, folder, template, work, out, settings):
    """Writes ``work/jobs/<index>/job.json`` for one submission and returns its path and the job."""
    job_dir = work / "jobs" / str(index)
    job_dir.mkdir(parents=True)
    template_dir, grade_cells, helpers_source = template
    job = {"student": student, "assignment": assignment, "submission": os.fspath(folder),
           "template": os.fspath(template_dir), "course": os.fspath(job_dir / "course"),
           "feedback": os.fspath(out / "feedback" / student / assignment), "grade_cells": grade_cells,
           "helpers_source": os.fspath(helpers_source), **settings}
    (job_dir / "job.json").write_text(json.dumps(job))
    return job_dir / "job.json", job


def run_jobs(specs, jobs, submission_timeout, progress, logs):
    """Runs the jobs on ``jobs`` worker processes; returns all rows in submission order."""
    pending = list(enumerate(specs))
    results = {}
    bar = tqdm(total=len(specs), desc="grading", unit="submission", disable=not progress, file=sys.stderr)

    def serve(slot):
        worker = None
        try:
            while True:
                try:
                    index, (path, job) = pending.pop(0)
                except IndexError:
                    return
                worker = worker if worker and worker.alive() else Worker(logs / f"worker{slot}.log")
                results[index] = worker.grade(path, job, submission_timeout)
                bar.update()
        finally:
            if worker:
                worker.stop()

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for future in [pool.submit(serve, slot) for slot in range(jobs)]:
            future.result()
    bar.close()
    return [row for i in range(len(specs)) for row in results[i]]


class Worker:
    """One ``python -m autograder.worker`` process, fed job paths on stdin (see that module)."""

    def __init__(self, log):
        self.log = log
        self.proc = subprocess.Popen([sys.executable, "-m", "autograder.worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=open(log, "a"), text=True,
                                     start_new_session=True)

    def alive(self):
        return self.proc.poll() is None

    def grade(self, path, job, timeout):
        """The rows of one job, or error rows saying why there are none (the worker is then replaced)."""
        self.proc.stdin.write(f"{path}\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.proc.stdout], [], [], remaining)[0]:
                self.kill()
                return _job_error_rows(job, "timeout", f"the submission ran past {timeout} s and was stopped")
            line = self.proc.stdout.readline()
            if not line:
                self.kill()
                tail = self.log.read_text()[-4000:] if self.log.exists() else ""
                return _job_error_rows(job, "error", f"the grader's worker died: {last_error(tail)}")
            if line.startswith(DONE):
                break
        done = json.loads((path.parent / "result.json").read_text())
        if "failed" in done:
            return _job_error_rows(job, "error", f"the grader failed on this submission: {done['failed']}")
        for warning in done["warnings"]:
            print(f"warning: {warning}", file=sys.stderr)
        return done["rows"]

    def kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def stop(self):
        if self.alive():
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def _job_error_rows(job, status, reason):
    """Rows, and feedback pages saying why, for a submission whose worker gave no result."""
    rows = [row for notebook, cells in job["grade_cells"].items()
            for row in error_rows(job["student"], job["assignment"], notebook, cells, status, reason)]
    write_failure_pages(rows, Path(job["feedback"]), job["student"], job["assignment"], job["sandbox"])
    return rows


def write_csv(rows, path):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


CHECK_FIELDS = ("student", "assignment", "notebook", "cell", "group", "passed", "message")


def write_checks(rows, path):
    """One row per check of the grader (a group of cases) of every graded cell: what a class report counts."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CHECK_FIELDS)
        for row in rows:
            for check in row.get("checks", []):
                writer.writerow([row["student"], row["assignment"], row["notebook"], row["cell"], check["group"],
                                 int(check["passed"]), check["message"]])


def summarize(rows):
    """One line per student x assignment: points, max points, percent, and what went wrong if anything."""
    totals = {}
    for row in rows:
        key = (row["student"], row["assignment"])
        points, max_points, problems = totals.get(key, (0.0, 0.0, set()))
        if row["status"] not in ("passed", "partial", "failed"):
            problems = problems | {row["status"]}
        totals[key] = (points + float(row["points"]), max_points + float(row["max_points"]), problems)
    return [(student, assignment, points, max_points, 100.0 * points / max_points if max_points else 0.0,
             ", ".join(sorted(problems)) or "ok")
            for (student, assignment), (points, max_points, problems) in totals.items()]


def format_table(summary):
    header = ("student", "assignment", "points", "max", "percent", "status")
    lines = [header] + [(s, a, f"{p:g}", f"{m:g}", f"{pc:.1f}%", st) for s, a, p, m, pc, st in summary]
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    text = ["  ".join(str(v).ljust(w) for v, w in zip(line, widths)).rstrip() for line in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)
