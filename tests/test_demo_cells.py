"""The demonstrations grading leaves out: what they may be, and that only the course's own are left out."""
import ast

import nbformat
import pytest

from autograder.course import DEMO_TAG, SOLUTIONS, assignments, demo_cells
from autograder.kernel import NOT_RUN, GradingExecute


def _names(source):
    """(names a cell binds, names it reads) anywhere in its code."""
    tree = ast.parse("\n".join("" if line.lstrip().startswith(("%", "!")) else line
                               for line in source.splitlines()))
    bound, read = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return bound, read


@pytest.mark.parametrize("assignment", assignments())
def test_demonstrations_grade_nothing_and_define_nothing_later_cells_use(assignment):
    demos = demo_cells(assignment)
    assert demos, f"{assignment} has no cell tagged {DEMO_TAG!r}"
    for path in sorted((SOLUTIONS / assignment).glob("*.ipynb")):
        code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        for i, cell in enumerate(code):
            if cell.id not in demos:
                continue
            assert not cell.metadata.get("nbgrader"), f"{path.name} {cell.id}: an nbgrader cell is never a demo"
            bound = _names(cell.source)[0]
            for later in code[i + 1:]:
                used = bound & _names(later.source)[1]
                assert not used, f"{path.name}: demo {cell.id} defines {sorted(used)}, used by cell {later.id}"


def test_only_an_unchanged_demonstration_is_left_out(tmp_path):
    demo = "print('the widget')"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1", id="first"),
                nbformat.v4.new_code_cell(demo, id="demo"),
                nbformat.v4.new_code_cell("print('changed by the student')", id="changed"),
                nbformat.v4.new_code_cell("print(x + 1)", id="last")]
    execute = GradingExecute(demo_cells={"demo": demo, "changed": "print('the course version')"}, timeout=60,
                             kernel_name="python3")
    out, _ = execute.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    texts = ["".join(o.get("text", "") for o in cell.outputs) for cell in out.cells]
    assert texts == ["", NOT_RUN, "changed by the student\n", "2\n"]
    assert execute.shutdown_kernel == "immediate"
