"""The toolkit every graded test cell uses.

A test cell opens a ``TestCell``, runs checks that each print one ``[ok] ...`` or ``[FAIL] ...`` line written
for a student, and ends with ``t.score()``: a plain Python ``float`` between 0 and the cell's points, which
nbgrader reads as partial credit.

    with TestCell(points=2) as t:
        t.equal(lambda: conv_output_size(7, 3), 5, "7x7 input, 3x3 filter, S=1",
                mistakes={4: "one short: did you forget the +1?"})
    t.score()

Inside the ``with`` block warnings are silenced and stderr goes to stdout: nbgrader gives 0 to any test cell
that writes to stderr, and a correct answer must never lose points to a warning. An exception raised by the
student's code fails that check only; the other checks still run.

Hidden checks pass ``hidden=True``: their lines never show the expected value, only the likely mistake.
"""
import contextlib
import json
import math
import sys
import warnings
from pathlib import Path

import numpy as np

from .dataout import GRADER_INPUTS, GRADER_OUT, decode, encode

__all__ = ["TestCell", "rejects", "same"]


class TestCell:
    """Collects the checks of one graded test cell.

    Args:
        points: the cell's points in nbgrader (the most ``score()`` returns).
    """

    __test__ = False  # not a pytest test class

    def __init__(self, points):
        self.points = float(points)
        self._weights = []  # (weight, passed) per check
        self._stack = None

    def __enter__(self):
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore")
        self._stack.enter_context(np.errstate(all="ignore"))
        self._stack.enter_context(contextlib.redirect_stderr(sys.stdout))
        return self

    def __exit__(self, exc_type, exc, tb):
        self._stack.close()
        if exc_type is not None and issubclass(exc_type, Exception):
            # A bug outside a check (in the test cell's own set-up code calling student code): fail, don't crash.
            self._record(False, 1.0, f"the test could not run: {_describe(exc)}")
            return True
        return False

    # -- checks ---------------------------------------------------------------------------------------------------

    def equal(self, compute, expected, case, mistakes=None, hint=None, hidden=False, weight=1.0):
        """Checks that ``compute()`` returns ``expected`` (numbers, tuples, lists, arrays; floats to 1e-9).

        Args:
            compute: a function of no arguments that calls the student's code.
            expected: the right answer.
            case: what is being checked, in words ("7x7 input, 3x3 filter, S=1").
            mistakes: optional {wrong answer: message} for answers that typical mistakes produce.
            hint: message for any other wrong answer.
            hidden: if True the failure line never shows the expected value.
        """
        ok, got = self._run(compute, case)
        if not ok:
            return False
        if same(got, expected):
            return self._record(True, weight, case)
        message = _lookup(mistakes, got) or hint
        if hidden:
            line = f"{case}: wrong answer" + (f": {message}" if message else "")
        else:
            line = f"{case}: expected {expected!r}, got {got!r}" + (f". {message}" if message else "")
        return self._record(False, weight, line)

    def true(self, compute, case, fail_message, weight=1.0):
        """Checks that ``compute()`` is truthy; ``fail_message`` says what is wrong when it is not."""
        ok, got = self._run(compute, case)
        if not ok:
            return False
        passed = _truthy(got)
        return self._record(passed, weight, case if passed else f"{case}: {fail_message}")

    def raises(self, compute, exception, case, hint, weight=1.0):
        """Checks that ``compute()`` raises ``exception`` (a class or a tuple of classes), e.g. ValueError for a
        filter larger than the input."""
        names = " or ".join(e.__name__ for e in (exception if isinstance(exception, tuple) else (exception,)))
        try:
            got = compute()
        except exception as exc:
            return self._record(True, weight, f"{case}: raises {type(exc).__name__}")
        except NotImplementedError:
            return self._record(False, weight, f"{case}: not implemented yet")
        except Exception as exc:  # noqa: BLE001 - any other error is the student's to see
            return self._record(False, weight, f"{case}: raised {_describe(exc)} instead of {names}. {hint}")
        return self._record(False, weight, f"{case}: returned {got!r} instead of raising {names}. {hint}")

    def record_for_grader(self, namespace, grade_id):
        """When the notebook is being graded, calls your functions on the grader's inputs for this cell and saves
        what they return for the grader to judge (``helpers.dataout``). Does nothing on your own machine.

        Args:
            namespace: where your functions live, the notebook's ``globals()``.
            grade_id: this test cell's id, e.g. "test_conv_output_size".
        """
        inputs = Path(GRADER_INPUTS)
        if not inputs.exists():
            return
        results, done = [], {}
        for case in json.loads(inputs.read_text()).get(grade_id, []):
            key = json.dumps(case, sort_keys=True)  # the grader judges some results in parts: one call each
            if key not in done:
                done[key] = self._call(namespace, case)
            results.append(done[key])
        Path(GRADER_OUT).mkdir(exist_ok=True)
        (Path(GRADER_OUT) / f"{grade_id}.json").write_text(json.dumps(results))

    @staticmethod
    def _call(namespace, case):
        """What the function of one of the grader's cases returns (or raises), encoded."""
        function = namespace.get(case["call"])
        try:
            if not callable(function):
                raise NameError(f"name {case['call']!r} is not defined")
            return encode(function(*decode(case["args"]), **decode(case["kwargs"])))
        except Exception as exc:  # noqa: BLE001 - the grader judges the exception
            return encode(exc)

    # -- result ---------------------------------------------------------------------------------------------------

    @property
    def passed(self):
        """True when every check so far passed."""
        return all(p for _, p in self._weights)

    def score(self):
        """The partial credit: the cell's points times the passed share of the checks' weights, a plain float."""
        total = sum(w for w, _ in self._weights)
        if total == 0:
            return 0.0
        got = sum(w for w, p in self._weights if p)
        return float(round(self.points * got / total, 6))

    # -- internals ------------------------------------------------------------------------------------------------

    def _run(self, compute, case):
        try:
            return True, compute()
        except NotImplementedError:
            self._record(False, 1.0, f"{case}: not implemented yet")
        except Exception as exc:  # noqa: BLE001
            self._record(False, 1.0, f"{case}: your code raised {_describe(exc)}")
        return False, None

    def _record(self, passed, weight, line):
        self._weights.append((float(weight), bool(passed)))
        print(("[ok] " if passed else "[FAIL] ") + line)
        return bool(passed)


def rejects(compute, exceptions=(TypeError, ValueError)):
    """True if ``compute()`` raises one of ``exceptions``; for checking many bad inputs in one ``t.true`` line.

    NotImplementedError passes through, so an untouched exercise reads "not implemented yet".
    """
    try:
        compute()
    except NotImplementedError:
        raise
    except exceptions:
        return True
    return False


def _describe(exc):
    text = str(exc)
    return type(exc).__name__ + (f": {text}" if text else "")


def _truthy(value):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    return value is not None and value is not False and bool(value)


def same(got, expected):
    """Equality that a student would expect: exact for ints and strings, 1e-9 relative for floats, by element."""
    if isinstance(expected, (list, tuple)):
        return (isinstance(got, (list, tuple)) and len(got) == len(expected)
                and all(same(g, e) for g, e in zip(got, expected)))
    if isinstance(expected, np.ndarray):
        try:
            got = np.asarray(got)
        except Exception:  # noqa: BLE001
            return False
        return (got.shape == expected.shape and got.dtype.kind in "biuf"
                and bool(np.allclose(got, expected, rtol=1e-9, atol=1e-12)))
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(got) is type(expected) and got == expected
    if isinstance(expected, (int, np.integer)):
        return isinstance(got, (int, np.integer)) and int(got) == int(expected)
    if isinstance(expected, (float, np.floating)):
        return (isinstance(got, (int, float, np.integer, np.floating))
                and math.isclose(float(got), float(expected), rel_tol=1e-9, abs_tol=1e-12))
    return type(got) is type(expected) and got == expected


def _lookup(mistakes, got):
    for wrong, message in (mistakes or {}).items():
        if same(got, wrong):
            return message
    return None
