"""Simulated student submissions, made from the release and the solutions, for the tests and the benchmarks."""
from pathlib import Path

import nbformat

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def solution_code(cell_source):
    """A solution cell's source as a perfect student would write it: the solution without nbgrader's markers."""
    return "\n".join(line for line in cell_source.splitlines() if line.strip() not in SOLUTION_MARKERS)


def solution_cells(source_nb):
    """{grade_id: solution source} of an instructor notebook."""
    return {c.metadata["nbgrader"]["grade_id"]: solution_code(c.source) for c in source_nb.cells
            if c.metadata.get("nbgrader", {}).get("solution")}


def solution_lines(source_nb, min_chars=13):
    """The stripped lines that only stand between solution markers of an instructor notebook (students must
    not see them; a line that also stands outside, in a visible test say, is not a secret)."""
    inside_lines, outside_lines = set(), set()
    for cell in source_nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if line.strip() in SOLUTION_MARKERS:
                inside = line.strip() == SOLUTION_MARKERS[0]
            elif len(line.strip()) >= min_chars:
                (inside_lines if inside else outside_lines).add(line.strip())
    return inside_lines - outside_lines


def fill_release(release_path, source_path, replace=None):
    """The release notebook with every solution cell answered as in the source, except ``replace``'s cells.

    Args:
        release_path: the student release notebook (what a student downloads).
        source_path: the instructor notebook with solutions.
        replace: {grade_id: code} for the cells where the student wrote something else (a mistake).
    """
    nb = nbformat.read(release_path, as_version=4)
    answers = {**solution_cells(nbformat.read(source_path, as_version=4)), **(replace or {})}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def write_submission(root, student, assignment, notebooks):
    """Writes ``root/student/assignment/<name>.ipynb`` for each {name: notebook node or raw text}."""
    folder = Path(root) / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    for name, nb in notebooks.items():
        path = folder / f"{name}.ipynb"
        if isinstance(nb, str):
            path.write_text(nb)
        else:
            nbformat.write(nb, path)
    return folder
