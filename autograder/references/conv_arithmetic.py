"""The grader's checks for assignment 01, convolution arithmetic.

``cases(rng)`` gives, for each graded test cell, the notebook's known-answer examples (the lecture notes'
numbers, AlexNet, VGG-16) and fresh random cases drawn from ``rng``. The expected values come from references
written independently of the model solution: sizes count window positions with ``range``, uncovered positions
are marked cell by cell, same padding tries every padding, parameters multiply out the weight arrays' shapes.

The typical mistakes (those of ``tests/mistakes/m01_conv_arithmetic.py`` and a few more) are computed as buggy
formulas for every case, so a wrong answer that one of them explains gets that mistake's message.
"""
import math
from fractions import Fraction

import numpy as np

from ._common import Case, expect, expect_raises, problem

ASSIGNMENT = "01_conv_arithmetic"
from helpers.checks import same

BAD_ARGUMENT = ("TypeError", "ValueError")


def _expect(expected, mistakes, hint="wrong answer"):
    """``expect`` with the mistakes as (wrong result, message) pairs: pairs that happen to be right for this case
    are dropped, and the messages of mistakes that give the same wrong result are joined."""
    messages = {}
    for wrong, message in mistakes:
        if not same(wrong, expected) and message not in messages.setdefault(wrong, []):
            messages[wrong].append(message)
    return expect(expected, {wrong: "; or ".join(texts) for wrong, texts in messages.items()}, hint)


def _of_type(case, kinds, message):
    """``case`` whose judge first checks the result's type: one that is not an instance of ``kinds`` gets
    ``message``."""
    judge = case.judge

    def typed(got):
        if problem(got) is None and not isinstance(got, kinds):
            return message
        return judge(got)
    case.judge = typed
    return case


def _positions(w, f, stride=1, pad=0):
    """How many windows fit along one axis: the start positions 0, stride, 2*stride, ... that leave room for f."""
    return len(range(0, w + 2 * pad - f + 1, stride))


# -- exercise 1: conv_output_size -----------------------------------------------------------------------------------

ONE_SHORT = "one short: did you forget the +1 (the window at position 0)?"
FLOAT_SIZE = "you returned a float: use floor division //, not true division /"
FRACTION = "a fraction: use floor division // so that the last column and row are dropped"
ROUNDED_UP = "you rounded up: a window that sticks out is never used, so round down (floor)"
PAD_ONCE = "padding is added on both sides: use 2*pad, not pad"
PAD_SUBTRACTED = "you subtracted the padding (w - 2P - f): padding makes the input larger, use w - f + 2P"
FILTER_TOO_BIG = "the filter is larger than the padded input: it has no position, so raise ValueError"


def _size_mistakes(w, f, stride, pad):
    """What the typical wrong formulas give for conv_output_size(w, f, stride, pad)."""
    span = w - f + 2 * pad
    exact = span / stride + 1
    return [(span // stride, ONE_SHORT),
            ((w - f + pad) // stride + 1, PAD_ONCE),
            ((w - 2 * pad - f) // stride + 1, PAD_SUBTRACTED),
            (math.ceil(span / stride) + 1, ROUNDED_UP),
            (exact, FLOAT_SIZE if exact.is_integer() else FRACTION)]


def _size_case(group, w, f, stride=1, pad=0):
    kwargs = {} if (stride, pad) == (1, 0) else {"stride": stride, "pad": pad}
    return Case(group, "conv_output_size", (w, f), kwargs,
                _expect(_positions(w, f, stride, pad), _size_mistakes(w, f, stride, pad)))


def _size_rejects(group, args, hint, names=BAD_ARGUMENT):
    return Case(group, "conv_output_size", args, judge=expect_raises(*names, hint=hint))


def _conv_output_size_cases(rng):
    strides = "strides that fit nicely and strides that do not (7 and 10 wide, 3x3 filter)"
    padding = "zero padding (the notes' 32x32 input with a 5x5 filter and P=2, and others)"
    alexnet = "AlexNet's first layer (227 wide, 11x11, S=4) and NumPy integer arguments"
    randoms = "40 random widths, filters, strides and paddings"
    too_big = "a filter larger than the padded input is rejected"
    bad = "bad arguments are rejected (non-integers, bools, w < 1, f < 1, stride < 1, pad < 0)"
    cases = [_size_case(strides, 7, 3), _size_case(strides, 7, 3, stride=2), _size_case(strides, 7, 3, stride=3),
             _size_case(strides, 10, 3, stride=4),
             _size_case(padding, 32, 5, stride=1, pad=2), _size_case(padding, 7, 3, stride=2, pad=1),
             _size_case(padding, 10, 4, stride=1, pad=3),
             _size_case(alexnet, 227, 11, stride=4),
             Case(alexnet, "conv_output_size", (np.int64(7), np.int64(3), np.int64(2)), judge=expect(3))]
    while len(cases) < 9 + 40:
        w, f, stride, pad = rng.randint(1, 60), rng.randint(1, 12), rng.randint(1, 5), rng.randint(0, 4)
        if f <= w + 2 * pad:
            cases.append(_size_case(randoms, w, f, stride, pad))
    cases += [_size_rejects(too_big, (3, 5), FILTER_TOO_BIG), _size_rejects(too_big, (4, 7, 1, 1), FILTER_TOO_BIG)]
    cases += [_size_rejects(bad, (7, 3, 0), "the stride must be at least 1", ("ValueError",)),
              _size_rejects(bad, (7, 3, 1, -1), "the padding cannot be negative", ("ValueError",)),
              _size_rejects(bad, (7.0, 3), "raise TypeError for a non-integer argument (use require_int)"),
              _size_rejects(bad, (7, 3, True), "True is not a stride: raise TypeError (require_int does it)")]
    cases += [_size_rejects(bad, args, "check w >= 1, f >= 1, stride >= 1, pad >= 0, integers only")
              for args in [(0, 1), (5, 0), (5, 3, -2), (5, 3, 1, -1), (5, 2.0), (5, 3, 1.5), (5, 3, 1, 0.0),
                           (5, 3, 1, False), (True, 1)]]
    return cases


# -- exercise 2: uncovered_positions --------------------------------------------------------------------------------

PADDED = "these look like padded coordinates: subtract pad, and leave out the padding positions"
STICKS_OUT = "a window that sticks out of the padded input is not used, so what only it would cover is never covered"


def _covered(w, f, stride, pad, last_window_sticks_out=False):
    """The padded cells (0 .. w + 2*pad - 1) that some window covers, marked window by window."""
    end = w + 2 * pad - f + (stride if last_window_sticks_out else 1)
    return {cell for start in range(0, end, stride) for cell in range(start, start + f)}


def _uncovered_case(group, w, f, stride, pad=0, hint="wrong answer"):
    covered = _covered(w, f, stride, pad)
    expected = [i for i in range(w) if i + pad not in covered]
    mistakes = [(tuple(j for j in range(w + 2 * pad) if j not in covered), PADDED),
                (tuple(j for j in range(w) if j not in covered), PADDED),
                (tuple(i for i in range(-pad, w + pad) if i + pad not in covered), PADDED),
                (tuple(i for i in range(w) if i + pad not in _covered(w, f, stride, pad, True)), STICKS_OUT)]
    kwargs = {"pad": pad} if pad else {}
    return Case(group, "uncovered_positions", (w, f, stride), kwargs, _expect(expected, mistakes, hint))


def _uncovered_positions_cases(rng):
    notes = "the notes' 7-wide input with a 3-wide filter and S = 1, 2, 3"
    gaps = "gaps between windows when the stride is larger than the filter"
    padding = "with padding: original coordinates, padding positions left out"
    randoms = "40 random widths, filters, strides and paddings"
    too_big = "a filter that does not fit is rejected"
    gap_hint = "each window covers f positions from a multiple of the stride: list the positions in between"
    cases = [_uncovered_case(notes, 7, 3, 3), _uncovered_case(notes, 7, 3, 1), _uncovered_case(notes, 7, 3, 2),
             _uncovered_case(gaps, 6, 2, 3, hint=gap_hint), _uncovered_case(gaps, 9, 2, 4, hint=gap_hint),
             _uncovered_case(padding, 7, 2, 3, 1), _uncovered_case(padding, 8, 3, 3, 1),
             _uncovered_case(padding, 9, 2, 4, 2), _uncovered_case(padding, 11, 5, 4, 2)]
    while len(cases) < 9 + 40:
        w, f, stride, pad = rng.randint(1, 30), rng.randint(1, 6), rng.randint(1, 8), rng.randint(0, 3)
        if f <= w + 2 * pad:
            cases.append(_uncovered_case(randoms, w, f, stride, pad))
    hint = "the filter does not fit: let conv_output_size raise the ValueError"
    cases += [Case(too_big, "uncovered_positions", args, judge=expect_raises("ValueError", hint=hint))
              for args in [(3, 5, 1), (4, 7, 2, 1)]]
    return cases


# -- exercise 3: same_padding ---------------------------------------------------------------------------------------

EVEN_FILTER = "an even filter would need more zeros on one side than the other: raise ValueError"


def _same_padding(f):
    """Tries every padding and returns the one that keeps a 50-wide input 50 wide."""
    return next(pad for pad in range(f) if _positions(50, f, 1, pad) == 50)


def _same_padding_cases(rng):
    small = "3x3, 5x5 and 1x1 filters"
    odd = "every odd filter size from 1 to 39 keeps the size"
    even = "even filters are rejected"
    bad = "filters smaller than 1 and non-integer filters are rejected"
    cases = [Case(small, "same_padding", (3,), judge=expect(1)), Case(small, "same_padding", (5,), judge=expect(2)),
             Case(small, "same_padding", (1,), judge=expect(0, {1: "a 1x1 filter already keeps the size"}))]
    cases += [Case(odd, "same_padding", (f,), judge=expect(_same_padding(f))) for f in range(1, 40, 2)]
    cases += [Case(even, "same_padding", (f,), judge=expect_raises("ValueError", hint=EVEN_FILTER))
              for f in [2, 4, 10] + [rng.randrange(12, 100, 2) for _ in range(3)]]
    cases += [Case(bad, "same_padding", (f,), judge=expect_raises("ValueError", hint="f must be at least 1"))
              for f in (0, -3)]
    cases.append(Case(bad, "same_padding", (3.0,), judge=expect_raises(*BAD_ARGUMENT, hint="f must be an integer")))
    return cases


# -- exercise 4: conv_params ----------------------------------------------------------------------------------------

NO_BIAS = "you forgot the biases: each filter has one"
BIAS_ONCE = "you counted one bias for the whole layer: there is one bias per filter"
NO_DEPTH = "a filter spans all the input channels: it has f*f*depth weights"
BIAS_IGNORED = "with bias=False there are no biases to count"


def _params_case(group, n, f, depth, bias=True):
    """A conv_params case; the expected count is the size of the weight array (n, depth, f, f) plus n biases."""
    b = int(bias)
    mistakes = [(n * f * f * depth, NO_BIAS), (n * f * f * depth + b, BIAS_ONCE), (n * (f * f + b), NO_DEPTH),
                (n * (f * f * depth + 1), BIAS_IGNORED)]
    return Case(group, "conv_params", (n, f, depth), {} if bias else {"bias": False},
                _expect(math.prod((n, depth, f, f)) + b * n, mistakes))


def _conv_params_cases(rng):
    notes = "the notes' examples: 10 filters of 5x5x3, AlexNet conv1 with and without biases"
    more = "VGG-16 conv1_2 (64 filters of 3x3x64) and 7 filters of 3x3x5"
    randoms = "40 random layers, with and without bias"
    bad = "bad arguments are rejected (0 filters, 0x0 filters, depth 0)"
    cases = [_params_case(notes, 10, 5, 3), _params_case(notes, 96, 11, 3), _params_case(notes, 96, 11, 3, False),
             _params_case(more, 64, 3, 64), _params_case(more, 7, 3, 5)]
    cases += [_params_case(randoms, rng.randint(1, 600), rng.randint(1, 11), rng.randint(1, 600), rng.random() < 0.5)
              for _ in range(40)]
    cases += [Case(bad, "conv_params", args, judge=expect_raises("ValueError", hint=hint)) for args, hint in [
        ((0, 3, 3), "n_filters must be at least 1"), ((4, 3, 0), "depth must be at least 1"),
        ((4, 0, 3), "f must be at least 1")]]
    return cases


# -- exercise 5a: conv_shape ----------------------------------------------------------------------------------------

CHANNELS_KEPT = "the output has one channel per filter: C becomes n_filters"
SWAPPED = "H and W are swapped: keep the order (C, H, W)"
W_FROM_H = "W must use its own size, not H's"
H_FROM_W = "H must use its own size, not W's"
NOT_A_TUPLE = "return a tuple (C, H, W)"


def _conv_shape_case(group, in_shape, n, f, stride=1, pad=0, hint="wrong answer"):
    c, h, w = in_shape
    rows, cols = _positions(h, f, stride, pad), _positions(w, f, stride, pad)
    mistakes = [((c, rows, cols), CHANNELS_KEPT), ((n, cols, rows), SWAPPED), ((n, rows, rows), W_FROM_H),
                ((n, cols, cols), H_FROM_W)]
    return Case(group, "conv_shape", (in_shape, n, f), {"stride": stride, "pad": pad},
                _expect((n, rows, cols), mistakes, hint))


def _conv_shape_cases(rng):
    notes = "the notes' examples: (3, 32, 32) with 10 5x5 filters and P=2, AlexNet conv1"
    non_square = "non-square inputs keep the order (C, H, W)"
    kind = "the shape is a tuple"
    randoms = "30 random layers (non-square, strides, paddings)"
    counts = "0 or negative channels and 0 filters are rejected"
    too_big = "a filter larger than the input is rejected"
    cases = [_conv_shape_case(notes, (3, 32, 32), 10, 5, 1, 2), _conv_shape_case(notes, (3, 227, 227), 96, 11, 4),
             _conv_shape_case(non_square, (2, 10, 7), 4, 3, 2, 1), _conv_shape_case(non_square, (5, 13, 20), 8, 3, 3),
             _of_type(_conv_shape_case(kind, (3, 8, 8), 2, 3), tuple, NOT_A_TUPLE)]
    while len(cases) < 5 + 30:
        c, h, w, n = rng.randint(1, 8), rng.randint(1, 40), rng.randint(1, 40), rng.randint(1, 64)
        f, stride, pad = rng.randint(1, 7), rng.randint(1, 4), rng.randint(0, 3)
        if f <= min(h, w) + 2 * pad:
            cases.append(_conv_shape_case(randoms, (c, h, w), n, f, stride, pad))
    cases += [Case(counts, "conv_shape", args, judge=expect_raises("ValueError", hint=hint)) for args, hint in [
        (((0, 32, 32), 4, 3), "the channel count C must be at least 1"),
        (((-1, 8, 8), 2, 3), "the channel count C must be at least 1"),
        (((3, 8, 8), 0, 3), "n_filters must be at least 1")]]
    hint = "the filter does not fit the input along H or W: conv_output_size raises ValueError"
    cases += [Case(too_big, "conv_shape", args, judge=expect_raises("ValueError", hint=hint))
              for args in [((3, 4, 9), 2, 5), ((3, 30, 3), 4, 5)]]
    return cases


# -- exercise 5b: pool_shape ----------------------------------------------------------------------------------------

POOL_PADDED = "pooling uses no padding: (H - r) // s + 1"
POOL_CHANNELS = "pooling works on each channel separately: the channel count stays C"
ORDER = "keep the order (C, H, W)"

# The simplified AlexNet of the lecture notes, and the output shape of each layer from the notes' table.
ALEXNET_INPUT = (3, 227, 227)
ALEXNET_LAYERS = [
    dict(type="conv", filters=96, f=11, stride=4, pad=0), dict(type="pool", r=3, s=2),
    dict(type="conv", filters=256, f=5, stride=1, pad=2), dict(type="pool", r=3, s=2),
    dict(type="conv", filters=384, f=3, stride=1, pad=1), dict(type="conv", filters=384, f=3, stride=1, pad=1),
    dict(type="conv", filters=256, f=3, stride=1, pad=1), dict(type="pool", r=3, s=2),
    dict(type="fc", units=4096), dict(type="fc", units=4096), dict(type="fc", units=1000),
]
ALEXNET_SHAPES = [
    (96, 55, 55), (96, 27, 27), (256, 27, 27), (256, 13, 13), (384, 13, 13), (384, 13, 13), (256, 13, 13),
    (256, 6, 6), (4096, 1, 1), (4096, 1, 1), (1000, 1, 1),
]


def _pool_shape_case(group, in_shape, r, s, hint="wrong answer"):
    c, h, w = in_shape
    rows, cols = _positions(h, r, s), _positions(w, r, s)
    mistakes = [((c, _positions(h, r, s, pad), _positions(w, r, s, pad)), POOL_PADDED)
                for pad in (r // 2, (r - 1) // 2)]
    mistakes += [((1, rows, cols), POOL_CHANNELS), ((rows, cols, c), ORDER), ((c, cols, rows), SWAPPED)]
    return Case(group, "pool_shape", (in_shape, r, s), judge=_expect((c, rows, cols), mistakes, hint))


def _alexnet_trace(group):
    """One call per conv and pool layer of AlexNet, each on the input shape that the notes' table gives it."""
    hint = "compare with the table: print the shapes you get layer by layer"
    cases = []
    for in_shape, layer in zip([ALEXNET_INPUT] + ALEXNET_SHAPES, ALEXNET_LAYERS[:8]):
        if layer["type"] == "conv":
            cases.append(_conv_shape_case(group, in_shape, layer["filters"], layer["f"], layer["stride"],
                                          layer["pad"], hint))
        else:
            cases.append(_pool_shape_case(group, in_shape, layer["r"], layer["s"], hint))
    return cases


def _pool_shape_cases(rng):
    examples = "the notes' 4x4 map, AlexNet's and VGG's pooling layers"
    non_square = "non-square inputs"
    alexnet = "AlexNet from (3, 227, 227) through all conv and pool layers"
    randoms = "30 random pooling layers (non-square, several regions and strides)"
    bad = "bad inputs are rejected (a region larger than the input, 0 channels)"
    cases = [_pool_shape_case(examples, (1, 4, 4), 2, 2), _pool_shape_case(examples, (96, 55, 55), 3, 2),
             _pool_shape_case(examples, (64, 224, 224), 2, 2),
             _pool_shape_case(non_square, (5, 9, 6), 3, 3), _pool_shape_case(non_square, (7, 13, 9), 3, 2)]
    cases += _alexnet_trace(alexnet)
    for _ in range(30):
        c, h, w = rng.randint(1, 6), rng.randint(1, 30), rng.randint(1, 30)
        r = rng.randint(1, min(4, h, w))
        cases.append(_pool_shape_case(randoms, (c, h, w), r, rng.randint(1, 4)))
    cases += [Case(bad, "pool_shape", args, judge=expect_raises("ValueError", hint=hint)) for args, hint in [
        (((3, 2, 2), 3, 1), "the region is larger than the input: conv_output_size raises ValueError"),
        (((0, 8, 8), 2, 2), "C must be at least 1")]]
    return cases


# -- exercise 6: layer_table ----------------------------------------------------------------------------------------

FC_NO_BIAS = "the fc layer has a bias per unit: params = in_features * units + units"
NOT_FLATTENED = "an fc layer sees the whole flattened input: in_features = C * H * W"
CONV_NO_BIAS = "the conv layer has biases too: use conv_params"
ROW_KEYS = ["activations", "params", "shape", "type"]
NOT_ROWS = "return a list with one dict per layer, each with the keys type, shape, activations and params"

# VGG-16: 3x3 convolutions at stride 1 with padding 1, 2x2 max pooling at stride 2, three fc layers.
VGG16_INPUT = (3, 224, 224)
VGG16_LAYERS = [dict(type="conv", filters=n, f=3, stride=1, pad=1) if n else dict(type="pool", r=2, s=2)
                for n in (64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0)]
VGG16_LAYERS += [dict(type="fc", units=4096), dict(type="fc", units=4096), dict(type="fc", units=1000)]


def _table(in_shape, layers, conv_bias=True, fc_bias=True, fc_flattens=True):
    """The layer table as (type, shape, activations, params) rows, params counted from the weight arrays'
    shapes; switching a keyword off gives the table of that typical mistake."""
    c, h, w = in_shape
    rows = []
    for layer in layers:
        if layer["type"] == "conv":
            n, f, stride, pad = layer["filters"], layer["f"], layer["stride"], layer["pad"]
            params = math.prod((n, c, f, f)) + (n if conv_bias else 0)
            c, h, w = n, _positions(h, f, stride, pad), _positions(w, f, stride, pad)
        elif layer["type"] == "pool":
            params = 0
            h, w = _positions(h, layer["r"], layer["s"]), _positions(w, layer["r"], layer["s"])
        else:
            units = layer["units"]
            params = math.prod((units, c * h * w if fc_flattens else c)) + (units if fc_bias else 0)
            c, h, w = units, 1, 1
        rows.append((layer["type"], (c, h, w), c * h * w, params))
    return tuple(rows)


def _as_rows(got):
    """A student's table as (type, shape, activations, params) tuples, or None if it is not a list of row dicts."""
    if type(got) not in (list, tuple) or not all(type(row) is dict and set(ROW_KEYS) <= set(row) for row in got):
        return None
    return tuple((row["type"], tuple(row["shape"]) if isinstance(row["shape"], (list, tuple, np.ndarray))
                  else row["shape"], row["activations"], row["params"]) for row in got)


def _table_judge(in_shape, layers):
    mistakes = [(_table(in_shape, layers, conv_bias=False), CONV_NO_BIAS),
                (_table(in_shape, layers, fc_bias=False), FC_NO_BIAS),
                (_table(in_shape, layers, fc_flattens=False), NOT_FLATTENED)]
    check = _expect(_table(in_shape, layers), mistakes, hint="compare each row with the formulas: print your table")

    def judge(got):
        if problem(got):
            return problem(got)
        rows = _as_rows(got)
        return NOT_ROWS if rows is None else check(rows)
    return judge


def _keys_judge(got):
    """The rows must have exactly the keys type, shape, activations and params."""
    if problem(got):
        return problem(got)
    if type(got) not in (list, tuple) or not all(type(row) is dict for row in got):
        return NOT_ROWS
    if not all(sorted(row) == ROW_KEYS for row in got):
        return "each row has exactly the keys type, shape, activations and params, no others"
    return None


def _random_net(rng):
    """A random input shape and up to 6 layers that fit it (the net stops at the first layer that would not)."""
    in_shape = (rng.randint(1, 4), rng.randint(6, 40), rng.randint(6, 40))
    layers, (_, h, w) = [], in_shape
    for _ in range(rng.randint(2, 6)):
        kind = rng.choice(["conv", "conv", "pool", "fc"])
        if kind == "conv":
            layer = dict(type="conv", filters=rng.randint(1, 32), f=rng.choice([1, 3, 5]), stride=rng.randint(1, 2),
                         pad=rng.randint(0, 2))
            fits = layer["f"] <= min(h, w) + 2 * layer["pad"]
        elif kind == "pool":
            layer = dict(type="pool", r=rng.randint(2, 3), s=rng.randint(1, 3))
            fits = layer["r"] <= min(h, w)
        else:
            layer, fits = dict(type="fc", units=rng.randint(1, 50)), True
        if not fits:
            break
        layers.append(layer)
        _, (_, h, w), _, _ = _table(in_shape, layers)[-1]
    return in_shape, layers


def _table_case(group, in_shape, layers):
    return Case(group, "layer_table", (in_shape, layers), judge=_table_judge(in_shape, layers))


def _layer_table_cases(rng):
    tiny = "a tiny net on (3, 32, 32): types, shapes, activations and params"
    keys = "rows have exactly the keys type, shape, activations, params"
    famous = "AlexNet and VGG-16: every output shape and parameter count"
    two_fc = "two fc layers on a (2, 5, 7) input"
    randoms = "25 random networks (conv, pool and fc layers, non-square inputs)"
    unknown = "an unknown layer type is rejected"
    tiny_net = [dict(type="conv", filters=8, f=3, stride=1, pad=1), dict(type="pool", r=2, s=2),
                dict(type="fc", units=10)]
    cases = [_table_case(tiny, (3, 32, 32), tiny_net), Case(keys, "layer_table", ((3, 32, 32), tiny_net),
                                                            judge=_keys_judge),
             _table_case(famous, ALEXNET_INPUT, ALEXNET_LAYERS), _table_case(famous, VGG16_INPUT, VGG16_LAYERS),
             _table_case(two_fc, (2, 5, 7), [dict(type="fc", units=3), dict(type="fc", units=4)])]
    cases += [_table_case(randoms, *_random_net(rng)) for _ in range(25)]
    hint = "raise ValueError for a type other than conv, pool or fc"
    cases.append(Case(unknown, "layer_table", ((3, 8, 8), [{"type": "dropout"}]),
                      judge=expect_raises("ValueError", hint=hint)))
    return cases


# -- exercise 7: table_totals ---------------------------------------------------------------------------------------

NO_INPUT = "the input image's values are stored too: add C*H*W of the input"
TOTALS_ORDER = "return (total_params, total_activations) in that order"


def _row_dicts(rows):
    return [dict(type=kind, shape=shape, activations=activations, params=params)
            for kind, shape, activations, params in rows]


def _totals_case(group, rows, in_shape):
    params = activations = 0
    for row in rows:
        params, activations = params + row["params"], activations + row["activations"]
    image = math.prod(in_shape)
    mistakes = [((params, activations), NO_INPUT), ((activations + image, params), TOTALS_ORDER)]
    return Case(group, "table_totals", (rows, in_shape), judge=_expect((params, activations + image), mistakes))


def _table_totals_cases(rng):
    small = "a small table on a (3, 32, 32) input"
    short = "an empty table, and a single pooling layer"
    vgg = "VGG-16's table"
    randoms = "20 random tables"
    small_rows = _row_dicts([("conv", (8, 32, 32), 8192, 224), ("pool", (8, 16, 16), 2048, 0),
                             ("fc", (10, 1, 1), 10, 20490)])
    cases = [_totals_case(small, small_rows, (3, 32, 32)), _totals_case(short, [], (3, 4, 5)),
             _totals_case(short, _row_dicts([("pool", (2, 3, 3), 18, 0)]), (2, 7, 6)),
             _totals_case(vgg, _row_dicts(_table(VGG16_INPUT, VGG16_LAYERS)), VGG16_INPUT)]
    for _ in range(20):
        in_shape, layers = _random_net(rng)
        cases.append(_totals_case(randoms, _row_dicts(_table(in_shape, layers)), in_shape))
    return cases


# -- exercise 8: vgg16_memory_mb ------------------------------------------------------------------------------------

DECIMAL_MB = "that is in MB of 10**6 bytes: divide by 2**20 for MiB"
NO_BYTES = "multiply by bytes_per_value: each value takes several bytes"
KIB = "a MiB is 2**20 bytes, not 2**10"
ALWAYS_4 = "use the bytes_per_value argument instead of always 4"


def _memory_case(group, n, bytes_per_value=4):
    mistakes = [(n * bytes_per_value / 10**6, DECIMAL_MB), (n / 2**20, NO_BYTES),
                (n * bytes_per_value / 2**10, KIB), (n * 4 / 2**20, ALWAYS_4)]
    kwargs = {} if bytes_per_value == 4 else {"bytes_per_value": bytes_per_value}
    return Case(group, "vgg16_memory_mb", (n,), kwargs,
                _expect(float(Fraction(n * bytes_per_value, 1024 * 1024)), mistakes))


def _vgg16_memory_mb_cases(rng):
    float32 = "VGG-16's 15,237,608 values and the slide's 24M values, in float32"
    sizes = "other value sizes: float16 and float64"
    kind = "the result is a float"
    randoms = "30 random counts and value sizes"
    bad = "bad arguments are rejected (a negative count, 0 bytes per value)"
    cases = [_memory_case(float32, 15237608), _memory_case(float32, 24_000_000),
             _memory_case(sizes, 2**20, 2), _memory_case(sizes, 3_000_000, 8),
             _of_type(_memory_case(kind, 3 * 2**18), (float, np.floating), "return a float")]
    cases += [_memory_case(randoms, rng.randint(0, 10**9), rng.choice([1, 2, 4, 8])) for _ in range(30)]
    cases += [Case(bad, "vgg16_memory_mb", args, kwargs, expect_raises("ValueError", hint=hint))
              for args, kwargs, hint in [((-5,), {}, "total_activations cannot be negative"),
                                         ((100,), {"bytes_per_value": 0}, "bytes_per_value must be at least 1")]]
    return cases


# -- exercise 9: receptive_field ------------------------------------------------------------------------------------

RF_NO_JUMP = "the strides are missing: each layer adds (f - 1) times the product of the strides BELOW it"
RF_OWN_STRIDE = "you multiplied by the layer's own stride too: only the strides of the layers below count"
RF_SUM_F = "adding f for every layer counts the shared positions twice: each layer adds f - 1"
RF_NO_ONE = "one short: start from r = 1 (a unit sees itself), then add f - 1 per layer"
RF_REVERSED = ("r = (r - 1) * s + f steps from a layer's output down to its input: go from the last layer to the "
               "first with it, or go up from the input adding (f - 1) * jump")
RF_PRODUCT = "stacking adds, it does not multiply: add f - 1 per layer"


def _seen(layers):
    """The width of the input region that output unit 0 of the stack depends on, found by walking down the layers
    position by position: unit i of a layer's output reads positions i*stride .. i*stride + f - 1 of its input.
    (The width from the first to the last position read: a 1x1 layer at stride 2 leaves gaps inside it.)"""
    units = {0}
    for f, stride in reversed(layers):
        units = {i * stride + k for i in units for k in range(f)}
    return max(units) - min(units) + 1


def _rf_mistakes(layers):
    """What the typical wrong loops give (each written out as a student would)."""
    def walk(start, add, own_stride=False):
        r, jump = start, 1
        for f, stride in layers:
            if own_stride:
                jump *= stride
            r += add(f) * jump
            if not own_stride:
                jump *= stride
        return r
    backward_in_forward_order = 1
    for f, stride in layers:
        backward_in_forward_order = (backward_in_forward_order - 1) * stride + f
    return [(1 + sum(f - 1 for f, _ in layers), RF_NO_JUMP),
            (walk(1, lambda f: f - 1, own_stride=True), RF_OWN_STRIDE),
            (walk(0, lambda f: f), RF_SUM_F),
            (walk(0, lambda f: f - 1), RF_NO_ONE),
            (backward_in_forward_order, RF_REVERSED),
            (math.prod(f for f, _ in layers), RF_PRODUCT)]


def _rf_case(group, layers, hint="wrong answer"):
    layers = [tuple(layer) for layer in layers]
    return Case(group, "receptive_field", (layers,), judge=_expect(_seen(layers), _rf_mistakes(layers), hint))


def _vgg16_prefix(end):
    """VGG-16's conv and pool layers up to and including the layer at index ``end``, as (f, stride) pairs."""
    return [(layer["f"], layer["stride"]) if layer["type"] == "conv" else (layer["r"], layer["s"])
            for layer in VGG16_LAYERS[:end + 1]]


def _receptive_field_cases(rng):
    stacks = "one, two and three 3x3 convolutions (3, 5, 7) and an empty stack"
    strides = "strides: a pooling layer makes the later layers take bigger steps (AlexNet's first layers too)"
    vgg = "VGG-16 after each of its five blocks"
    randoms = "30 random stacks of convolutions and pools"
    bad = "bad layers are rejected (f or stride below 1, non-integers)"
    cases = [_rf_case(stacks, [(3, 1)] * depth) for depth in (1, 2, 3)]
    cases.append(_rf_case(stacks, []))
    cases += [_rf_case(strides, layers) for layers in
              ([(3, 1), (3, 1), (2, 2), (3, 1)], [(11, 4), (3, 2), (5, 1)], [(2, 2), (3, 1), (3, 1)],
               [(5, 2), (3, 1)], [(1, 2), (3, 3), (1, 1)])]
    pools = [i for i, layer in enumerate(VGG16_LAYERS) if layer["type"] == "pool"]
    cases += [_rf_case(vgg, _vgg16_prefix(end), "follow the jump: each pool doubles it") for end in pools]
    for _ in range(30):
        layers = [(rng.randint(1, 7), rng.randint(1, 3)) for _ in range(rng.randint(1, 6))]
        cases.append(_rf_case(randoms, layers))
    cases += [Case(bad, "receptive_field", (layers,), judge=expect_raises(*BAD_ARGUMENT, hint=hint))
              for layers, hint in [([(0, 1)], "f must be at least 1"), ([(3, 1), (3, 0)], "stride must be at least 1"),
                                   ([(3, 1.0)], "raise TypeError for a non-integer stride (use require_int)"),
                                   ([(3.0, 1)], "raise TypeError for a non-integer f (use require_int)")]]
    return cases


def cases(rng):
    """{grade_id: [Case, ...]} for every graded test cell of the notebook; ``rng`` is a ``random.Random``."""
    return {
        "test_conv_output_size": _conv_output_size_cases(rng),
        "test_uncovered_positions": _uncovered_positions_cases(rng),
        "test_same_padding": _same_padding_cases(rng),
        "test_conv_params": _conv_params_cases(rng),
        "test_conv_shape": _conv_shape_cases(rng),
        "test_pool_shape": _pool_shape_cases(rng),
        "test_layer_table": _layer_table_cases(rng),
        "test_table_totals": _table_totals_cases(rng),
        "test_vgg16_memory_mb": _vgg16_memory_mb_cases(rng),
        "test_receptive_field": _receptive_field_cases(rng),
    }
