"""The trusted side of grading: the data-out codec, reading results strictly, judging, and full coverage."""
import ast
import base64
import json
import linecache
import pickle
import random

import nbformat
import numpy as np
import pytest

from autograder import references
from autograder.course import SOLUTIONS, assignments, is_autograded
from autograder.references._common import Case, expect, expect_raises, parts, problem
from autograder.guard import DELEGATED, SWITCHED_OFF
from autograder.outcomes import cell_outcome
from autograder.trusted import NO_RESULTS, judge_cell, read_results, write_inputs
from helpers.checks import TestCell
from helpers.dataout import GRADER_OUT, Raised, Unsupported, decode, encode


@pytest.mark.parametrize("assignment", assignments())
def test_every_graded_cell_has_the_graders_checks(assignment):
    cases = references.load(assignment).cases(random.Random(1))
    for path in (SOLUTIONS / assignment).glob("*.ipynb"):
        graded = [c.metadata["nbgrader"]["grade_id"] for c in nbformat.read(path, as_version=4).cells
                  if is_autograded(c)]  # the written answers are graded by hand
        assert graded and set(graded) <= set(cases)
        for grade_id in graded:
            assert cases[grade_id] and all(case.judge for case in cases[grade_id])


@pytest.mark.parametrize("assignment", assignments())
def test_the_graders_inputs_change_with_the_seed(assignment):
    module = references.load(assignment)
    calls = [json.dumps([encode((c.call, tuple(c.args), dict(c.kwargs)))
                         for cs in module.cases(random.Random(seed)).values() for c in cs]) for seed in (1, 2)]
    assert calls[0] != calls[1]


def test_codec_round_trip():
    value = [1, 2.5, float("nan"), True, None, "s", (1, (2, 3)), {"shape": (3, 4, 4), "params": 10},
             np.int64(7), np.float32(1.5), np.arange(6.0).reshape(2, 3), np.array([True, False])]
    back = decode(json.loads(json.dumps(encode(value))))
    assert back[:2] == [1, 2.5] and np.isnan(back[2]) and back[3:8] == value[3:8]
    assert type(back[8]) is np.int64 and type(back[9]) is np.float32
    assert np.array_equal(back[10], value[10]) and back[10].dtype == np.float64 and back[11].dtype == bool


def test_look_alikes_do_not_cross_as_numbers():
    class Anything:
        def __eq__(self, other):
            return True

    class MyInt(int):
        pass

    for value in (Anything(), MyInt(3), np.array([Anything()], dtype=object), np.ma.masked_array([1, 2])):
        assert isinstance(decode(encode(value)), Unsupported), value
    raised = decode(encode(ValueError("stride must be >= 1")))
    assert isinstance(raised, Raised) and raised.name == "ValueError"


@pytest.mark.parametrize("forged", [
    {"__ndarray__": base64.b64encode(pickle.dumps([1, 2])).decode()},
    {"__npscalar__": "O", "value": 1},
    {"__tuple__": "not a list"},
    {"__eval__": "__import__('os')"},
    {"a": 1, "b": 2, "c": 3},
    {"__npscalar__": "not a dtype", "value": 1},
    {"__npscalar__": "<i8"},
])
def test_decode_rejects_forged_data(forged, tmp_path):
    (tmp_path / GRADER_OUT).mkdir()
    (tmp_path / GRADER_OUT / "cell.json").write_text(json.dumps([forged]))
    assert read_results(tmp_path, "cell", 1) is None


def test_read_results_is_strict(tmp_path):
    out = tmp_path / GRADER_OUT
    out.mkdir()
    (out / "good.json").write_text(json.dumps([encode(3), encode((1, 2))]))
    assert read_results(tmp_path, "good", 2) == [3, (1, 2)]
    assert read_results(tmp_path, "good", 3) is None  # a case is missing
    assert read_results(tmp_path, "absent", 1) is None
    (out / "bad.json").write_text('[{"__ndarray__": "gASVAAAAAAAAAAA="}]')
    assert read_results(tmp_path, "bad", 1) is None
    (out / "link.json").symlink_to(out / "good.json")
    assert read_results(tmp_path, "link", 2) is None


def test_judge_cell_scores_groups_and_never_shows_expected_values():
    cases = [Case("known answers", "f", (7,), judge=expect(31337, mistakes={31336: "one short: the +1?"})),
             Case("known answers", "f", (8,), judge=expect(8)),
             Case("bad arguments", "f", (-1,), judge=expect_raises("ValueError", hint="w must be >= 1")),
             Case("random", "f", (1,), judge=expect(1))]
    verdict = judge_cell(cases, [31336, 8, Raised("ValueError", "no"), 1], points=3)
    assert verdict.points == 2.0 and not verdict.grader_errors and not verdict.delegated
    assert [(c.group, c.passed, c.message) for c in verdict.checks] == [
        ("known answers (1 of 2 cases)", False, "one short: the +1?"), ("bad arguments", True, ""),
        ("random", True, "")]
    assert verdict.lines == ["[FAIL] known answers (1 of 2 cases): one short: the +1?", "[ok] bad arguments",
                             "[ok] random"]
    assert "31337" not in "".join(verdict.lines)
    verdict = judge_cell(cases, None, points=3)
    assert verdict.points == 0.0 and all(NO_RESULTS in line for line in verdict.lines)
    verdict = judge_cell(cases, [Raised("NotImplementedError", ""), Unsupported("x.Anything"), 0, 0], 3)
    assert verdict.points == 0.0 and "not implemented yet" in verdict.lines[0]
    assert "x.Anything" not in verdict.lines[0]


def test_a_check_that_raises_fails_only_its_own_group():
    def broken(got):
        return got != [1, 2]  # a multi-element array makes this comparison raise

    cases = [Case("fine", "f", judge=expect(3)), Case("broken", "g", judge=broken)]
    verdict = judge_cell(cases, [3, np.array([1, 2, 3])], points=2)
    assert verdict.points == 1.0
    assert verdict.checks[0].passed and not verdict.checks[1].passed
    assert verdict.checks[1].message.startswith("grader error: ValueError")
    assert len(verdict.grader_errors) == 1 and "Traceback" in verdict.grader_errors[0]
    status, reason = cell_outcome(verdict, None, 2)
    assert status == "error" and "grader error" in reason


def test_a_call_that_reaches_switched_off_course_code_scores_the_cell_zero():
    cases = [Case("one", "f", judge=expect(3)), Case("two", "f", judge=expect(4))]
    verdict = judge_cell(cases, [3, Raised(SWITCHED_OFF, "helpers.kernels.conv_forward answers ...")], points=2)
    assert verdict.points == 0.0 and verdict.delegated
    assert all(not c.passed and c.message == DELEGATED for c in verdict.checks)
    assert cell_outcome(verdict, None, 2) == ("failed", f"one: {DELEGATED}; two: {DELEGATED}")


@pytest.mark.parametrize("assignment", assignments())
def test_every_call_names_a_function_the_solution_defines(assignment):
    defined = set()
    for path in (SOLUTIONS / assignment).glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                defined |= {n.name for n in ast.walk(ast.parse(_python(cell.source)))
                            if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    calls = {case.call for cell_cases in references.cases_for(assignment, random.Random(0), SOLUTIONS / assignment).values()
             for case in cell_cases}
    assert calls <= defined, sorted(calls - defined)


def _python(source):
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def test_a_reference_module_must_name_its_assignment():
    with pytest.raises(LookupError, match="03_pooling"):
        references.load("06_pooling")


def test_kernel_side_records_what_the_functions_return(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cases = {"test_f": [Case("g", "f", (2,), {"scale": 3}), Case("g", "f", ("x",)), Case("g", "missing")]}
    write_inputs(cases, tmp_path)

    def f(n, scale=1):
        return (n * scale, np.arange(n))

    with TestCell(points=1) as t:
        t.record_for_grader({"f": f}, "test_f")
    results = read_results(tmp_path, "test_f", 3)
    assert results[0][0] == 6 and np.array_equal(results[0][1], np.arange(2))
    assert isinstance(results[1], Raised) and results[1].name == "TypeError"
    assert isinstance(results[2], Raised) and results[2].name == "NameError"


def test_a_call_judged_in_parts_runs_once_in_the_kernel(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_inputs({"test_f": parts("g", "f", (2,), {}, [("a", expect(2)), ("b", expect(3))], "a pair")
                  + [Case("h", "f", (5,))]}, tmp_path)
    calls = []

    def f(n):
        calls.append(n)
        return (n, n + 1)

    with TestCell(points=1) as t:
        t.record_for_grader({"f": f}, "test_f")
    assert calls == [2, 5]
    assert read_results(tmp_path, "test_f", 3) == [(2, 3), (2, 3), (5, 6)]


def test_an_exception_carries_the_line_of_the_notebook_cell_that_raised_it():
    source = "def f(x):\n    y = x + 1\n    return y['key']\n"
    linecache.cache["<cell answer>"] = (len(source), None, source.splitlines(True), "<cell answer>")
    namespace = {}
    exec(compile(source, "<cell answer>", "exec"), namespace)
    try:
        namespace["f"](1)
    except TypeError as exc:
        raised = decode(encode(exc))
    assert raised.name == "TypeError" and raised.line == "return y['key']"
    assert "(line: `return y['key']`)" in problem(raised)
    assert decode(encode(ValueError("outside a cell"))).line == ""


def test_only_an_exception_may_carry_a_third_key():
    with pytest.raises(ValueError):
        decode({"__tuple__": [], "message": "", "line": ""})
    with pytest.raises(ValueError):
        decode({"__raised__": "E", "message": "", "other": ""})


def test_each_value_of_a_returned_tuple_is_judged_as_its_own_group():
    from autograder.references._common import expect_array
    right = (np.ones(2), np.zeros(3))
    cases = parts("random case", "f", (), {}, [("dx", expect_array(right[0], hint="dx is wrong")),
                                               ("db", expect_array(right[1], hint="db is wrong"))], "return (dx, db)")
    assert [c.group for c in cases] == ["random case [dx]", "random case [db]"]
    verdict = judge_cell(cases, [(right[0], np.ones(3))] * 2, points=4)
    assert verdict.points == 2.0 and verdict.lines[1] == "[FAIL] random case [db]: db is wrong"
    assert judge_cell(cases, [np.ones(2)] * 2, points=4).checks[0].message == "return (dx, db)"


def test_diagnose_names_the_distortion_of_a_wrong_array():
    from autograder.references._common import BORDER, SCALED, SHIFTED, TRANSPOSED, diagnose
    right = np.random.default_rng(0).standard_normal((2, 3, 5, 6))
    border = right.copy()
    border[..., 0, :] += 1
    assert diagnose(3 * right, right) == SCALED
    assert diagnose(np.swapaxes(right, -1, -2), right) == TRANSPOSED
    assert diagnose(np.roll(right, 1, axis=-2), right) == SHIFTED.format(axis="row")
    assert diagnose(border, right) == BORDER
    assert diagnose(right + 1e-3 * np.random.default_rng(1).standard_normal(right.shape), right) is None
