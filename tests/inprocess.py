"""Grading without the sandbox, in this process: a notebook's cells run into a namespace dict, the grader's calls
are made on it and judged by the references, as ``autograder.trusted.judge_cell`` would judge them.

Fast enough to grade every corpus mistake with many seeds (seconds per mistake instead of a kernel per notebook),
and for that it trusts the code it runs: use it only on the course's own solutions and mistake corpora. Results
still cross ``helpers.dataout``'s ``encode``/``decode``, so the judges see what they would see after the sandbox.

How a notebook runs here: every code cell in order (IPython magics dropped), solution cells replaced by the
answer under test; test cells run with a stand-in ``TestCell`` whose checks do nothing, so that the wrappers they
define (``_bn_forward_run``...) exist without running the visible checks. The namespace of the solutions is built
once per notebook; a mistake re-runs, into a copy, its own cell and the solution and test cells after it, and of
the other cells after it only their imports, functions and classes (the demos and plots are not re-run: what
they computed stays as the solutions left it). Functions defined before the mistake's cell keep the original
namespace as their globals, which is right as long as none of them calls a name that a later cell defines: true
of every notebook of the course.

    python tests/inprocess.py 40 [assignment or mistake-id substring]   # the seed sweep: FLAKY lines, if any
"""
import ast
import contextlib
import io
import linecache
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import helpers.checks  # noqa: E402
from autograder import references  # noqa: E402
from autograder.course import SOLUTIONS  # noqa: E402
from autograder.outcomes import cell_outcome  # noqa: E402
from autograder.trusted import judge_cell  # noqa: E402
from conftest import load_mistakes  # noqa: E402
from helpers.dataout import decode, encode  # noqa: E402
from studentwork import solution_code  # noqa: E402

POINTS = 10.0  # any cell's points: only full marks or not, and the messages, matter here


class _SilentTestCell:
    """Stands in for ``helpers.checks.TestCell`` while the test cells only define their wrappers."""

    def __init__(self, points):
        self.points = points

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __getattr__(self, name):  # equal, true, raises, record_for_grader, score...: nothing to do
        return lambda *args, **kwargs: None


@dataclass
class Cell:
    grade_id: str
    source: str
    kind: str  # "solution", "test" (a graded cell of tests) or "other"


def _definitions(source):
    """Only the imports, functions and classes of a cell's top level (its other statements dropped)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    kept = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)
    return ast.unparse(ast.Module([node for node in tree.body if isinstance(node, kept)], type_ignores=[]))


def _cells(assignment, notebook):
    nb = nbformat.read(SOLUTIONS / assignment / f"{notebook}.ipynb", as_version=4)
    cells = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        source = solution_code(cell.source) if meta.get("solution") else cell.source
        source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
        kind = "solution" if meta.get("solution") else "test" if meta.get("grade") else "other"
        cells.append(Cell(meta.get("grade_id", f"cell{index}"), source, kind))
    return cells


def _run_cells(cells, namespace, folder):
    """Runs ``cells`` into ``namespace`` in ``folder``; a cell that raises stops only itself (as a student's)."""
    real, helpers.checks.TestCell = helpers.checks.TestCell, _SilentTestCell
    here = os.getcwd()
    try:
        os.chdir(folder)
        for cell in cells:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                filename = f"<cell {cell.grade_id}>"  # a cell's name for helpers.dataout.raising_line
                linecache.cache[filename] = (len(cell.source), None, cell.source.splitlines(True), filename)
                try:
                    exec(compile(cell.source, filename, "exec"), namespace)
                except Exception:  # noqa: BLE001 - a broken answer is graded, not fatal
                    pass
    finally:
        helpers.checks.TestCell = real
        os.chdir(here)
    return namespace


class Notebook:
    """One notebook of the solutions, run once; ``with_answer`` gives the namespace with one cell answered."""

    def __init__(self, assignment, notebook):
        self.assignment, self.folder = assignment, SOLUTIONS / assignment
        self.cells = _cells(assignment, notebook)
        self.solved = _run_cells(self.cells, {"__name__": "__main__"}, self.folder)

    def with_answer(self, grade_id, code):
        start = next(i for i, cell in enumerate(self.cells) if cell.grade_id == grade_id)
        later = [cell if cell.kind != "other" else Cell(cell.grade_id, _definitions(cell.source), "other")
                 for cell in self.cells[start + 1:]]
        return _run_cells([Cell(grade_id, code, "solution")] + later, dict(self.solved), self.folder)


def _call(namespace, case):
    """What the student's function returns on ``case``'s inputs, after the trip through the data-out codec."""
    try:
        function = namespace[case.call]
        return decode(encode(function(*decode(encode(tuple(case.args))), **decode(encode(dict(case.kwargs))))))
    except Exception as exc:  # noqa: BLE001 - the grader judges the exception
        return decode(encode(exc))


def grade_cell(notebook, namespace, test_cell, seed):
    """The ``autograder.trusted.Judgement`` of ``test_cell`` for the grader's inputs of ``seed``."""
    cases = references.cases_for(notebook.assignment, random.Random(seed), submission=notebook.folder)[test_cell]
    here = os.getcwd()
    try:
        os.chdir(notebook.folder)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            results = [_call(namespace, case) for case in cases]
    finally:
        os.chdir(here)
    return judge_cell(cases, results, POINTS)


def first_failure(judgement):
    """The message of the first failing check of a judgement ("" if it passed)."""
    return next((check.message for check in judgement.checks if not check.passed), "")


def misses(notebook, mistake, seeds):
    """[(seed, points, reason)] for the seeds where ``mistake`` keeps full marks or loses its message."""
    namespace = notebook.with_answer(mistake["cell"], mistake["code"])
    found = []
    for seed in seeds:
        judgement = grade_cell(notebook, namespace, mistake["test_cell"], seed)
        _, reason = cell_outcome(judgement, None, POINTS)
        if judgement.points >= POINTS or mistake["message"] not in reason:
            found.append((seed, judgement.points, reason))
    return found


_NOTEBOOKS = {}


def notebook_of(assignment, notebook):
    """The ``Notebook`` of the solutions, built once per process."""
    if (assignment, notebook) not in _NOTEBOOKS:
        _NOTEBOOKS[assignment, notebook] = Notebook(assignment, notebook)
    return _NOTEBOOKS[assignment, notebook]


def corpus(only=None):
    """[(assignment, notebook, mistake)] of every corpus, those whose assignment or id contains ``only``."""
    return [(a, nb, m) for _, a, nb, m in load_mistakes() if not only or only in a or only in m["id"]]


def main(seeds, only=None):
    flaky = 0
    for assignment, name, mistake in corpus(only):
        start = time.time()
        found = misses(notebook_of(assignment, name), mistake, range(seeds))
        flaky += bool(found)
        print(f"{'FLAKY' if found else 'ok':5} {mistake['id']:55} {len(found)}/{seeds} {time.time() - start:.1f}s",
              flush=True)
        for seed, points, reason in found[:2]:
            print(f"      seed {seed}: {points} points: {reason[:200]}", flush=True)
    print(f"{flaky} flaky")
    return flaky


if __name__ == "__main__":
    sys.exit(bool(main(int(sys.argv[1]) if len(sys.argv) > 1 else 40, sys.argv[2] if len(sys.argv) > 2 else None)))
