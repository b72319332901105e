"""Hidden tests are taken out of a notebook before it becomes feedback."""
import nbformat

from autograder.feedback import PLACEHOLDER, REDACTED, scrub_notebook, strip_hidden

TEST_SOURCE = """with TestCell(points=2) as t:
    t.equal(lambda: f(1), 2, "visible case")
    ### BEGIN HIDDEN TESTS
    _secret_reference = lambda n: n * 2 + 0
    t.equal(lambda: f(5), _secret_reference(5), "hidden case", hidden=True)
    ### END HIDDEN TESTS
t.score()"""


def graded_cell():
    cell = nbformat.v4.new_code_cell(TEST_SOURCE)
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout",
                               text="[ok] visible case\nstudent debug line\n[FAIL] hidden case: wrong answer\n"),
        nbformat.v4.new_output("error", ename="AssertionError", evalue="boom",
                               traceback=["Traceback", "---> 5     _secret_reference = lambda n: n * 2 + 0"]),
    ]
    return cell


def test_strip_hidden_keeps_the_visible_part():
    assert strip_hidden(TEST_SOURCE).splitlines() == [
        "with TestCell(points=2) as t:", '    t.equal(lambda: f(1), 2, "visible case")', "    " + PLACEHOLDER,
        "t.score()"]


def test_scrub_removes_hidden_source_outputs_and_tracebacks():
    nb = nbformat.v4.new_notebook()
    student = nbformat.v4.new_code_cell("def f(n):\n    return 2 * n")
    student.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                              text="caller: _secret_reference = lambda n: n * 2 + 0\nfine\n")]
    nb.cells = [student, graded_cell()]
    scrubbed = scrub_notebook(nb, [{"source": TEST_SOURCE}])
    text = nbformat.writes(scrubbed)
    assert "_secret_reference" not in text and "BEGIN HIDDEN" not in text
    assert scrubbed.cells[1].outputs[0]["text"] == "[ok] visible case\n[FAIL] hidden case: wrong answer\n"
    assert scrubbed.cells[1].outputs[1]["traceback"] == ["AssertionError: boom"]
    assert scrubbed.cells[0].outputs[0]["text"] == REDACTED + "\nfine\n"
    assert "_secret_reference" in nbformat.writes(nb), "the original is left untouched"
