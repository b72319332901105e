"""What every reference module shares: the Case a graded cell is judged by, the judges for plain answers, arrays
and exceptions (each maps known wrong answers to the mistake's message), and the random generator of a case."""
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from helpers.checks import same
from helpers.dataout import Raised, Unsupported


@dataclass
class Case:
    """One call to a student's function and how to judge its result."""
    group: str
    call: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    judge: Callable[[Any], Any] = None


def problem(got):
    """The message for a result that is no answer at all (an exception or an unsupported object), else None. An
    exception is reported as it is, with the line of the notebook that raised it: no guess at its cause."""
    if isinstance(got, Raised):
        if got.name == "NotImplementedError":
            return "not implemented yet"
        return (f"your code raised {got.name}" + (f": {got.message}" if got.message else "")
                + (f" (line: `{got.line}`)" if getattr(got, "line", "") else ""))
    if isinstance(got, Unsupported):
        return f"your code returned a {got.type_name}, not plain numbers, tuples, lists, dicts or arrays"
    return None


def shape_error(got):
    """True if ``got`` is an exception that shows a mismatch of shapes (a failed broadcast, an index past an
    axis): only then may a judge add the shape mistake it suspects to the exception's own message."""
    return (isinstance(got, Raised) and (got.name == "IndexError" or (got.name == "ValueError" and any(
        word in got.message for word in ("broadcast", "shape", "size")))))


def expect(expected, mistakes=None, hint="wrong answer"):
    """A judge: the result must equal ``expected`` (``helpers.checks.same``); ``mistakes`` maps typical wrong
    results to their message, any other wrong result gets ``hint``."""
    def judge(got):
        trouble = problem(got)
        if trouble:
            return trouble
        if same(got, expected):
            return None
        for wrong, message in (mistakes or {}).items():
            if same(got, wrong):
                return message
        return hint
    return judge


def expect_raises(*names, hint):
    """A judge: the call must raise one of the exception types ``names`` (e.g. "ValueError")."""
    def judge(got):
        if isinstance(got, Raised):
            if got.name in names:
                return None
            if got.name == "NotImplementedError":
                return "not implemented yet"
            return f"raised {got.name} instead of {' or '.join(names)}: {hint}"
        return f"returned a value instead of raising {' or '.join(names)}: {hint}"
    return judge


WRONG_SHAPE = "the result has the wrong shape {shape}: check it against the docstring"


def close(got, expected):
    """True if ``got`` is a numeric array of ``expected``'s shape and equal values (1e-7 relative)."""
    return (isinstance(got, np.ndarray) and got.shape == expected.shape and got.dtype.kind in "biuf"
            and bool(np.allclose(got, expected, rtol=1e-7, atol=1e-9)))


def expect_array(expected, mistakes=(), hint="wrong values", shape_hints=(), on_raise=None):
    """A judge for an array result: ``mistakes`` are (wrong array, message) pairs (pairs equal to ``expected``
    are dropped), ``shape_hints`` (wrong shape, message) pairs; ``on_raise`` is added to the message of an
    exception that shows a shape mismatch (``shape_error``)."""
    mistakes = [(wrong, text) for wrong, text in mistakes if not close(wrong, expected)]

    def judge(got):
        trouble = problem(got)
        if trouble:
            return trouble + (f" ({on_raise})" if on_raise and shape_error(got) else "")
        if not isinstance(got, np.ndarray) or got.dtype.kind not in "biuf":
            return f"return a NumPy array of numbers, not a {type(got).__name__}"
        if got.shape != expected.shape:
            for shape, text in shape_hints:
                if got.shape == tuple(shape):
                    return text
            return WRONG_SHAPE.format(shape=got.shape)
        if close(got, expected):
            return None
        texts = [text for wrong, text in mistakes if close(got, wrong)]
        return "; or ".join(dict.fromkeys(texts)) if texts else hint
    return judge


def arrays(rng):
    """A NumPy generator seeded from the grader's ``random.Random`` for one submission."""
    return np.random.default_rng(rng.randrange(2**32))
