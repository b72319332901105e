"""The grader's checks for assignment 02, convolution forward and backward.

``cases(rng)`` gives, for each graded test cell, the notebook's hand-worked examples and fresh random cases drawn
from ``rng`` (batch > 1, non-square inputs and filters, strides 1-3, paddings 0-2, several filters; float64).
The references are written independently of the model solution: padding places the input inside a block of
zeros, the forward pass is a "shift and add" over the filter's offsets (one strided slice per offset instead of one
window per output), and the backward pass uses that the output is linear in ``x`` and in ``w``: the gradient of
``sum(out * dout)`` along a basis vector is the forward pass of that basis vector. The edge filter is judged by
what it does to synthetic pictures, not by its numbers.

The typical mistakes (those of ``tests/mistakes/m02_convolution.py`` and a few more) are computed as buggy
variants for every case, so a wrong answer that one of them explains gets that mistake's message.
"""
import numpy as np

from ._common import Case, expect, expect_array, expect_cache, expect_raises, parts, problem, shape_error, arrays

ASSIGNMENT = "02_convolution"

# -- references ------------------------------------------------------------------------------------------------------


def _padded(x, pad):
    """x (N, C, H, W) inside a block of zeros with ``pad`` rows/columns on every side of H and W."""
    n, c, h, w = x.shape
    out = np.zeros((n, c, h + 2 * pad, w + 2 * pad))
    out[:, :, pad:pad + h, pad:pad + w] = x
    return out


def _positions(size, f, stride, pad):
    return len(range(0, size + 2 * pad - f + 1, stride))


def _shift_add(x, w, b, stride, pad, flip=False):
    """Cross-correlation by summing, for every filter offset (p, q), the strided slice of the padded input that
    this offset sees, contracted with w[:, :, p, q] over the channels."""
    n, c, h, wid = x.shape
    f, _, hh, ww = w.shape
    rows, cols = _positions(h, hh, stride, pad), _positions(wid, ww, stride, pad)
    xp = _padded(x, pad)
    if flip:
        w = w[:, :, ::-1, ::-1]
    out = np.zeros((n, f, rows, cols))
    for p in range(hh):
        for q in range(ww):
            seen = xp[:, :, p:p + stride * (rows - 1) + 1:stride, q:q + stride * (cols - 1) + 1:stride]
            out += np.einsum("nchw,fc->nfhw", seen, w[:, :, p, q])
    return out + np.asarray(b).reshape(1, f, 1, 1)


def _gradients(dout, x, w, stride, pad):
    """(dx, dw, db) of L = sum(out * dout): out is linear in x (and in w), so dL/dx_k is L of the k-th basis
    vector with the bias left out."""
    zero_b = np.zeros(w.shape[0])
    dx = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[k] = 1.0
        dx[k] = np.sum(_shift_add(e, w, zero_b, stride, pad) * dout)
    dw = np.zeros_like(w)
    for k in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[k] = 1.0
        dw[k] = np.sum(_shift_add(x, e, zero_b, stride, pad) * dout)
    db = np.array([np.sum(dout[:, f]) for f in range(w.shape[0])])
    return dx, dw, db


# -- exercise 1: zero_pad --------------------------------------------------------------------------------------------

PAD_ONE_SIDE = "padding on one side only: put pad zeros on BOTH sides of H and of W (the size grows by 2*pad)"
PAD_ALL_AXES = "pad only H and W (the last two axes), not the batch or channel axes"
PAD_H_ONLY = "pad both H and W, not only one of them"


def _zero_pad_case(group, x, pad):
    n, c, h, w = x.shape
    shapes = [((n, c, h + pad, w + pad), PAD_ONE_SIDE), ((n + 2 * pad, c + 2 * pad, h + 2 * pad, w + 2 * pad), PAD_ALL_AXES),
              ((n, c, h + 2 * pad, w), PAD_H_ONLY), ((n, c, h, w + 2 * pad), PAD_H_ONLY)]
    return Case(group, "zero_pad", (x, pad), judge=expect_array(_padded(x, pad), shape_hints=shapes,
                                                                hint="the padded values are wrong: zeros around, x inside"))


def _zero_pad_cases(rng):
    g = arrays(rng)
    known = "the hand-worked example: a (1, 1, 2, 3) batch padded by 1, and pad 0"
    randoms = "12 random batches (N > 1, non-square), pad 0 to 3"
    bad = "a negative pad is rejected"
    cases = [_zero_pad_case(known, np.arange(1.0, 7.0).reshape(1, 1, 2, 3), 1),
             _zero_pad_case(known, np.arange(6.0).reshape(1, 1, 2, 3), 0)]
    for _ in range(12):
        shape = (rng.randint(2, 3), rng.randint(1, 3), rng.randint(1, 6), rng.randint(1, 6))
        cases.append(_zero_pad_case(randoms, g.standard_normal(shape), rng.randint(0, 3)))
    cases.append(Case(bad, "zero_pad", (g.standard_normal((2, 1, 3, 3)), -1),
                      judge=expect_raises("ValueError", hint="pad must be >= 0")))
    return cases


# -- exercise 2: conv_single_step ------------------------------------------------------------------------------------

SINGLE_NO_BIAS = "you forgot to add the bias b"
SINGLE_BIAS_EACH = "the bias is added once to the sum, not to each of the products"


def _single_case(group, x_slice, w, b):
    total = sum(float(a) * float(c) for a, c in zip(x_slice.ravel(), w.ravel()))
    mistakes = {total: SINGLE_NO_BIAS, total + b * x_slice.size: SINGLE_BIAS_EACH}
    mistakes.pop(total + b, None)

    def number(got):
        if problem(got) is None and not isinstance(got, (float, int, np.floating, np.integer)):
            if isinstance(got, np.ndarray) and got.size == 1:
                return "return one number (a float), not an array: use float(...) or np.sum(...)"
            return "return one number (a float)"
        return expect(total + b, mistakes, "wrong value: multiply element by element, sum everything, add b")(got)
    return Case(group, "conv_single_step", (x_slice, w, b), judge=number)


def _single_cases(rng):
    g = arrays(rng)
    known = "the hand-worked example (a 1x2x2 slice)"
    randoms = "10 random slices (several channels, non-square)"
    cases = [_single_case(known, np.array([[[1.0, 2.0], [4.0, 5.0]]]), np.array([[[1.0, 0.0], [2.0, -1.0]]]), 0.5)]
    for _ in range(10):
        shape = (rng.randint(1, 4), rng.randint(1, 4), rng.randint(1, 4))
        cases.append(_single_case(randoms, g.standard_normal(shape), g.standard_normal(shape),
                                  float(g.standard_normal()) + 0.5))
    return cases


# -- exercise 3: conv_forward ----------------------------------------------------------------------------------------

NO_STRIDE = "the window must start at row i*stride and column j*stride: did you forget the stride?"
FLIPPED = "your filter is flipped: a ConvNet layer is a cross-correlation, w[f, c, p, q] meets x[.., i*S+p, j*S+q]"
NO_BIAS = "you forgot the bias: add b[f] to every output value of filter f"
BIAS_ONE_IMAGE = "the bias reaches only one image of the batch: add b[f] to every output of every image"
BIAS_PER_CHANNEL = "the bias is added once per input channel: add it once per output value"
FLOOR = ("this input does not fit nicely: the output size rounds down, H' = (H - HH + 2*pad) // stride + 1, "
         "and the last rows/columns are dropped")


def _forward_mistakes(x, w, b, stride, pad):
    n, c = x.shape[:2]
    exact = _shift_add(x, w, b, stride, pad)
    rows, cols = exact.shape[2:]
    no_bias = exact - b.reshape(1, -1, 1, 1)
    last, first = no_bias.copy(), no_bias.copy()
    last[-1] += b.reshape(-1, 1, 1)
    first[0] += b.reshape(-1, 1, 1)
    return exact, [(_shift_add(x, w, b, 1, pad)[:, :, :rows, :cols], NO_STRIDE),
                   (_shift_add(x, w, b, stride, pad, flip=True), FLIPPED),
                   (no_bias, NO_BIAS), (last, BIAS_ONE_IMAGE), (first, BIAS_ONE_IMAGE),
                   (no_bias + c * b.reshape(1, -1, 1, 1), BIAS_PER_CHANNEL)]


SIZE_NO_PAD = "the output has the size of an unpadded input: H' = (H - HH + 2*pad) // stride + 1 counts the padding"
SIZE_NO_STRIDE = "the output has the size of stride 1: H' = (H - HH + 2*pad) // stride + 1 divides by the stride"
CACHE_NO_SETTINGS = ("the cache must carry what conv_backward needs: cache = (x, w, b, stride, pad), the stride and "
                     "the padding too")


def _forward_case(group, x, w, b, stride=1, pad=0):
    exact, mistakes = _forward_mistakes(x, w, b, stride, pad)
    fits = all((size - f + 2 * pad) % stride == 0 for size, f in zip(x.shape[2:], w.shape[2:]))
    rounded_up = tuple(-(-(size - f + 2 * pad) // stride) + 1 for size, f in zip(x.shape[2:], w.shape[2:]))
    shapes = [] if fits else [(exact.shape[:2] + rounded_up, FLOOR)]
    no_pad = tuple((size - f) // stride + 1 for size, f in zip(x.shape[2:], w.shape[2:]))
    no_stride = tuple(size - f + 2 * pad + 1 for size, f in zip(x.shape[2:], w.shape[2:]))
    if pad and min(no_pad) > 0:
        shapes.append((exact.shape[:2] + no_pad, SIZE_NO_PAD))
    if stride > 1:
        shapes.append((exact.shape[:2] + no_stride, SIZE_NO_STRIDE))
    out_judge = expect_array(exact, mistakes, on_raise=None if fits else FLOOR, shape_hints=shapes,
                             hint="wrong values: compare one output by hand with conv_single_step")
    kwargs = {"stride": stride, "pad": pad} if (stride, pad) != (1, 0) else {}
    return parts(group, "conv_forward", (x, w, b), kwargs,
                 [("out", out_judge), ("cache", expect_cache((x, w, b, stride, pad), "(x, w, b, stride, pad)",
                                                             CACHE_NO_SETTINGS, _padded(x, pad) if pad else None))],
                 "return the pair (out, cache)")


def _random_layer(rng, g, strides, pads):
    while True:
        n, c, f = rng.randint(2, 3), rng.randint(1, 3), rng.randint(2, 3)
        h, w, hh, ww = rng.randint(3, 7), rng.randint(3, 7), rng.randint(1, 3), rng.randint(1, 3)
        stride, pad = rng.choice(strides), rng.choice(pads)
        if (h, hh) != (w, ww) and hh <= h + 2 * pad and ww <= w + 2 * pad:
            return (g.standard_normal((n, c, h, w)), g.standard_normal((f, c, hh, ww)), g.standard_normal(f),
                    stride, pad)


def _conv_forward_cases(rng):
    g = arrays(rng)
    known = "the hand-worked example (3x3 input, 2x2 filter) with S=1, P=0 and with S=2, P=1"
    floor = "a filter that does not fit nicely (7x7 input, 3x3 filter, S=3; 8x6 input, S=2)"
    plain = "6 random batches with S=1, P=0 (N > 1, several filters, non-square)"
    strided = "8 random batches with strides 2-3 and padding 1-2 (non-square inputs and filters)"
    bad = "bad arguments are rejected (filter too large, stride < 1, pad < 0, channel mismatch)"
    x0 = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    w0 = np.array([[[[1.0, 0.0], [2.0, -1.0]]]])
    b0 = np.array([0.5])
    cases = (_forward_case(known, x0, w0, b0) + _forward_case(known, x0, w0, b0, 2, 1)
             + _forward_case(floor, g.standard_normal((2, 2, 7, 7)), g.standard_normal((3, 2, 3, 3)),
                             g.standard_normal(3), 3, 0)
             + _forward_case(floor, g.standard_normal((2, 1, 8, 6)), g.standard_normal((2, 1, 3, 2)),
                             g.standard_normal(2), 2, 0))
    for _ in range(6):
        cases += _forward_case(plain, *_random_layer(rng, g, [1], [0]))
    for _ in range(8):
        cases += _forward_case(strided, *_random_layer(rng, g, [2, 3], [1, 2]))
    x, w, b = g.standard_normal((2, 2, 4, 5)), g.standard_normal((3, 2, 3, 3)), g.standard_normal(3)
    for args, kwargs, hint in [
            ((x, g.standard_normal((1, 2, 5, 3)), b[:1]), {}, "a 5x3 filter is larger than the 4x5 input: raise ValueError"),
            ((x, g.standard_normal((1, 2, 7, 3)), b[:1]), {"pad": 1}, "the filter is larger than the padded input"),
            ((x, w, b), {"stride": 0}, "the stride must be at least 1"),
            ((x, w, b), {"pad": -1}, "the padding cannot be negative"),
            ((x, g.standard_normal((3, 3, 3, 3)), b), {}, "the filters' channels (3) must match the input's (2)")]:
        cases.append(Case(bad, "conv_forward", args, kwargs, expect_raises("ValueError", hint=hint)))
    return cases


# -- exercise 4: conv_backward ---------------------------------------------------------------------------------------

DX_PADDED = "dx still has the padding: cut it off so that dx has the shape of x"
DX_OVERWRITTEN = ("dx is overwritten: every window adds dout * w[f] to dx, and windows overlap and all filters "
                  "contribute, so accumulate with += instead of =")
DW_OVERWRITTEN = "dw is overwritten: every output position and every image adds to dw[f], so accumulate with += instead of ="
DB_AXES = "db is summed over the wrong axes: sum dout over the batch and both spatial axes, axis=(0, 2, 3)"
DX_WRONG = "dx is wrong: each dout[n, f, i, j] sends dout * w[f] back to the window it came from"
DW_WRONG = "dw is wrong: dw[f] adds up dout[n, f, i, j] times the (padded) input window of that output"
DB_WRONG = "db is wrong: db[f] is the sum of dout[:, f]"
DB_MEAN = "db is the SUM of dout over (N, H', W'), not its mean: every output value adds b[f] once"


def _overwritten(dout, x, w, stride, pad):
    """dx (two loop orders) and dw as a backward pass with = instead of += computes them."""
    n, c, h, wid = x.shape
    f, _, hh, ww = w.shape
    xp = _padded(x, pad)
    rows, cols = dout.shape[2:]
    outer_f, inner_f = np.zeros_like(xp), np.zeros_like(xp)
    dw = np.zeros_like(w)
    for k in range(n):
        for i in range(rows):
            for j in range(cols):
                for ff in range(f):
                    sl = (k, slice(None), slice(i * stride, i * stride + hh), slice(j * stride, j * stride + ww))
                    inner_f[sl] = dout[k, ff, i, j] * w[ff]
    for k in range(n):
        for ff in range(f):
            for i in range(rows):
                for j in range(cols):
                    sl = (k, slice(None), slice(i * stride, i * stride + hh), slice(j * stride, j * stride + ww))
                    outer_f[sl] = dout[k, ff, i, j] * w[ff]
                    dw[ff] = dout[k, ff, i, j] * xp[sl]
    crop = (slice(None), slice(None), slice(pad, pad + h), slice(pad, pad + wid))
    return [outer_f[crop], inner_f[crop]], dw


def _backward_case(group, dout, x, w, b, stride, pad):
    dx, dw, db = _gradients(dout, x, w, stride, pad)
    dx_over, dw_over = _overwritten(dout, x, w, stride, pad)
    n, c, h, wid = x.shape
    f = w.shape[0]
    rows, cols = dout.shape[2:]
    db_shapes = [(shape, DB_AXES) for shape in [(n, f), (f, rows, cols), (rows, cols), (n,), (n, f, rows), (f, rows),
                                                (1, f, 1, 1), (f, 1, 1), (1, f)]]
    judges = [("dx", expect_array(dx, [(d, DX_OVERWRITTEN) for d in dx_over], DX_WRONG,
                                  [((n, c, h + 2 * pad, wid + 2 * pad), DX_PADDED)])),
              ("dw", expect_array(dw, [(dw_over, DW_OVERWRITTEN)], DW_WRONG)),
              ("db", expect_array(db, [(dout.sum(axis=(1, 2, 3)), DB_AXES), (db / (n * rows * cols), DB_MEAN)],
                                  DB_WRONG, db_shapes))]
    return parts(group, "conv_backward", (dout, (x, w, b, stride, pad)), {},
                 [(name, _named(name, judge)) for name, judge in judges], "return the three gradients (dx, dw, db)")


def _named(name, judge):
    """``judge`` whose messages start with the gradient's name."""
    def named(got):
        message = judge(got)
        return message if not message or message.split()[0] == name else f"{name}: {message}"
    return named


def _conv_backward_cases(rng):
    g = arrays(rng)
    known = "the hand-worked example (3x3 input, 2x2 filter, dout of ones)"
    plain = "4 random batches with S=1, P=0 (N > 1, several filters, non-square)"
    strided = "6 random batches with strides 2-3 and padding 1-2, some that do not fit nicely"
    x0 = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    w0 = np.array([[[[1.0, 0.0], [2.0, -1.0]]]])
    cases = (_backward_case(known, np.ones((1, 1, 2, 2)), x0, w0, np.array([0.5]), 1, 0)
             + _backward_case(known, np.ones((1, 1, 2, 2)), x0, w0, np.array([0.5]), 2, 1))
    for group, count, strides, pads in [(plain, 4, [1], [0]), (strided, 6, [2, 3], [1, 2])]:
        for _ in range(count):
            x, w, b, stride, pad = _random_layer(rng, g, strides, pads)
            rows = _positions(x.shape[2], w.shape[2], stride, pad)
            cols = _positions(x.shape[3], w.shape[3], stride, pad)
            dout = g.standard_normal((x.shape[0], w.shape[0], rows, cols))
            cases += _backward_case(group, dout, x, w, b, stride, pad)
    return cases


# -- exercise 5: conv1x1 and multiply-adds ---------------------------------------------------------------------------

def _conv1x1_case(group, x, w, b):
    n, c, h, wid = x.shape
    exact = _shift_add(x, w, b, 1, 0)
    no_bias = exact - b.reshape(1, -1, 1, 1)
    shapes = [((n, h, wid, w.shape[0]), "return NCHW: the output is (N, F, H, W), not channels last"),
              ((n, w.shape[0], h * wid), "reshape the result back to (N, F, H, W)")]
    return Case(group, "conv1x1", (x, w, b), judge=expect_array(exact, [(no_bias, NO_BIAS)],
                                                                "wrong values: out[n, :, i, j] = W @ x[n, :, i, j] + b",
                                                                shapes))


def _conv1x1_cases(rng):
    g = arrays(rng)
    known = "a 2-channel 2x2 image through 3 filters, worked by hand"
    randoms = "8 random batches (N > 1, non-square, C and F from 1 to 6)"
    bad = "a filter that is not 1x1, or a channel mismatch, is rejected"
    cases = [_conv1x1_case(known, np.arange(8.0).reshape(1, 2, 2, 2),
                           np.array([1.0, 0.0, 0.0, 1.0, 1.0, -1.0]).reshape(3, 2, 1, 1), np.array([0.0, 1.0, 0.5]))]
    for _ in range(8):
        n, c, f, h, w = rng.randint(2, 3), rng.randint(1, 6), rng.randint(1, 6), rng.randint(1, 6), rng.randint(1, 6)
        cases.append(_conv1x1_case(randoms, g.standard_normal((n, c, h, w)), g.standard_normal((f, c, 1, 1)),
                                   g.standard_normal(f)))
    x = g.standard_normal((2, 3, 4, 4))
    cases += [Case(bad, "conv1x1", (x, g.standard_normal((2, 3, 3, 3)), np.zeros(2)),
                   judge=expect_raises("ValueError", hint="w must have shape (F, C, 1, 1)")),
              Case(bad, "conv1x1", (x, g.standard_normal((2, 4, 1, 1)), np.zeros(2)),
                   judge=expect_raises("ValueError", hint="the filters' channels must match the input's"))]
    return cases


NO_DEPTH = "each output value needs f*f*c_in multiply-adds: a filter spans all the input channels"
NOT_SQUARED = "the filter is f x f: use f*f, not f"


def _mult_adds_case(group, h, w, c_in, f, n):
    count = len(range(h)) * len(range(w)) * n * f * f * c_in
    mistakes = {}
    for wrong, message in ((h * w * n * f * f, NO_DEPTH), (h * w * n * f * c_in, NOT_SQUARED)):
        mistakes.setdefault(wrong, []).append(message)
    # a wrong value that two mistakes give (f = c_in) or that is the answer (c_in = f = 1) names no mistake
    mistakes = {wrong: messages[0] for wrong, messages in mistakes.items() if len(messages) == 1 and wrong != count}
    return Case(group, "conv_mult_adds", (h, w, c_in, f, n), judge=expect(count, mistakes))


def _mult_adds_cases(rng):
    known = "small layers worked by hand (a 1x1 layer, a 3x3 layer)"
    randoms = "20 random layers"
    inception = "GoogLeNet inception (3a), 5x5 branch: directly and with the 1x1 reduction"
    cases = [_mult_adds_case(known, 2, 3, 4, 1, 5), _mult_adds_case(known, 4, 5, 4, 3, 2)]
    cases += [_mult_adds_case(randoms, rng.randint(1, 60), rng.randint(1, 60), rng.randint(1, 512),
                              rng.choice([1, 3, 5, 7]), rng.randint(1, 512)) for _ in range(20)]
    positions = 28 * 28          # the 5x5 branch keeps the 28x28 size (padding 2)
    direct = positions * 32 * (5 * 5 * 192)
    reduced = positions * 16 * 192 + positions * 32 * (5 * 5 * 16)
    cases.append(Case(inception, "inception_3a_5x5_costs", (), judge=expect(
        (direct, reduced), {(reduced, direct): "return (direct, reduced) in that order",
                            (direct, positions * 32 * 5 * 5 * 16): "the reduced branch also pays for its 1x1 layer: add it"},
        hint="wrong numbers: use conv_mult_adds for each conv layer; the branch keeps the 28x28 size")))
    return cases


# -- exercise 6: fc_as_conv ------------------------------------------------------------------------------------------

FC_ORDER = "the weights are in the wrong order: vec() is row-major over (C, H, W), so W_fc[u] reshapes to (C, H, W)"


def _fc_case(group, units, in_shape, g):
    c, h, w = in_shape
    W_fc, b_fc = g.standard_normal((units, c * h * w)), g.standard_normal(units)
    filters = np.zeros((units, c, h, w))
    for u in range(units):
        for k in range(c * h * w):
            filters[u, k // (h * w), (k // w) % h, k % w] = W_fc[u, k]
    wrong = [(W_fc.reshape(units, h, w, c).transpose(0, 3, 1, 2), FC_ORDER),
             (W_fc.reshape(units, c, w, h).transpose(0, 1, 3, 2), FC_ORDER),
             (W_fc.reshape((units, c, h, w), order="F"), FC_ORDER)]
    weights = expect_array(filters, wrong, FC_ORDER, [((units, c * h * w), "reshape W_fc to (units, C, H, W)")])
    bias = expect_array(b_fc, hint="the bias stays one number per unit: return b_fc unchanged, shape (units,)")

    def judge(got):
        trouble = problem(got)
        if trouble:
            return trouble
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return "return the pair (w, b)"
        return weights(got[0]) or bias(got[1])
    return Case(group, "fc_as_conv", (W_fc, b_fc, in_shape), judge=judge)


def _fc_as_conv_cases(rng):
    g = arrays(rng)
    known = "10 units on a (2, 3, 3) input"
    randoms = "8 random layers (non-square inputs)"
    bad = "W_fc whose width is not C*H*W is rejected"
    cases = [_fc_case(known, 10, (2, 3, 3), g)]
    cases += [_fc_case(randoms, rng.randint(1, 8), (rng.randint(1, 4), rng.randint(1, 5), rng.randint(1, 5)), g)
              for _ in range(8)]
    cases.append(Case(bad, "fc_as_conv", (g.standard_normal((4, 17)), np.zeros(4), (2, 3, 3)),
                      judge=expect_raises("ValueError", hint="W_fc must have C*H*W columns")))
    return cases


# -- exercise 7: edge and blur filters -------------------------------------------------------------------------------

def _edge_judge(pictures):
    """``pictures``: (image, edge column or None) pairs; a vertical-edge filter must answer 0 on flat regions and
    on horizontal edges, and strongly right at a vertical edge."""
    def judge(got):
        trouble = problem(got)
        if trouble:
            return trouble
        if not isinstance(got, np.ndarray) or got.dtype.kind not in "biuf":
            return "return a NumPy array"
        if got.shape != (1, 1, 3, 3):
            return f"the filter must have shape (1, 1, 3, 3), not {got.shape}"
        for image, column, step in pictures:
            out = _shift_add(image, got.astype(float), np.zeros(1), 1, 0)[0, 0]
            if column is None:
                if not np.allclose(out, 0, atol=1e-9):
                    return ("the filter answers where there is no vertical edge (a flat picture or a horizontal edge): "
                            "its weights must sum to 0, and so must each of its rows")
                continue
            away = np.delete(out, [column - 2, column - 1], axis=1)
            if not np.allclose(away, 0, atol=1e-9):
                return "the filter answers away from the edge: its weights must sum to 0"
            if np.min(np.abs(out[:, column - 2:column])) < 0.5 * step:
                return "the response at the vertical edge is weak: weight the left and right columns with opposite signs"
        return None
    return judge


def _edge_cases(rng):
    g = arrays(rng)
    pictures = [(np.full((1, 1, 8, 9), float(g.uniform(-2, 2))), None, 0)]
    horizontal = np.zeros((1, 1, 9, 8))
    horizontal[:, :, rng.randint(2, 6):] = 1.0 + g.uniform()
    pictures.append((horizontal, None, 0))
    for _ in range(3):
        column, low, high = rng.randint(3, 7), g.uniform(-1, 1), g.uniform(1.5, 3)
        image = np.full((1, 1, rng.randint(5, 8), 10), low)
        image[:, :, :, column:] = high
        pictures.append((image, column, high - low))
    return [Case("a step picture: response only at the vertical edge, none on flat areas and horizontal edges",
                 "edge_filter", judge=_edge_judge(pictures))]


def _blur_cases(rng):
    sizes = [3, 1] + rng.sample([2, 4, 5, 6, 7], 3)
    cases = []
    for k in sizes:
        box = np.full((1, 1, k, k), 1.0 / (k * k))
        cases.append(Case("k x k box filters (k = 1 to 7) summing to 1", "blur_filter", (k,), judge=expect_array(
            box, [(np.ones((1, 1, k, k)), "the weights must sum to 1 (divide by k*k), or the picture gets brighter"),
                  (np.full((1, 1, k, k), 1.0 / k), "the weights must sum to 1: divide by k*k, not k")],
            "every weight of a box blur is the same, 1/(k*k)", [((k, k), "return shape (1, 1, k, k)")])))
    cases += [Case("k < 1 is rejected", "blur_filter", (k,), judge=expect_raises("ValueError", hint="k must be >= 1"))
              for k in (0, -2)]
    return cases


# -- exercise 8a: im2col ---------------------------------------------------------------------------------------------

COLS_TRANSPOSED = "rows are the (c, p, q) offsets and columns the windows: you returned the transpose"
COLS_ROW_ORDER = "rows are ordered c, then p, then q (as w.reshape(F, -1)): you put the channel last"
COLS_COLUMN_ORDER = "columns are ordered n, then i, then j: image n's windows come together, one after another"
COLS_NO_STRIDE = "the window of output (i, j) starts at (i*stride, j*stride): did you forget the stride?"
COLS_NO_PAD = "pad the input first (zero_pad): the windows are taken from the padded input"
COLS_WRONG = "column (n*H' + i)*W' + j must be the padded window of output (i, j) of image n, read as (c, p, q)"


def _cols(x, hh, ww, stride, pad, order="cpq", columns="nij", start_stride=True):
    """im2col by its definition, value by value; ``order``, ``columns`` and ``start_stride`` give the typical
    mistakes (rows ordered (p, q, c), columns (i, j, n), windows starting at (i, j))."""
    n, c, h, w = x.shape
    xp = _padded(x, pad)
    rows, cols = _positions(h, hh, stride, pad), _positions(w, ww, stride, pad)
    step = stride if start_stride else 1
    out = np.zeros((c * hh * ww, n * rows * cols))
    for k, i, j in np.ndindex(n, rows, cols):
        col = (k * rows + i) * cols + j if columns == "nij" else (i * cols + j) * n + k
        for ch, p, q in np.ndindex(c, hh, ww):
            row = (ch * hh + p) * ww + q if order == "cpq" else (p * ww + q) * c + ch
            out[row, col] = xp[k, ch, i * step + p, j * step + q]
    return out


def _im2col_case(group, x, hh, ww, stride=1, pad=0):
    exact = _cols(x, hh, ww, stride, pad)
    mistakes = [(_cols(x, hh, ww, stride, pad, order="pqc"), COLS_ROW_ORDER),
                (_cols(x, hh, ww, stride, pad, columns="ijn"), COLS_COLUMN_ORDER)]
    if stride > 1 and all(f <= size for f, size in zip((hh, ww), x.shape[2:])):
        mistakes.append((_cols(x, hh, ww, stride, pad, start_stride=False), COLS_NO_STRIDE))
    shape_hints = [(exact.shape[::-1], COLS_TRANSPOSED)]
    if pad and hh <= x.shape[2] and ww <= x.shape[3]:
        shape_hints.append((_cols(x, hh, ww, stride, 0).shape, COLS_NO_PAD))
    kwargs = {"stride": stride, "pad": pad} if (stride, pad) != (1, 0) else {}
    return Case(group, "im2col", (x, hh, ww), kwargs, expect_array(exact, mistakes, COLS_WRONG, shape_hints))


def _im2col_cases(rng):
    g = arrays(rng)
    known = "the worked example (3x4 input, 2x2 window) with S=1, P=0 and with S=2, P=1"
    plain = "5 random batches with S=1, P=0 (N > 1, several channels, non-square windows)"
    strided = "8 random batches with strides 2-3 and padding 1-2"
    bad = "bad arguments are rejected (window too large, stride < 1, pad < 0)"
    x0 = np.arange(1.0, 13.0).reshape(1, 1, 3, 4)
    cases = [_im2col_case(known, x0, 2, 2), _im2col_case(known, x0, 2, 2, 2, 1)]
    for group, strides, pads, count in ((plain, [1], [0], 5), (strided, [2, 3], [1, 2], 8)):
        for _ in range(count):
            x, w, _, stride, pad = _random_layer(rng, g, strides, pads)
            cases.append(_im2col_case(group, x, w.shape[2], w.shape[3], stride, pad))
    x = g.standard_normal((2, 2, 4, 5))
    for args, kwargs, hint in [((x, 5, 3), {}, "a 5-high window on a 4-high input: raise ValueError"),
                               ((x, 3, 8), {"pad": 1}, "the window is wider than the padded input"),
                               ((x, 2, 2), {"stride": 0}, "the stride must be at least 1"),
                               ((x, 2, 2), {"pad": -1}, "the padding cannot be negative")]:
        cases.append(Case(bad, "im2col", args, kwargs, expect_raises("ValueError", hint=hint)))
    return cases


# -- exercise 8b: conv_forward_im2col --------------------------------------------------------------------------------

IM2COL_NO_TRANSPOSE = ("the product is ordered (F, N, H', W'): reshape to (F, N, H', W'), then transpose to "
                       "(N, F, H', W'); a reshape alone mixes images and filters")


def _forward_im2col_case(group, x, w, b, stride=1, pad=0):
    """conv_forward's cases (out, cache) for conv_forward_im2col; out also recognises the missing transpose."""
    out_case, cache_case = _forward_case(group, x, w, b, stride, pad)
    exact = _shift_add(x, w, b, stride, pad)
    mixed = exact.transpose(1, 0, 2, 3).reshape(exact.shape)
    judge = out_case.judge

    def judged(got):
        if (isinstance(got, tuple) and len(got) == 2 and isinstance(got[0], np.ndarray) and x.shape[0] > 1
                and got[0].shape == mixed.shape and np.allclose(got[0], mixed) and not np.allclose(mixed, exact)):
            return IM2COL_NO_TRANSPOSE
        return judge(got)
    out_case.judge = judged
    for case in (out_case, cache_case):
        case.call = "conv_forward_im2col"
    return [out_case, cache_case]


def _conv_forward_im2col_cases(rng):
    g = arrays(rng)
    known = "the hand-worked example of section 3 with S=1, P=0 and with S=2, P=1"
    plain = "5 random batches with S=1, P=0 (N > 1, several filters, non-square)"
    strided = "8 random batches with strides 2-3 and padding 1-2"
    bad = "bad arguments are rejected (filter too large, stride < 1, channel mismatch)"
    x0 = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    w0 = np.array([[[[1.0, 0.0], [2.0, -1.0]]]])
    b0 = np.array([0.5])
    cases = _forward_im2col_case(known, x0, w0, b0) + _forward_im2col_case(known, x0, w0, b0, 2, 1)
    for _ in range(5):
        cases += _forward_im2col_case(plain, *_random_layer(rng, g, [1], [0]))
    for _ in range(8):
        cases += _forward_im2col_case(strided, *_random_layer(rng, g, [2, 3], [1, 2]))
    x, w, b = g.standard_normal((2, 2, 4, 5)), g.standard_normal((3, 2, 3, 3)), g.standard_normal(3)
    for args, kwargs, hint in [
            ((x, g.standard_normal((1, 2, 5, 3)), b[:1]), {}, "a 5x3 filter is larger than the 4x5 input"),
            ((x, w, b), {"stride": 0}, "the stride must be at least 1"),
            ((x, g.standard_normal((3, 3, 3, 3)), b), {}, "the filters' channels (3) must match the input's (2)")]:
        cases.append(Case(bad, "conv_forward_im2col", args, kwargs, expect_raises("ValueError", hint=hint)))
    return cases


def cases(rng):
    """{grade_id: [Case, ...]} for every graded test cell of the notebook; ``rng`` is a ``random.Random``."""
    return {
        "test_conv_mult_adds": _mult_adds_cases(rng),
        "test_zero_pad": _zero_pad_cases(rng),
        "test_conv_single_step": _single_cases(rng),
        "test_conv_forward": _conv_forward_cases(rng),
        "test_conv_backward": _conv_backward_cases(rng),
        "test_conv1x1": _conv1x1_cases(rng),
        "test_fc_as_conv": _fc_as_conv_cases(rng),
        "test_edge_filter": _edge_cases(rng),
        "test_blur_filter": _blur_cases(rng),
        "test_im2col": _im2col_cases(rng),
        "test_conv_forward_im2col": _conv_forward_im2col_cases(rng),
    }
