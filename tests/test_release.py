"""The student release in notebooks/ is exactly what solutions/ generates, and holds no answers."""
import json

import nbformat
import pytest

from autograder.course import NOTEBOOKS, SOLUTIONS, assignments
from autograder.feedback import secret_lines
from autograder.release import release
from studentwork import solution_cells, solution_lines


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    out = tmp_path_factory.mktemp("release")
    release(out=out)
    return out


def test_there_is_an_assignment():
    assert "01_conv_arithmetic" in assignments()


def test_release_is_up_to_date(fresh_release):
    committed = sorted(p.relative_to(NOTEBOOKS) for p in NOTEBOOKS.rglob("*") if p.is_file())
    generated = sorted(p.relative_to(fresh_release) for p in fresh_release.rglob("*") if p.is_file())
    assert committed == generated, "notebooks/ and solutions/ differ in files: run `make release`"
    for rel in generated:
        a, b = (NOTEBOOKS / rel).read_bytes(), (fresh_release / rel).read_bytes()
        if rel.suffix == ".ipynb":
            a, b = json.loads(a), json.loads(b)
        assert a == b, f"notebooks/{rel} is stale: run `make release` and commit notebooks/"


@pytest.mark.parametrize("assignment", assignments())
def test_release_holds_no_solution_and_no_hidden_test(assignment):
    for source_path in (SOLUTIONS / assignment).glob("*.ipynb"):
        source = nbformat.read(source_path, as_version=4)
        released = "\n".join(c.source for c in nbformat.read(NOTEBOOKS / assignment / source_path.name,
                                                             as_version=4).cells)
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            assert marker not in released
        hidden = secret_lines(c.source for c in source.cells)
        assert not [line for line in hidden if line in released]
        inside = solution_lines(source)
        assert inside and solution_cells(source)
        shown = [line for line in inside if line in released]
        assert not shown, f"solution lines in the release: {shown[:3]}"
