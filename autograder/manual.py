"""Cells graded by hand: nbgrader's "manually graded answer" cells (a written answer in markdown, or code judged by
a person) and "manually graded task" cells.

The grader cannot score them, so their rows in ``grades.csv`` say ``needs manual grading`` with empty points (not 0:
the score is not known yet) and the cell's points as ``max_points``. An answer cell left as it was released gets 0
points and status ``failed`` at once ("no answer"), as nbgrader itself does. The instructor enters the scores in
nbgrader's formgrader, on the output folder's ``gradebook.db`` (``autograder.gradebook``); the exports read them
from there.

Rows are decided from the notebook as handed in, so a submission whose code timed out or crashed still has its
written answers waiting for the instructor (and its notebook in ``autograded/`` for formgrader to show).
"""
import nbformat
from nbgrader.utils import compute_checksum

from .course import manual_cells
from .outcomes import FIELDS, NEEDS_MANUAL, error_rows
from .task import grade_id, nbgrader

PENDING = "answered; the instructor grades it by hand (formgrader)"
TASK_PENDING = "a task graded by hand: the instructor grades it (formgrader)"
NO_ANSWER = "no answer: the cell is as it was released"
LOST = "no answer: the answer cell was deleted or lost its nbgrader metadata"


def parse(data):
    """The notebook of ``data`` (bytes), or None when it is not a valid notebook."""
    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
        nbformat.validate(nb)
        return nb
    except Exception:  # noqa: BLE001 - any parse or schema error: not a notebook
        return None


def answered(cell):
    """False when an answer cell still has the text it was released with (nbgrader's checksum in its metadata
    matches). Tasks have no answer of their own: always True. A student can only lose by faking the checksum."""
    meta = nbgrader(cell)
    if meta.get("task") or "checksum" not in meta:
        return True
    return meta["checksum"] != compute_checksum(cell)


def manual_rows(task):
    """The rows of ``task``'s cells graded by hand: ``needs manual grading`` (points None), or 0 points when there
    is nothing to grade (no answer, missing or unreadable notebook)."""
    rows = []
    for notebook, cells in manual_cells(task.assignment).items():
        if not cells:
            continue
        if notebook not in task.notebooks:
            rows += error_rows(task.student, task.assignment, notebook, cells, "missing",
                               f"no file {notebook}.ipynb in the submission")
            continue
        nb = parse(task.notebooks[notebook])
        if nb is None:
            rows += error_rows(task.student, task.assignment, notebook, cells, "ungradable",
                               "not a valid notebook file")
            continue
        by_id = {grade_id(c): c for c in nb.cells}
        for cell, max_points in cells:
            found = by_id.get(cell)
            if found is None:
                points, status, reason = 0.0, "failed", LOST
            elif not answered(found):
                points, status, reason = 0.0, "failed", NO_ANSWER
            else:
                points, status = None, NEEDS_MANUAL
                reason = TASK_PENDING if nbgrader(found).get("task") else PENDING
            rows.append(dict(zip(FIELDS, (task.student, task.assignment, notebook, cell, points, max_points, status,
                                          reason, "")), checks=[]))
    return rows


def handed_in(task):
    """{notebook: bytes} of the task's notebooks that parse: what ``autograded/`` shows for a notebook the grader
    could not run (timeout, dead kernel), so that its written answers can still be graded by hand."""
    return {name: data for name, data in task.notebooks.items() if parse(data) is not None}


def in_order(rows, order):
    """``rows`` sorted as the cells stand in the notebooks (``autograder.course.cell_order``)."""
    return sorted(rows, key=lambda r: (r["notebook"], order.get((r["notebook"], r["cell"]), len(order))))
