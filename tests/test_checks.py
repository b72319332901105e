"""The test-cell toolkit students see: messages, partial credit, silence on stderr."""
import sys
import warnings

import numpy as np
import pytest

from helpers.checks import TestCell, rejects


def test_partial_credit_is_a_plain_float(capsys):
    with TestCell(points=3) as t:
        t.equal(lambda: 5, 5, "right")
        t.equal(lambda: 4, 5, "wrong", mistakes={4: "did you forget the +1?"})
        t.equal(lambda: np.int64(5), 5, "numpy integer counts as an int")
    score = t.score()
    assert type(score) is float and score == 2.0
    out = capsys.readouterr().out
    assert "[ok] right" in out
    assert "[FAIL] wrong: expected 5, got 4. did you forget the +1?" in out


def test_hidden_checks_never_print_the_expected_value(capsys):
    with TestCell(points=1) as t:
        t.equal(lambda: 1234, 98765, "hidden case", hint="check the stride", hidden=True)
    out = capsys.readouterr().out
    assert "98765" not in out and "check the stride" in out and t.score() == 0.0


def test_student_exceptions_fail_one_check_only(capsys):
    def broken():
        raise IndexError("index 7 is out of bounds")

    with TestCell(points=2) as t:
        t.equal(broken, 1, "case a")
        t.equal(lambda: 1, 1, "case b")
        t.raises(lambda: int("x"), ValueError, "bad input", hint="")
    assert t.score() == pytest.approx(2 * 2 / 3, abs=1e-6)
    assert "your code raised IndexError: index 7 is out of bounds" in capsys.readouterr().out


def test_not_implemented_is_said_plainly(capsys):
    def todo():
        raise NotImplementedError()

    with TestCell(points=1) as t:
        t.equal(todo, 1, "case")
        t.raises(todo, ValueError, "rule", hint="")
    assert t.score() == 0.0
    assert capsys.readouterr().out.count("not implemented yet") == 2


def test_raises_explains_what_happened_instead(capsys):
    with TestCell(points=1) as t:
        t.raises(lambda: 3, ValueError, "filter larger than the input", hint="check f <= w + 2P")
    assert "returned 3 instead of raising ValueError. check f <= w + 2P" in capsys.readouterr().out


def test_floats_ints_and_bools_are_not_confused():
    with TestCell(points=1) as t:
        assert not t.equal(lambda: 5.0, 5, "float for an int size")
        assert not t.equal(lambda: True, 1, "bool for an int")
        assert t.equal(lambda: 0.1 + 0.2, 0.3, "float tolerance")
        assert t.equal(lambda: (1, 2), (1, 2), "tuple")
        assert not t.equal(lambda: [1, 2], (1, 2, 3), "wrong length")
        assert t.equal(lambda: np.array([1.0, 2.0]), np.array([1.0, 2.0]), "array")


def test_warnings_and_stderr_never_reach_stderr(capfd):
    with TestCell(points=1) as t:
        def noisy():
            warnings.warn("noise")
            print("to stderr", file=sys.stderr)
            np.log(np.zeros(1))
            return 1
        t.equal(noisy, 1, "noisy but right")
    captured = capfd.readouterr()
    assert captured.err == "" and "to stderr" in captured.out and t.score() == 1.0


def test_an_error_in_the_cell_itself_fails_without_crashing(capsys):
    with TestCell(points=2) as t:
        t.equal(lambda: 1, 1, "first")
        raise KeyError("setup")
    assert t.score() == 1.0
    assert "the test could not run: KeyError" in capsys.readouterr().out


def test_raises_takes_several_exception_types_and_rejects_checks_many(capsys):
    def bad(value):
        if isinstance(value, float):
            raise TypeError("integers only")
        raise ValueError("too small")

    with TestCell(points=1) as t:
        t.raises(lambda: bad(1.0), (TypeError, ValueError), "a float", hint="")
        t.true(lambda: all(rejects(lambda v=v: bad(v)) for v in (0, 1.5)), "bad inputs", "must be rejected")
        t.true(lambda: rejects(lambda: 1), "a good input", "is accepted")
    assert t.score() == pytest.approx(2 / 3, abs=1e-6)
    assert "[ok] a float: raises TypeError" in capsys.readouterr().out
