"""Every corpus mistake loses points with its own message for several of the grader's seeds, and the solutions keep
full marks for the same seeds: graded in this process (``tests/inprocess.py``), without the sandbox.

``test_grading.py`` proves the same through the real sandbox, but with one random seed per run, so a mistake
that passes for some inputs shows up only now and then (a flaky CI). Here each mistake meets ``SEEDS`` different
draws of the grader's hidden cases in a few minutes. For a deeper sweep: ``python tests/inprocess.py 40``.
"""
import pytest

from autograder.course import SOLUTIONS, assignments
from inprocess import POINTS, corpus, grade_cell, misses, notebook_of

SEEDS = range(8)


@pytest.mark.parametrize("assignment,notebook,mistake", corpus(), ids=lambda value: value.get("id", "")
                         if isinstance(value, dict) else None)
def test_mistake_loses_points_with_its_message_for_every_seed(assignment, notebook, mistake):
    found = misses(notebook_of(assignment, notebook), mistake, SEEDS)
    assert not found, "\n".join(f"seed {seed}: {points} points: {reason}" for seed, points, reason in found)


def _test_cells(assignment):
    for path in sorted((SOLUTIONS / assignment).glob("*.ipynb")):
        notebook = notebook_of(assignment, path.stem)
        for cell in notebook.cells:
            if cell.kind == "test":
                yield notebook, cell.grade_id


@pytest.mark.parametrize("assignment", assignments())
def test_solutions_keep_full_marks_for_every_seed(assignment):
    lost = []
    for notebook, test_cell in _test_cells(assignment):
        for seed in SEEDS:
            judgement = grade_cell(notebook, notebook.solved, test_cell, seed)
            if judgement.points < POINTS:
                lost += [f"{test_cell} seed {seed}: {line}" for line in judgement.lines if line.startswith("[FAIL]")]
    assert not lost, "\n".join(lost)
