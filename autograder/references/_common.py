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


def parts(group, call, args, kwargs, judges, what, if_none=None):
    """One Case per element of a returned tuple, each in its own group (``"<group> [<name>]"``), so that a wrong
    element loses only its own share with its own message (a right dx and dw and a wrong db lose db's share).

    Args:
        judges: [(name, judge)], one per element of the tuple, in order.
        what: the message for a result that is not a tuple or list of that length.
        if_none: the message for an element that is None (default: "<name> is None: return it").
    """
    def part(index, name, judge):
        def judge_part(got):
            trouble = problem(got)
            if trouble:
                return trouble
            if not isinstance(got, (tuple, list)) or len(got) != len(judges):
                return what
            if got[index] is None:
                return if_none or f"{name} is None: return it"
            return judge(got[index])
        return judge_part
    return [Case(f"{group} [{name}]", call, args, dict(kwargs), part(i, name, judge))
            for i, (name, judge) in enumerate(judges)]


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
            return diagnose(got, expected) or WRONG_SHAPE.format(shape=got.shape)
        if close(got, expected):
            return None
        texts = [text for wrong, text in mistakes if close(got, wrong)]
        return "; or ".join(dict.fromkeys(texts)) if texts else diagnose(got, expected) or hint
    return judge


SCALED = ("every value is off by one same constant factor: a division or multiplication (by a count, a size, a "
          "scale) is missing or one too many")
SIGN = "every value has the wrong sign"
TRANSPOSED = "rows and columns are swapped: the result is the transpose of the right one (check the index order)"
SHIFTED = ("the result is shifted by one {axis}: an index is off by one (where a window starts, a range's bounds, "
           "a +1 or -1)")
BORDER = ("right in the interior, wrong on the border: check the padding (zeros around the input, and cut off "
          "again where the result has the input's shape)")
LAST_EDGE = "right except the last {axis}: check where the loops and windows end (a range's end, the +1 of the size)"


def _axis_name(axis, ndim):
    return {ndim - 1: "column", ndim - 2: "row"}.get(axis, f"step along axis {axis}")


def diagnose(got, expected):
    """The cause of a wrong numeric array ``got``, found by comparing it with ``expected`` under the usual
    distortions (a constant factor, the sign, a transpose, a shift by one, only the border or only the last
    row/column wrong), else None. Never tells the expected values."""
    if got.shape != expected.shape:
        if got.ndim >= 2 and got.shape == expected.shape[:-2] + expected.shape[:-3:-1] \
                and close(np.swapaxes(got, -1, -2), expected):
            return TRANSPOSED
        return None
    if not np.all(np.isfinite(got)) or not np.any(expected):
        return None
    factor = float(np.vdot(got, expected) / np.vdot(expected, expected))
    if not np.isclose(factor, 1.0) and close(got, factor * expected):
        return SIGN if np.isclose(factor, -1.0) else SCALED
    if got.ndim >= 2 and got.shape[-1] == got.shape[-2] > 1 and close(np.swapaxes(got, -1, -2), expected):
        return TRANSPOSED
    wrong = ~np.isclose(got, expected, rtol=1e-7, atol=1e-9)
    for axis in range(got.ndim - 1, max(got.ndim - 3, -1), -1):
        n = got.shape[axis]
        if n < 3:
            continue
        head, tail = [slice(None)] * got.ndim, [slice(None)] * got.ndim
        head[axis], tail[axis] = slice(1, None), slice(None, -1)
        if close(got[tuple(head)], expected[tuple(tail)]) or close(got[tuple(tail)], expected[tuple(head)]):
            return SHIFTED.format(axis=_axis_name(axis, got.ndim))
        last = [slice(None)] * got.ndim
        last[axis] = -1
        if wrong[tuple(last)].any() and not np.delete(wrong, -1, axis=axis).any():
            return LAST_EDGE.format(axis=_axis_name(axis, got.ndim))
    if got.ndim >= 2 and min(got.shape[-2:]) >= 3:
        inner = wrong[..., 1:-1, 1:-1]
        if not inner.any():
            return BORDER
    return None


def expect_cache(expected, names, no_settings, padded=None):
    """A judge for a forward pass's cache, the tuple ``expected`` (arrays and ints) named ``names``: a shorter
    tuple, or the input alone, gets ``no_settings`` (the settings not carried); the input cached padded (the
    array ``padded``) its own message."""
    def judge(cache):
        if _same_item(cache, expected[0]):
            return no_settings
        if not isinstance(cache, (tuple, list)):
            return f"the cache is the tuple {names}, not a {type(cache).__name__}"
        if len(cache) < len(expected) and all(_same_item(c, e) for c, e in zip(cache, expected)):
            return no_settings
        if len(cache) != len(expected):
            return f"the cache is the tuple {names}: {len(expected)} entries"
        if padded is not None and isinstance(cache[0], np.ndarray) and cache[0].shape == padded.shape \
                and np.array_equal(cache[0], padded):
            return f"cache the input x as it was given, not the padded one: cache = {names}"
        wrong = [name for name, c, e in zip(names.strip("()").split(", "), cache, expected) if not _same_item(c, e)]
        return f"the cache is {names}: {', '.join(wrong)} not as given" if wrong else None
    return judge


def _same_item(got, expected):
    if isinstance(expected, np.ndarray):
        return isinstance(got, np.ndarray) and got.shape == expected.shape and np.array_equal(got, expected)
    return type(got) in (int, np.int64, np.int32) and got == expected


def arrays(rng):
    """A NumPy generator seeded from the grader's ``random.Random`` for one submission."""
    return np.random.default_rng(rng.randrange(2**32))
