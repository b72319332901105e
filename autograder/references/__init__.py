"""The grader's own checks, run in the trusted grader process on what a student's functions returned.

Each assignment ``NN_name`` has a module ``autograder.references.name`` with a function ``cases(rng)`` that
returns ``{grade_id: [Case, ...]}`` for every graded test cell of the assignment: the calls to make on the
student's functions (fresh random inputs from ``rng``, plus the known-answer cases of the notes) and how to
judge each result against an independent reference. The student's kernel never sees this code (the sandbox
hides this folder); it only receives the calls (``helpers.dataout``) and returns the results.

A judge takes the decoded result and returns ``None`` when it is right, else a message for the student that
names the likely mistake and never shows the expected value. Cases with the same ``group`` share one line of
feedback and are scored together: a group counts only when all its cases are right.
"""
import importlib
import inspect
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


def load(assignment):
    """The reference module of ``assignment`` (``01_conv_arithmetic`` -> ``autograder.references.conv_arithmetic``)."""
    return importlib.import_module(f"{__name__}.{assignment.split('_', 1)[1]}")


def cases_for(assignment, rng, submission=None):
    """The cases of ``assignment`` for one submission. A reference module whose ``cases`` takes ``submission`` also
    judges files handed in beside the notebook (assignment 05: a trained checkpoint): it gets the submission
    folder and reads them itself, here in the grader's process; the student's kernel never hands them over."""
    module = load(assignment)
    if "submission" in inspect.signature(module.cases).parameters:
        return module.cases(rng, submission=submission)
    return module.cases(rng)


def problem(got):
    """The message for a result that is no answer at all (an exception or an unsupported object), else None."""
    if isinstance(got, Raised):
        if got.name == "NotImplementedError":
            return "not implemented yet"
        return f"your code raised {got.name}" + (f": {got.message}" if got.message else "")
    if isinstance(got, Unsupported):
        return f"your code returned a {got.type_name}, not plain numbers, tuples, lists, dicts or arrays"
    return None


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
    are dropped), ``shape_hints`` (wrong shape, message) pairs; ``on_raise`` is added to an exception's message."""
    mistakes = [(wrong, text) for wrong, text in mistakes if not close(wrong, expected)]

    def judge(got):
        trouble = problem(got)
        if trouble:
            return trouble + (f" ({on_raise})" if on_raise and trouble != "not implemented yet" else "")
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
