"""Grade one Task (``autograder.task``) where it runs: on the instructor's machine or on a Dask worker.

``run_task`` checks that this machine has the task's version of the course, writes the submission into a
scratch nbgrader course (``build_templates``: made once per run by the instructor's process, unpacked once per
worker process), autogrades it with the kernel sealed (``autograder.sandbox``), judges the recorded results in this
process (``autograder.trusted``), renders the feedback with hidden tests removed and returns rows and pages as
data. Nothing is left on disk.

A submission that runs past its time has its kernel killed by a watchdog; its rows then say ``timeout``.
"""
import io
import multiprocessing.util
import os
import random
import secrets
import shutil
import sqlite3
import tarfile
import tempfile
import threading
import warnings
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from sqlalchemy import event
from sqlalchemy.engine import Engine

from . import references
from .course import (HELPERS, REPO_ROOT, SOLUTIONS, cell_order, demo_cells, graded_cells, manual_cells,
                     nbgrader_config)
from .feedback import failure_page, scrub_notebook
from .feedback_page import feedback_exporter
from .guard import course_fingerprints, pasted, prepare_helpers
from .manual import handed_in, in_order, manual_rows
from .outcomes import FIELDS, UNSANDBOXED, cell_outcome, error_rows, limits_reached, notebook_failure, short
from .release import generate_assignment
from .task import Result, course_version, grade_id
from .trusted import judge_cell, read_results, write_inputs

GRADER_HEADER = "The grader's checks, on new inputs (these decide the points):\n"
MANUAL_NOTE = ("*Graded by hand: your instructor reads this answer and enters its points; the score this page "
               "shows for it is not final until then.*")


class CourseMismatch(RuntimeError):
    """This worker has another version of the course than the task was made with."""


# tarfile's "data" filter (no links out, no special files) exists from Python 3.11.4 on; Debian 12's Python is 3.11.2.
# The template is the grader's own (build_templates), so older Pythons extract it without the filter.
SAFE_EXTRACT = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


class _Workspace:
    """This process's scratch space: one prepared course per assignment, kept for the next submissions."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="autograder-worker-"))
        _scratch_roots.add(os.fspath(self.root))
        (self.root / "runtime").mkdir()
        os.environ["JUPYTER_RUNTIME_DIR"] = os.fspath(self.root / "runtime")
        self.version = course_version(REPO_ROOT)
        self.prepared = {}
        # removed at exit; multiprocessing's exit hook, not atexit: a worker forked from the forkserver ends with
        # os._exit, which skips atexit (it left one folder per worker in /tmp)
        multiprocessing.util.Finalize(self, shutil.rmtree, args=(self.root, True), exitpriority=0)

    def assignment(self, name, template=None):
        """(template course folder, helpers the kernel sees, matplotlib font cache, fingerprints of the course code
        off limits) for assignment ``name``, from its ``build_templates`` bytes (made here when None)."""
        if name not in self.prepared:
            folder, helpers_copy = self.root / "templates" / name, self.root / "helpers" / name
            try:
                folder.mkdir(parents=True)
                if template is None:
                    with tempfile.TemporaryDirectory(prefix="template-", dir=self.root) as tmp:
                        template = build_templates([name], Path(tmp))[name]
                with tarfile.open(fileobj=io.BytesIO(template)) as tar:
                    tar.extractall(folder, **SAFE_EXTRACT)
                helpers = prepare_helpers(HELPERS, name, helpers_copy / "helpers")
                self.prepared[name] = (folder, helpers, _matplotlib_cache(), course_fingerprints(HELPERS, name))
            except BaseException:
                # nothing half made stays behind: the next submission tries again and fails with its own error
                shutil.rmtree(folder, ignore_errors=True)
                shutil.rmtree(helpers_copy, ignore_errors=True)
                raise
        return self.prepared[name]


_workspace = None


def workspace():
    global _workspace
    if _workspace is None:
        _workspace = _Workspace()
    return _workspace


_scratch_roots = set()  # folders of this process whose gradebooks are scratch: its workspace, templates being made


@event.listens_for(Engine, "connect")
def _scratch_gradebook_unsynced(connection, _record):
    """A gradebook in a scratch folder (each task's course in the workspace, the templates' course) is written
    without waiting for the disk (no fsync, its journal in memory): it is thrown away with its task or run, and a
    task cut short is graded again. Some 50 transactions a submission: 4-10 % of its grading time, measured. Other
    databases (the output folder's) keep SQLite's defaults."""
    if not _scratch_roots or not isinstance(connection, sqlite3.Connection):
        return
    files = [row[2] for row in connection.execute("PRAGMA database_list")]
    if files and any(files[0].startswith(os.path.join(root, "")) for root in _scratch_roots):
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA journal_mode=MEMORY")


def _matplotlib_cache():
    """matplotlib's font cache file of this environment (lent read-only to every kernel), if it has one."""
    from matplotlib import font_manager, get_cachedir
    font_manager.findfont("DejaVu Sans")  # builds the cache if missing
    found = sorted(Path(get_cachedir()).glob("fontlist-*.json"))
    return os.fspath(found[-1]) if found else None


def _check_version(version):
    space = workspace()
    if version != space.version:
        raise CourseMismatch(f"this worker has the course at version {space.version}, but the submission was sent "
                             f"for version {version}: install the same course (solutions, references and helpers) "
                             f"on every worker")
    return space


def build_templates(assignments, root):
    """{assignment: .tar.gz bytes} of the scratch nbgrader course a submission of it is graded in: a gradebook that
    knows the assignments (``generate_assignment`` of each, into one gradebook at ``root``), and the assignment's source
    folder without the notebooks (the gradebook holds the test cells; no source notebook lies near a submission).

    Made once per grading run, by the instructor's process, and sent to every worker. ``root/gradebook.db`` stays
    there: it records the assignments as ``generate_assignment`` would in the output folder's gradebook.
    """
    root = Path(root)
    _scratch_roots.add(os.fspath(root))
    try:
        for assignment in assignments:
            generate_assignment(assignment, root, SOLUTIONS)
    finally:
        _scratch_roots.discard(os.fspath(root))
    templates = {}
    for assignment in assignments:
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w:gz") as tar:
            tar.add(root / "gradebook.db", arcname="gradebook.db")
            tar.add(root / "source" / assignment, arcname=f"source/{assignment}",
                    filter=lambda member: None if member.name.endswith(".ipynb") else member)
        templates[assignment] = data.getvalue()
    return templates


def run_task(task, template=None):
    """Grades ``task`` (``template``: its assignment's ``build_templates`` bytes, made here when None); returns its
    Result. Raises CourseMismatch when this machine's course differs."""
    space = _check_version(task.course_version)
    space.assignment(task.assignment, template)
    scratch = Path(tempfile.mkdtemp(prefix="task-", dir=space.root))
    watchdog = _Watchdog(task.settings.submission_timeout)
    try:
        with watchdog, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nbgrader's SQLAlchemy warnings would flood the grader's terminal
            result = _grade(task, space, scratch)
        if watchdog.fired:
            return _failed(task, "timeout", f"the submission ran past {task.settings.submission_timeout} s and was "
                                            "stopped")
        return result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def failed_result(task, status, reason):
    """A Result whose every graded cell has 0 points, ``status`` and ``reason``, with pages saying why."""
    return _failed(task, status, reason)


def _failed(task, status, reason):
    rows = [row for notebook, cells in graded_cells(task.assignment).items()
            for row in error_rows(task.student, task.assignment, notebook, cells, status, reason)]
    # cells graded by hand do not depend on the code having run: their answers wait for the instructor
    rows = in_order(rows + manual_rows(task), cell_order(task.assignment))
    return Result(task.student, task.assignment, rows, failure_pages(task, rows, {}), autograded=handed_in(task))


def failure_pages(task, rows, pages):
    """``pages`` plus a page for every notebook of ``rows`` that has none, saying why it could not be graded."""
    pages = dict(pages)
    for notebook in dict.fromkeys(r["notebook"] for r in rows):
        if notebook not in pages:
            pages[notebook] = failure_page(task.student, task.assignment, notebook,
                                           [r for r in rows if r["notebook"] == notebook],
                                           None if task.settings.sandbox else UNSANDBOXED)
    return pages


class _Watchdog:
    """Kills this process's child processes (the sandboxed kernel) once ``seconds`` have passed."""

    def __init__(self, seconds):
        self.seconds, self.fired = seconds, False
        self._done = threading.Event()

    def __enter__(self):
        threading.Thread(target=self._watch, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._done.set()

    def _watch(self):
        if self._done.wait(self.seconds):
            return
        self.fired = True
        from .kernel import kill_children
        kill_children()


def _grade(task, space, scratch):
    student, assignment, settings = task.student, task.assignment, task.settings
    template, helpers, mpl_cache, prints = space.assignment(assignment)
    cells = graded_cells(assignment)
    submission = scratch / "submission"
    submission.mkdir()
    for name, data in task.files.items():
        (submission / name).write_bytes(data)
    course = scratch / "course"
    shutil.copytree(template, course)
    submitted = course / "submitted" / student / assignment
    submitted.mkdir(parents=True)
    (course / "autograded" / student / assignment).mkdir(parents=True)

    rows, problems, warnings, pages = [], {}, [], {}
    for notebook in cells:
        if notebook not in task.notebooks:
            problems[notebook] = ("missing", f"no file {notebook}.ipynb in the submission")
            continue
        try:
            nb = nbformat.reads(task.notebooks[notebook].decode("utf-8"), as_version=4)
            nbformat.validate(nb)
        except Exception as exc:  # noqa: BLE001 - any parse or schema error makes the file ungradable
            problems[notebook] = ("ungradable", "not a valid notebook file "
                                                f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})")
            continue
        (submitted / f"{notebook}.ipynb").write_bytes(task.notebooks[notebook])

    if len(problems) < len(cells):
        rng = random.Random(f"{settings.seed}:{student}:{assignment}" if settings.seed is not None
                            else secrets.randbits(64))
        cases = references.cases_for(assignment, rng, submission)
        write_inputs(cases, course / "source" / assignment)
        config = nbgrader_config(cell_timeout=settings.cell_timeout, sandbox=settings.sandbox,
                                 helpers_source=helpers, limits=settings.limits, mpl_cache=mpl_cache,
                                 demos=demo_cells(assignment))
        api = NbGraderAPI(coursedir=CourseDirectory(root=os.fspath(course), config=config), config=config)
        result = api.autograde(assignment, student, force=True, create=True)
        rows += _judge(course, task, cells, problems, result, cases, prints, warnings)
        try:
            pages = _feedback(course, task)
        except Exception as exc:  # noqa: BLE001 - the grades stand without feedback; say so
            warnings.append(f"no feedback for {task.key}: {exc}")
    for notebook, (status, reason) in problems.items():
        rows += error_rows(student, assignment, notebook, cells[notebook], status, reason)
    rows = in_order(rows + manual_rows(task), cell_order(assignment))
    autograded = _autograded(course, task) if len(problems) < len(cells) else handed_in(task)
    return Result(student, assignment, rows, failure_pages(task, rows, pages), warnings, autograded)


def _judge(course, task, cells, problems, result, cases, prints, warnings):
    """Rows for the notebooks that ran: each graded cell judged by ``autograder.trusted`` from the results the
    kernel recorded. The trusted score replaces nbgrader's in the gradebook (so the feedback shows it) and the
    grader's check lines are added to the cell's output in the graded notebook. Checks that raised are logged in
    ``warnings`` with their tracebacks; functions pasted from the course's code (``prints``) are flagged."""
    student, assignment = task.student, task.assignment
    rows = []
    failure = None if result.get("success") else notebook_failure(result.get("log", "") + result.get("error", ""))
    run_dir = course / "autograded" / student / assignment
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for notebook, cell_points in cells.items():
            if notebook in problems:
                continue
            path = run_dir / f"{notebook}.ipynb"
            if failure or not path.exists():
                status, reason = failure or ("error", "the notebook could not be executed")
                rows += error_rows(student, assignment, notebook, cell_points, status, reason)
                continue
            nb = nbformat.read(path, as_version=4)
            reached = limits_reached(nb, task.settings.limits) if task.settings.sandbox else []
            flags = "; ".join(f"{mine} is the course's {theirs} pasted in (same tokens, names normalised)"
                              for mine, theirs in pasted([c.source for c in nb.cells if c.cell_type == "code"],
                                                         prints))
            by_id = {grade_id(c): c for c in nb.cells}
            grades = {g.name: g for g in gb.find_submission_notebook(notebook, assignment, student).grades}
            for cell, max_points in cell_points:
                grade, nb_cell = grades[cell], by_id.get(cell)
                kernel_points = grade.score if grade.score is not None else 0.0
                judgement = judge_cell(cases[cell], read_results(run_dir, cell, len(cases[cell])), max_points)
                points, lines = judgement.points, judgement.lines
                warnings += [f"grader error in {task.key} {cell}: {e}" for e in judgement.grader_errors]
                grade.auto_score = points
                status, reason = cell_outcome(judgement, nb_cell, max_points, reached)
                if kernel_points != points:
                    reason = short(f"the notebook's own tests gave {kernel_points:g}; the grader's checks give "
                                   f"{points:g} and decide" + (f": {reason}" if reason else ""))
                if nb_cell is not None:
                    nb_cell.outputs.append(nbformat.v4.new_output(
                        "stream", name="stdout", text=GRADER_HEADER + "".join(f"{line}\n" for line in lines)))
                rows.append(dict(zip(FIELDS, (student, assignment, notebook, cell, points, max_points,
                                              status, reason, flags)),
                                 checks=[vars(check) for check in judgement.checks]))
            gb.db.commit()
            _write_notebook(nb, path)
    return rows


def _feedback(course, task):
    """{notebook: HTML} of the graded notebooks, hidden tests and their tracebacks removed; a notebook graded
    without the sandbox says so at its top."""
    student, assignment = task.student, task.assignment
    autograded = course / "autograded" / student / assignment
    notebooks = sorted(autograded.glob("*.ipynb"))
    if not notebooks:
        return {}
    source_cells = _source_cells(course, assignment)
    pages = {}
    for path in notebooks:
        nb = scrub_notebook(nbformat.read(path, as_version=4), source_cells)
        _note_manual(nb, assignment, path.stem)
        if not task.settings.sandbox:
            nb.cells.insert(0, nbformat.v4.new_markdown_cell(f"**Note:** {UNSANDBOXED} (`--no-sandbox`)."))
        resources = {"metadata": {"name": path.stem}, "unique_key": path.stem,
                     "nbgrader": {"student": student, "assignment": assignment, "notebook": path.stem,
                                  "db_url": f"sqlite:///{course / 'gradebook.db'}"}}
        pages[path.stem] = feedback_exporter().from_notebook_node(nb, resources)[0]
    return pages


def _note_manual(nb, assignment, notebook):
    """Puts a note under each cell graded by hand: the feedback page shows it 0 points until the instructor's
    score is in (the score in the output folder's gradebook.db, which this page does not read)."""
    manual = {cell for cell, _ in manual_cells(assignment).get(notebook, [])}
    for index in reversed([i for i, c in enumerate(nb.cells) if grade_id(c) in manual]):
        nb.cells.insert(index + 1, nbformat.v4.new_markdown_cell(MANUAL_NOTE))


def _autograded(course, task):
    """{notebook: bytes} for the output folder's ``autograded/`` (formgrader shows them): each notebook as graded,
    with the grader's check lines in the test cells' output and hidden tests taken out as in the feedback; a
    notebook that did not run as handed in."""
    notebooks = handed_in(task)
    source_cells = None
    for path in sorted((course / "autograded" / task.student / task.assignment).glob("*.ipynb")):
        if path.stem in notebooks:
            source_cells = _source_cells(course, task.assignment) if source_cells is None else source_cells
            notebooks[path.stem] = nbformat.writes(scrub_notebook(nbformat.read(path, as_version=4),
                                                                  source_cells)).encode()
    return notebooks


def _write_notebook(nb, path):
    """Overwrites a graded notebook (nbgrader leaves it read-only)."""
    os.chmod(path, 0o644)
    nbformat.write(nb, path)


def _source_cells(course, assignment):
    """The test cells of the assignment as the gradebook stores them (hidden tests included)."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return [{"source": cell.source} for nb in gb.find_assignment(assignment).notebooks
                for cell in nb.source_cells if cell.source]
