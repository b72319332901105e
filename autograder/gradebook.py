"""The output folder of ``grade`` is an nbgrader course folder that formgrader opens.

Besides ``grades.csv``, ``checks.csv`` and ``feedback/``, ``grade`` writes (in the instructor's process, from the
Results the workers sent back: no file system is shared with them)

- ``gradebook.db``: nbgrader's gradebook. Each assignment graded is recorded as ``nbgrader generate_assignment``
  records it (notebooks, grade, solution, task and source cells, from ``solutions/``), each submission with the
  grader's trusted points as ``auto_score`` of its autograded cells; the cells graded by hand
  (``autograder.manual``) are left without a score and flagged ``needs_manual_grade``, as nbgrader does.
- ``submitted/<student>/<assignment>/<notebook>.ipynb``: the notebooks as handed in (formgrader counts them);
- ``autograded/<student>/<assignment>/<notebook>.ipynb``: the notebooks as graded (the grader's check lines in the
  test cells' output, hidden tests taken out), or as handed in where a notebook could not run.
- ``source/<assignment>/``: the assignment's source notebooks (solutions, rubrics), as in any nbgrader course
  folder: formgrader lists the assignments it finds there.
- ``nbgrader_config.py``: names the course and this folder as its root, so ``jupyter lab`` started here finds it.

**One submission per student and assignment.** A submission graded again (a re-run, ``--force``, ``--student``)
replaces the old one in the gradebook. Scores and comments entered by hand in formgrader are kept when what they
judge did not change: for a written answer (or its comment), the text of that answer cell; for a score set by hand
on an autograded cell or a task, the student's code, i.e. every answer cell of that notebook. Otherwise they are
dropped, with a warning naming them, and the cell waits for grading again.

``final_rows`` is what the exports and the report read: the rows of ``grades.csv`` with the scores entered in
formgrader applied (manual score, extra credit).
"""
import contextlib
import csv
import os
import shutil
import sys
import tempfile
import warnings as python_warnings
from pathlib import Path

import nbformat
from nbgrader.api import (Assignment, BaseCell, Gradebook, Grade, MissingEntry, Notebook, SubmittedAssignment,
                          SubmittedNotebook)
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from sqlalchemy import or_

from .course import COURSE_ID, SOLUTIONS, nbgrader_config
from .manual import parse
from .outcomes import BY_HAND, NEEDS_MANUAL, last_error, short
from .release import GraderError
from .task import nbgrader

DB = "gradebook.db"
SOURCE_IGNORED = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.npz")
CONFIG = "nbgrader_config.py"
CONFIG_TEXT = f'''# Written by `python -m autograder grade`: this folder is an nbgrader course folder.
# Start JupyterLab here (`jupyter lab`) and open Nbgrader > Formgrader to grade by hand.
import os

c = get_config()  # noqa: F821 - given by traitlets
c.CourseDirectory.course_id = "{COURSE_ID}"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
'''


def db_url(out):
    return f"sqlite:///{Path(out).resolve() / DB}"


def write_config(out):
    path = Path(out) / CONFIG
    if not path.exists() or path.read_text() != CONFIG_TEXT:
        path.write_text(CONFIG_TEXT)


# ------------------------------------------------------------------------------------------------ writing (grade)

def prepare(out, todo, tasks, solutions=SOLUTIONS, scratch=None, recorded=None):
    """Records in ``out/gradebook.db`` each assignment of ``todo`` as the course has it now, before grading.

    ``recorded``: a gradebook in which ``generate_assignment`` recorded those assignments, from the same
    ``solutions`` (the one ``autograder.run.build_templates`` leaves). Where ``out`` has no gradebook yet, it starts
    as a copy of that one, and nbgrader does not record them a second time.

    nbgrader works in a scratch course folder per assignment, under ``scratch`` (left there for the caller to
    remove) or a temporary folder. nbgrader makes it the process's current folder while it works: a process started
    meanwhile (a Dask worker) starts there, so ``grade``, which starts its workers meanwhile, passes a ``scratch``
    that outlives them.

    When an assignment's cells changed since its submissions were recorded, nbgrader refuses to change it: if every
    submission of it is about to be graded again, they are taken out first (what was entered by hand is carried
    over to ``Recorder``, see the module docstring); otherwise GraderError asks for ``--force``.

    Returns the carried-over hand grading, {(student, assignment): what ``_entered`` gives}.
    """
    out = Path(out)
    write_config(out)
    if recorded is not None and not (out / DB).exists():
        shutil.copyfile(recorded, out / f"{DB}.part")
        os.replace(out / f"{DB}.part", out / DB)
        for assignment in sorted({t.assignment for t in todo}):
            _copy_source(out, assignment, solutions)
        return {}
    carried = {}
    for assignment in sorted({t.assignment for t in todo}):
        try:
            _generate(out, assignment, solutions, scratch)
            continue
        except GraderError as exc:
            if "submissions" not in str(exc):
                raise
            everyone = {t.student for t in tasks if t.assignment == assignment}
            if not everyone <= {t.student for t in todo if t.assignment == assignment}:
                raise GraderError(f"{assignment} has other graded cells or notebooks than when {out / DB} recorded "
                                  f"its submissions: grade them all again with --force") from None
        with Gradebook(db_url(out)) as gb:
            for submission in list(gb.find_assignment(assignment).submissions):
                student = submission.student.id
                carried[(student, assignment)] = _entered(gb, out, student, assignment)
                gb.remove_submission(assignment, student)
        _generate(out, assignment, solutions, scratch)
    return carried


def _generate(out, assignment, solutions, scratch=None):
    """nbgrader's generate_assignment on a scratch copy of the source (under ``scratch``, or a temporary folder),
    recording into ``out``'s gradebook; then the source notebooks go to ``out/source/<assignment>/`` (formgrader lists
    the assignments it finds there, and links to their source: where the grader reads the rubric of a written
    answer)."""
    with contextlib.ExitStack() as stack:
        tmp = (tempfile.mkdtemp(prefix=f"{assignment}-", dir=scratch) if scratch else
               stack.enter_context(tempfile.TemporaryDirectory(prefix="autograder-gradebook-")))
        shutil.copytree(Path(solutions) / assignment, Path(tmp) / "source" / assignment, ignore=SOURCE_IGNORED)
        config = nbgrader_config(sandbox=False)
        config.CourseDirectory.db_url = db_url(out)
        api = NbGraderAPI(coursedir=CourseDirectory(root=tmp, config=config), config=config)
        result = api.generate_assignment(assignment, force=True, create=True)
    if not result.get("success"):
        raise GraderError(f"cannot record {assignment} in {Path(out) / DB}: "
                          f"{last_error(result.get('log', '') + result.get('error', ''))}")
    _copy_source(out, assignment, solutions)


def _copy_source(out, assignment, solutions):
    shutil.rmtree(Path(out) / "source" / assignment, ignore_errors=True)
    shutil.copytree(Path(solutions) / assignment, Path(out) / "source" / assignment, ignore=SOURCE_IGNORED)


class Recorder:
    """Writes Results into ``out/gradebook.db`` and ``out/autograded/`` one by one, as they come back from the
    workers, and the notebooks of their Task (in ``tasks``) into ``out/submitted/``, replacing an earlier submission
    of the same student and assignment: ``with Recorder(out, carried, tasks) as recorder: recorder.add(result)``.
    ``carried``: the hand grading ``prepare`` took out. On leaving, the warnings (hand grading dropped because the
    work changed) are printed to ``log`` and kept in ``warnings``."""

    def __init__(self, out, carried=None, tasks=(), log=None):
        self.out, self.log = Path(out), log or sys.stderr
        self.carried = carried or {}
        self.handed = {task.key: task for task in tasks}
        self.warnings = []

    def __enter__(self):
        self.gb = Gradebook(db_url(self.out))
        return self

    def __exit__(self, *exc):
        self.gb.close()
        for warning in self.warnings:
            print(f"warning: {warning}", file=self.log)

    def add(self, result):
        with python_warnings.catch_warnings():
            # nbgrader's add_submission after remove_submission makes SQLAlchemy warn about its own session
            python_warnings.filterwarnings("ignore", message="Object of type .* not in session", module="nbgrader")
            self._add(result)

    def _add(self, result):
        out, gb = self.out, self.gb
        student, assignment = result.student, result.assignment
        folder = out / "autograded" / student / assignment
        entered = self.carried.get((student, assignment))
        if entered is None:
            entered = _entered(gb, out, student, assignment)
        try:
            gb.remove_submission(assignment, student)
        except MissingEntry:
            pass
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        task = self.handed.get(f"{student}/{assignment}")
        if task is not None:   # as handed in: formgrader counts the submissions in submitted/
            submitted = out / "submitted" / student / assignment
            shutil.rmtree(submitted, ignore_errors=True)
            submitted.mkdir(parents=True)
            for name, data in task.notebooks.items():
                (submitted / f"{name}.ipynb").write_bytes(data)
        notebooks = {}
        for name, data in result.autograded.items():
            (folder / f"{name}.ipynb").write_bytes(data)
            notebooks[name] = parse(data)
        gb.update_or_create_student(student)
        submission = gb.add_submission(assignment, student)
        rows = {(r["notebook"], r["cell"]): r for r in result.rows}
        kept = set()
        for nb in submission.notebooks:
            for grade in nb.grades:
                row = rows.get((nb.name, grade.name))
                if row is None:
                    continue
                grade.auto_score = None if row["points"] is None else float(row["points"])
                grade.needs_manual_grade = row["points"] is None
                old = entered.get((nb.name, grade.name, "grade"))
                if old and old[-1] == _answer(notebooks.get(nb.name), grade.name):
                    grade.manual_score, grade.extra_credit = old[0], old[1]
                    grade.needs_manual_grade = False
                    kept.add((nb.name, grade.name, "grade"))
            for comment in nb.comments:
                old = entered.get((nb.name, comment.name, "comment"))
                if old and old[-1] == _answer(notebooks.get(nb.name), comment.name):
                    comment.manual_comment = old[0]
                    kept.add((nb.name, comment.name, "comment"))
        gb.db.commit()
        for notebook, cell, kind in sorted(set(entered) - kept):
            self.warnings.append(f"{student}/{assignment}: the {'score' if kind == 'grade' else 'comment'} entered "
                                 f"by hand for {notebook}/{cell} was dropped: the work it judged changed (or the "
                                 "cell is gone); grade it again in formgrader")


def _entered(gb, out, student, assignment):
    """What was entered by hand in formgrader for this submission: {(notebook, cell, "grade"): (manual score,
    extra credit, answer), (notebook, cell, "comment"): (comment, answer)}; answer as ``_answer`` gives it for the
    notebook now in ``out/autograded/``."""
    try:
        submission = gb.find_submission(assignment, student)
    except MissingEntry:
        return {}
    entered = {}
    for nb in submission.notebooks:
        if not any(g.manual_score is not None or g.extra_credit is not None for g in nb.grades) and \
                not any(c.manual_comment for c in nb.comments):
            continue   # nothing entered by hand: no need to read the notebook
        path = Path(out) / "autograded" / student / assignment / f"{nb.name}.ipynb"
        node = parse(path.read_bytes()) if path.is_file() else None
        for grade in nb.grades:
            if grade.manual_score is not None or grade.extra_credit is not None:
                entered[(nb.name, grade.name, "grade")] = (grade.manual_score, grade.extra_credit,
                                                           _answer(node, grade.name))
        for comment in nb.comments:
            if comment.manual_comment:
                entered[(nb.name, comment.name, "comment")] = (comment.manual_comment, _answer(node, comment.name))
    return entered


def _answer(nb, cell):
    """What a score of ``cell`` judges in notebook ``nb``: an answer cell's own text; for any other cell (a test
    cell whose score was set by hand, a task) the text of every answer cell of the notebook. None: no notebook."""
    if nb is None:
        return None
    answers = {nbgrader(c).get("grade_id"): c.source for c in nb.cells if nbgrader(c).get("solution")}
    if cell in answers:
        return answers[cell]
    return tuple(sorted(answers.items()))


# ------------------------------------------------------------------------------------------ reading (the exports)

def entered_scores(out):
    """{(student, assignment, notebook, cell): (manual score, extra credit)} of every score entered by hand in
    ``out/gradebook.db`` (empty when there is no gradebook)."""
    path = Path(out) / DB
    if not path.is_file():
        return {}
    with Gradebook(db_url(out)) as gb:
        query = (gb.db.query(SubmittedAssignment.student_id, Assignment.name, Notebook.name, BaseCell.name,
                             Grade.manual_score, Grade.extra_credit)
                 .select_from(Grade)
                 .join(SubmittedNotebook, Grade.notebook_id == SubmittedNotebook.id)
                 .join(SubmittedAssignment, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
                 .join(Notebook, SubmittedNotebook.notebook_id == Notebook.id)
                 .join(Assignment, Notebook.assignment_id == Assignment.id)
                 .join(BaseCell, Grade.cell_id == BaseCell.id)
                 .filter(or_(Grade.manual_score.isnot(None), Grade.extra_credit.isnot(None))))
        return {(s, a, n, c): (manual, extra) for s, a, n, c, manual, extra in query}


def points(value):
    """A points cell of grades.csv as a float, or None when empty (a cell waiting to be graded by hand)."""
    return None if value in (None, "") else float(value)


def final_rows(out):
    """The rows of ``out/grades.csv`` (points as float, None while a cell waits for grading by hand) with what was
    entered in formgrader applied: a manual score replaces the grader's, extra credit is added (nbgrader's rule);
    a cell graded by hand becomes status ``graded by hand``."""
    with open(Path(out) / "grades.csv", newline="") as f:
        rows = [dict(row, points=points(row["points"]), max_points=points(row["max_points"]) or 0.0)
                for row in csv.DictReader(f)]
    entered = entered_scores(out)
    for row in rows:
        found = entered.get((row["student"], row["assignment"], row["notebook"], row["cell"]))
        if found is None:
            continue
        manual, extra = found
        base = manual if manual is not None else row["points"]
        if base is None:
            continue  # extra credit on a cell still waiting for its score
        score = float(base) + float(extra or 0)
        if row["status"] == NEEDS_MANUAL:
            row.update(points=score, status=BY_HAND, reason=f"graded by hand in formgrader: {score:g} of "
                                                            f"{row['max_points']:g}")
        else:
            before = row["points"]
            row["reason"] = short(f"score set by hand in formgrader: {score:g} (the grader gave "
                                  f"{before if before is not None else 0:g})" + (f"; {row['reason']}" if row["reason"] else ""))
            row["points"] = score
    return rows


def course_folder_note(out):
    """Where formgrader finds this course folder (printed after grading)."""
    return (f"nbgrader course folder: {os.path.join(out, DB)} and {os.path.join(out, 'autograded')}; "
            f"grade by hand: cd {out} && jupyter lab, then Nbgrader > Formgrader")
