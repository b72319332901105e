"""Grade a folder of submissions: ``python -m autograder grade DIR``.

DIR holds ``<student>/<assignment>/*.ipynb`` (and handed-in files such as ``lenet5.npz``). Each submission
becomes one sealed Task (``autograder.task``), graded on Dask (``autograder.cluster``): a LocalCluster of
``jobs`` workers by default, or an existing cluster. The output folder gets ``grades.csv`` (one row per student
x assignment x graded cell), ``checks.csv`` (every check of the grader) and ``feedback/<student>/<assignment>/
<notebook>.html``. A submission that cannot be graded still gets its rows, with a status and a reason. The
output folder is also an nbgrader course folder (``gradebook.db``, ``autograded/``: ``autograder.gradebook``) that
formgrader opens to grade by hand what the grader cannot (``autograder.manual``).

Re-running on the same folder grades only the submissions whose files changed (``.graded.json`` in the output
folder keeps a hash of each); ``force`` regrades all, ``students`` just those.
"""
import csv
import json
import shutil
import sys
import tempfile
from pathlib import Path

from . import gradebook, guard, references
from .cluster import Cluster
from .course import HELPERS, REPO_ROOT, SOLUTIONS, assignments, graded_cells
from .outcomes import FIELDS
from .release import GraderError
from .run import build_templates
from .task import Settings, course_version, read_task

STATE = ".graded.json"
CHECK_FIELDS = ("student", "assignment", "notebook", "cell", "group", "passed", "message")


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


def check_references(assignment):
    """Raises GraderError unless ``autograder/references`` checks every graded cell of ``assignment`` and the guard
    knows every function it switches off."""
    import random
    try:
        guard.check(HELPERS, assignment)
    except ValueError as exc:
        raise GraderError(f"{exc}: update autograder/guard.py OFF_LIMITS[{assignment!r}]") from None
    cells = {cell for notebook in graded_cells(assignment).values() for cell, _ in notebook}
    try:
        checked = set(references.load(assignment).cases(random.Random(0)))
    except LookupError as exc:
        raise GraderError(str(exc)) from None
    if cells - checked:
        raise GraderError(f"autograder/references has no checks for {assignment}'s cells {sorted(cells - checked)}")


def grade(submissions, out=None, jobs=1, settings=Settings(), scheduler=None, scheduler_file=None, force=False,
          students=(), progress=True):
    """Grades the submissions under ``submissions`` that need it; writes grades.csv, checks.csv and feedback.

    Returns the rows of grades.csv (each with its ``checks``), those of earlier runs included.
    """
    submissions = Path(submissions).resolve()
    if not submissions.is_dir():
        raise GraderError(f"{submissions} is not a folder of <student>/<assignment>/ submissions")
    out = Path(out).resolve() if out else submissions.parent / "grades"
    known = assignments(SOLUTIONS)
    found = find_submissions(submissions, known, skip={out})
    version = course_version(REPO_ROOT)
    tasks = [read_task(student, assignment, folder, graded_cells(assignment), settings, version)
             for student, assignment, folder in found]
    state, previous = _read_state(out), _read_rows(out)

    task_digests = {t.key: t.digest() for t in tasks}

    def needs_grading(task):
        if students:
            return task.student in students
        return force or state.get(task.key) != task_digests[task.key] or task.key not in previous

    todo = [t for t in tasks if needs_grading(t)]

    def prepare(scratch=None):
        """Checks the course; with a ``scratch`` folder, makes the templates of the assignments to grade (returned)
        and records them in the output folder's gradebook; without, writes just the course folder's configuration."""
        for assignment in sorted({a for _, a, _ in found}):
            check_references(assignment)
        out.mkdir(parents=True, exist_ok=True)
        if scratch is None:
            return gradebook.prepare(out, todo, tasks)
        templates = build_templates(sorted({t.assignment for t in todo}), Path(scratch) / "templates")
        carried = gradebook.prepare(out, todo, tasks, scratch=scratch,
                                    recorded=Path(scratch) / "templates" / gradebook.DB)
        return templates, carried

    results, interrupted = {}, False
    if todo:
        # the workers start while the course is checked, the templates are made and the output folder's gradebook
        # learns the assignments; nbgrader works in `scratch` meanwhile, the current folder a worker starts in, so
        # it outlives the workers
        with tempfile.TemporaryDirectory(prefix="autograder-prepare-") as scratch, \
                Cluster(jobs=jobs, scheduler=scheduler, scheduler_file=scheduler_file) as cluster:
            templates, carried = prepare(scratch)
            with gradebook.Recorder(out, carried, todo) as recorder:
                def keep(result):  # each result is written as it comes back, while the others are graded
                    _write_feedback(out, result)
                    recorder.add(result)
                results, interrupted = cluster.grade(todo, templates, progress=progress, done=keep)
    else:
        prepare()
    for key, result in results.items():
        for warning in result.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        previous[key] = result.rows
        state[key] = task_digests[key]
    current = {t.key for t in tasks}
    rows = [row for t in tasks if t.key in previous for row in previous[t.key]]
    for key in set(state) - current:
        del state[key]
    _write_rows(out, rows)
    state_text = {"complete": not interrupted, "graded": state, "last_graded": sorted(results),
                  "not_graded": sorted(t.key for t in todo if t.key not in results)}
    (out / STATE).write_text(json.dumps(state_text, indent=1))
    if interrupted:
        print(f"interrupted: {len(results)} of {len(todo)} submissions graded and written; run grade again to "
              "grade the rest", file=sys.stderr)
    return rows


def _write_feedback(out, result):
    folder = out / "feedback" / result.student / result.assignment
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for notebook, page in result.feedback.items():
        (folder / f"{notebook}.html").write_text(page)


def run_complete(out):
    """False when the last run of ``grade`` into ``out`` was interrupted (Ctrl-C) before every submission was
    graded."""
    try:
        return bool(json.loads((Path(out) / STATE).read_text())["complete"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _read_state(out):
    try:
        return dict(json.loads((out / STATE).read_text())["graded"])
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _read_rows(out):
    """{student/assignment: rows} of an earlier run's grades.csv and checks.csv, if any."""
    rows = {}
    try:
        with open(out / "grades.csv", newline="") as f:
            for row in csv.DictReader(f):
                row = dict(row, points=gradebook.points(row["points"]), max_points=float(row["max_points"]),
                           checks=[])
                rows.setdefault(f"{row['student']}/{row['assignment']}", []).append(row)
        by_cell = {(r["student"], r["assignment"], r["cell"]): r for rs in rows.values() for r in rs}
        with open(out / "checks.csv", newline="") as f:
            for check in csv.DictReader(f):
                row = by_cell.get((check["student"], check["assignment"], check["cell"]))
                if row is not None:
                    row["checks"].append({"group": check["group"], "passed": check["passed"] == "1",
                                          "message": check["message"]})
    except (OSError, KeyError, ValueError):
        return {}
    return rows


def _write_rows(out, rows):
    with open(out / "grades.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    with open(out / "checks.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CHECK_FIELDS)
        for row in rows:
            for check in row.get("checks", []):
                writer.writerow([row["student"], row["assignment"], row["notebook"], row["cell"], check["group"],
                                 int(check["passed"]), check["message"]])


def summarize(rows):
    """One line per student x assignment: points, max points, percent, what went wrong if anything, and the points
    of the cells waiting to be graded by hand (not counted in points, max points and percent: those are of what is
    graded so far)."""
    totals = {}
    for row in rows:
        key = (row["student"], row["assignment"])
        points, max_points, problems, pending = totals.get(key, (0.0, 0.0, set(), 0.0))
        if row["points"] is None:  # waits for grading by hand: not a problem, not 0
            pending += float(row["max_points"])
        else:
            if row["status"] not in ("passed", "partial", "failed"):
                problems = problems | {row["status"]}
            points, max_points = points + float(row["points"]), max_points + float(row["max_points"])
        totals[key] = (points, max_points, problems, pending)
    return [(student, assignment, points, max_points, 100.0 * points / max_points if max_points else 0.0,
             ", ".join(sorted(problems)) or "ok", pending)
            for (student, assignment), (points, max_points, problems, pending) in totals.items()]


def format_table(summary):
    header = ("student", "assignment", "points", "max", "percent", "status", "by hand")
    lines = [header] + [(s, a, f"{p:g}", f"{m:g}", f"{pc:.1f}%", st, f"{hand:g} points pending" if hand else "")
                        for s, a, p, m, pc, st, hand in summary]
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    text = ["  ".join(str(v).ljust(w) for v, w in zip(line, widths)).rstrip() for line in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)
