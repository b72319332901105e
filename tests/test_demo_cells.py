"""The demonstrations grading leaves out: what they may be, and that only those whose absence changes nothing are
left out."""
import nbformat
import pytest

from autograder.course import NOTEBOOKS, SOLUTIONS, assignments, demo_cells
from autograder.demos import DEMO_TAG, NOT_RUN, cell_names, left_out
from autograder.kernel import GradingExecute


@pytest.mark.parametrize("assignment", assignments())
def test_every_demonstration_of_the_course_is_left_out_of_its_notebooks(assignment):
    """In the solutions and in the released notebooks as they are, no later cell reads what a demonstration
    binds, so grading leaves every one out; and none is a graded cell."""
    demos = demo_cells(assignment)
    assert demos, f"{assignment} has no cell tagged {DEMO_TAG!r}"
    for folder in (SOLUTIONS, NOTEBOOKS):
        for path in sorted((folder / assignment).glob("*.ipynb")):
            cells = nbformat.read(path, as_version=4).cells
            tagged = {c.id for c in cells if c.cell_type == "code" and c.id in demos}
            assert not any(c.metadata.get("nbgrader") for c in cells if c.id in tagged), \
                f"{path.name}: an nbgrader cell is never a demo"
            assert left_out(cells, demos) == tagged, (
                f"{path.relative_to(folder.parent)}: demonstrations {sorted(tagged - left_out(cells, demos))} would "
                f"run while grading: another cell may read a name they bind (make their work a function)")


def _notebook(*sources):
    return [nbformat.v4.new_code_cell(source, id=f"c{i}") for i, source in enumerate(sources)]


DEMO = "def show_it():\n    x = 1\n    print(x)\n\n\nshow_it()"


@pytest.mark.parametrize("later, runs", [
    ("y = 2", False),                              # reads nothing the demonstration binds
    ("x = 3\nprint(x)", False),                    # the demonstration's x is inside its function
    ("show_it()", True),                           # a student's cell uses the demonstration's function
    ("def f():\n    return show_it", True),        # also inside a function
    ("y = [show_it for _ in range(2)]", True),
    ("%time y = 2", True),                         # a magic may read anything
    ("!ls", True),
    ("print(", True),                              # does not parse
])
def test_a_demonstration_runs_when_a_later_cell_may_read_what_it_binds(later, runs):
    cells = _notebook("import numpy", DEMO, later)
    assert left_out(cells, {"c1": DEMO}) == (set() if runs else {"c1"})


def test_a_changed_demonstration_runs_and_so_does_one_whose_names_are_unknown():
    assert left_out(_notebook(DEMO + "\nprint('mine')"), {"c0": DEMO}) == set()
    for source in ("from os import *", "%matplotlib inline\nshow()"):
        assert left_out(_notebook(source), {"c0": source}) == set()


def test_demonstrations_left_out_together_and_a_later_one_that_is_left_out_reads_nothing():
    first, second = "def a():\n    pass", "def b():\n    a()\n\n\nb()"
    cells = _notebook(first, second, "print(1)")
    assert left_out(cells, {"c0": first, "c1": second}) == {"c0", "c1"}
    assert left_out(cells, {"c0": first}) == set()  # the second runs, and reads a


@pytest.mark.parametrize("source, bound", [
    ("x = 1", {"x"}),
    ("[r for r in range(3)]", set()),                 # a comprehension's variable is its own
    ("if (n := 3): pass", {"n"}),
    ("import numpy.linalg as la, os.path", {"la", "os"}),
    ("for i, j in z:\n    k = i", {"i", "j", "k"}),
    ("try:\n    pass\nexcept E as e:\n    q = 1", {"e", "q"}),
    ("class A:\n    z = 1", {"A"}),
    ("def f():\n    global G\n    G = 1", {"f", "G"}),   # rebinds a name of the notebook when called
    ("x[0] = 1\ny.z = 2\ndel w[0]", {"x", "y", "w"}),      # changes those objects
    ("with open(p) as fh:\n    pass", {"fh"}),
])
def test_cell_names_binds(source, bound):
    assert cell_names(source)[0] == bound


def test_cell_names_reads_what_runs_now_and_what_its_functions_read_later():
    bound, now, later = cell_names("def f(a, *b, c=d, **e):\n    return a + g\n\n\nx += 1")
    assert bound == {"f", "x"} and now == {"a", "d", "g", "x"} and later == {"g"}  # later: a is f's own
    assert cell_names("def f():\n    global G\n    return G + [H for H in I]")[1:] == ({"G", "H", "I"}, {"G", "I"})


@pytest.mark.parametrize("earlier, runs", [
    ("def f():\n    return show_it()", True),        # called after the demonstration, it needs show_it
    ("g = lambda: show_it", True),
    ("class A:\n    x = show_it", True),              # a class counts with its methods (it could wait)
    ("print(show_it if 0 else 1)", False),             # read before the demonstration ran
    ("def f(show_it):\n    return show_it", False),  # its own parameter
])
def test_an_earlier_cell_counts_where_its_functions_may_read_the_demonstrations_names(earlier, runs):
    cells = _notebook(earlier, DEMO, "print(1)")
    assert left_out(cells, {"c1": DEMO}) == (set() if runs else {"c1"})


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


def test_a_demonstration_a_students_cell_needs_runs_in_the_kernel(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = _notebook(DEMO, "show_it()")
    out, _ = GradingExecute(demo_cells={"c0": DEMO}, timeout=60, kernel_name="python3").preprocess(
        nb, {"metadata": {"path": str(tmp_path)}})
    assert ["".join(o.get("text", "") for o in cell.outputs) for cell in out.cells] == ["1\n", "1\n"]
