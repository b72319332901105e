"""Where the course's files are, which assignments exist, and the nbgrader configuration every run uses."""
import functools
import os
import re
import sys
from pathlib import Path

import nbformat
import nbgrader.api
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearOutput, DeduplicateIds,
                                    IgnorePattern, OverwriteKernelspec, SaveAutoGrades)
from nbconvert.preprocessors import ClearMetadataPreprocessor
from traitlets.config import Config

from .demos import DEMO_TAG
from .kernel import GradingExecute, SandboxedExecute
from .limits import LimitOutputSize
from .restore import RestoreMissingCells
from .sandbox import Limits

COURSE_ID = "convnets"
REPO_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO_ROOT / "solutions"
HELPERS = REPO_ROOT / "helpers"
NOTEBOOKS = REPO_ROOT / "notebooks"
ASSIGNMENT_NAME = re.compile(r"^\d\d_[a-z0-9_]+$")

# Limits for one submission. A cell that runs longer than CELL_TIMEOUT seconds is interrupted and scores 0; the
# kernel's own limits (processes, memory, CPU time, disk) are autograder.sandbox.Limits.
CELL_TIMEOUT = 60
OUTPUT_LINES = 200

# nbgrader runs the `alembic` command of its environment: make sure that environment's bin/ is on PATH,
# also when this package is used through `.venv/bin/python` without an activated venv.
_BIN = os.path.dirname(sys.executable)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")


@functools.cache
def alembic_head():
    """The migration head nbgrader stamps into every gradebook it creates, read in this process from nbgrader's
    migration scripts. nbgrader itself runs the `alembic heads` command for it each time (a Python subprocess:
    1 to 3 s on 2 cores, most of the time to prepare an assignment for grading) for an answer fixed by the
    installed nbgrader."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR
    config = AlembicConfig()
    config.set_main_option("script_location", ALEMBIC_DIR)
    return ScriptDirectory.from_config(config).get_current_head()


nbgrader.api.get_alembic_version = alembic_head


def assignments(solutions=SOLUTIONS):
    """The assignment names (folders like ``01_conv_arithmetic``) in teaching order."""
    if not Path(solutions).is_dir():
        return []
    return sorted(p.name for p in Path(solutions).iterdir() if p.is_dir() and ASSIGNMENT_NAME.match(p.name))


def _nbgrader(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def is_manual(cell):
    """nbgrader's hand-graded cells: a "manually graded answer" (grade and solution: a written answer, markdown
    or code) or a "manually graded task" (task)."""
    meta = _nbgrader(cell)
    return bool(meta.get("task") or (meta.get("grade") and meta.get("solution")))


def is_autograded(cell):
    """nbgrader's "autograder tests" cells: graded, not an answer, not a task. The grader's checks
    (``autograder.references``) judge them."""
    meta = _nbgrader(cell)
    return bool(meta.get("grade")) and not is_manual(cell)


@functools.lru_cache(maxsize=None)
def _cells(assignment, solutions, kind):
    cells = {}
    for path in sorted((Path(solutions) / assignment).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        cells[path.stem] = [(c.metadata["nbgrader"]["grade_id"], float(c.metadata["nbgrader"]["points"]))
                            for c in nb.cells if (is_manual(c) if kind == "manual" else is_autograded(c))]
    return cells


def graded_cells(assignment, solutions=SOLUTIONS):
    """{notebook name: [(grade_id, points), ...]} of the autograded test cells of ``assignment``, in notebook
    order (every notebook of the assignment is a key)."""
    return _cells(assignment, Path(solutions), "auto")


def manual_cells(assignment, solutions=SOLUTIONS):
    """{notebook name: [(grade_id, points), ...]} of the cells of ``assignment`` graded by hand (``is_manual``), in
    notebook order (every notebook of the assignment is a key)."""
    return _cells(assignment, Path(solutions), "manual")


@functools.lru_cache(maxsize=None)
def cell_order(assignment, solutions=SOLUTIONS):
    """{(notebook, grade_id): position} of every graded cell, autograded or by hand: the order of grades.csv."""
    order = {}
    for path in sorted((Path(solutions) / assignment).glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if is_manual(cell) or is_autograded(cell):
                order[(path.stem, cell.metadata["nbgrader"]["grade_id"])] = len(order)
    return order


@functools.lru_cache(maxsize=None)
def demo_cells(assignment, solutions=SOLUTIONS):
    """{cell id: source} of the code cells of ``assignment`` tagged ``DEMO_TAG``: demonstrations (a widget, a
    timing, a figure, a printed check) that grade nothing, which grading leaves out where that changes nothing
    else (``autograder.demos``)."""
    return {c.id: c.source for path in sorted((Path(solutions) / assignment).glob("*.ipynb"))
            for c in nbformat.read(path, as_version=4).cells
            if c.cell_type == "code" and DEMO_TAG in c.metadata.get("tags", [])}


def nbgrader_config(cell_timeout=CELL_TIMEOUT, sandbox=True, helpers_source=None, limits=Limits(), mpl_cache=None,
                    demos=None):
    """The traitlets Config for NbGraderAPI.

    Args:
        cell_timeout: seconds a cell may run before it is interrupted (and scores 0).
        sandbox: seal kernels with ``autograder.sandbox`` (False: ``--no-sandbox``, trusted work only).
        helpers_source: what the kernel sees as ``helpers/`` (``autograder.guard.prepare_helpers``).
        limits: the kernel's ``autograder.sandbox.Limits``.
        mpl_cache: matplotlib's font cache file, lent read-only to the kernel.
        demos: ``demo_cells`` of the assignment, not run.
    """
    c = Config()
    c.CourseDirectory.course_id = COURSE_ID
    # *.npz: trained weights are never released, nor copied next to a kernel; the grader reads a submission's own
    # checkpoint from the submission folder (autograder.references.cases_for)
    c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*", "*.npz"]
    # nbgrader's default leaves a deleted test cell unscored, and its own restoring is broken (see restore.py).
    c.Autograde.sanitize_preprocessors = [ClearOutput, DeduplicateIds, OverwriteKernelspec, RestoreMissingCells,
                                          CheckCellMetadata]
    c.RestoreMissingCells.add_missing_cells = True
    c.Execute.timeout = cell_timeout
    c.Execute.interrupt_on_timeout = True
    c.Execute.startup_timeout = 120
    c.LimitOutputSize.max_lines = OUTPUT_LINES
    c.LimitOutputSize.max_traceback = 40
    c.GradingExecute.demo_cells = dict(demos or {})
    c.Autograde.autograde_preprocessors = [SandboxedExecute if sandbox else GradingExecute, IgnorePattern,
                                           ClearMetadataPreprocessor, LimitOutputSize, SaveAutoGrades,
                                           AssignLatePenalties, CheckCellMetadata]
    if sandbox:
        c.SandboxKernelManager.helpers_dir = os.fspath(HELPERS)
        c.SandboxKernelManager.helpers_source = os.fspath(helpers_source or HELPERS)
        c.SandboxKernelManager.processes = limits.processes
        c.SandboxKernelManager.memory_mb = limits.memory_mb
        c.SandboxKernelManager.cpu_seconds = limits.cpu_seconds
        c.SandboxKernelManager.disk_mb = limits.disk_mb
        c.SandboxKernelManager.mpl_cache = os.fspath(mpl_cache or "")
    return c
