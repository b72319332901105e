"""The grader's checks for assignment 03, pooling and pooling as a matrix.

``cases(rng)`` gives, for each graded test cell, the notes' example (the 4x4 map pooled with 2x2 windows, stride 2)
and fresh random cases drawn from ``rng``: batches with N > 1 and several channels, non-square maps, windows that
tile the map (r = s), overlapping windows (r = 3, s = 2 and r = 2, s = 1), windows that do not fit nicely, and
inputs of small integers, so that windows hold tied maxima wherever the tie rule matters (forward, backward and
matrix cases). The references are written independently of the model solution: the windows are gathered as one
strided slice per window offset (p, q) in row-major order, so "the first maximum" is the first offset that holds
the maximum; gradients are scattered back one offset at a time; pooling matrices are built from the same offsets.

The typical mistakes (those of ``tests/mistakes/m03_pooling.py`` and a few more) are computed as buggy variants
for every case, so a wrong answer that one of them explains gets that mistake's message. No message shows an
expected value.
"""
import numpy as np

from ._common import Case, expect_array, expect_cache, expect_raises, parts, problem, arrays

ASSIGNMENT = "03_pooling"

# -- references ------------------------------------------------------------------------------------------------------


def _sizes(h, w, r, s):
    return (h - r) // s + 1, (w - r) // s + 1


def _offsets(x, r, s, step=None):
    """The window entries of x (..., h, w) as an array (..., h', w', r*r), offsets (p, q) in row-major order.
    ``step`` is how far apart the windows start (the stride; 1 for the "stride forgotten" variant)."""
    h, w = x.shape[-2:]
    ho, wo = _sizes(h, w, r, s)
    step = s if step is None else step
    return np.stack([x[..., p:p + step * (ho - 1) + 1:step, q:q + step * (wo - 1) + 1:step]
                     for p in range(r) for q in range(r)], axis=-1)


def _max(x, r, s, step=None):
    return _offsets(x, r, s, step).max(axis=-1)


def _avg(x, r, s, step=None):
    return _offsets(x, r, s, step).sum(axis=-1) / (r * r)


def _scatter(x_shape, dout, weights, r, s, step=None):
    """dx = sum over offsets k of weights[..., k] * dout put back at the entries that offset k sees."""
    step = s if step is None else step
    dx = np.zeros(x_shape)
    ho, wo = dout.shape[-2:]
    for k in range(r * r):
        p, q = divmod(k, r)
        dx[..., p:p + step * (ho - 1) + 1:step, q:q + step * (wo - 1) + 1:step] += dout * weights[..., k]
    return dx


def _first_max_weights(x, r, s, step=None, rule="first"):
    """(..., h', w', r*r) one-hot (or several-hot) weights of the entries that receive a window's gradient."""
    stack = _offsets(x, r, s, step)
    is_max = stack == stack.max(axis=-1, keepdims=True)
    if rule == "all":
        return is_max.astype(float)
    if rule == "split":
        return is_max / is_max.sum(axis=-1, keepdims=True)
    order = np.arange(r * r) if rule == "first" else np.arange(r * r)[::-1]
    chosen = np.zeros_like(stack)
    picked = np.zeros(stack.shape[:-1], dtype=bool)
    for k in order:
        take = is_max[..., k] & ~picked
        chosen[..., k] = take
        picked |= take
    return chosen


def _assigned(x_shape, dout, weights, r, s, whole_window):
    """The backward pass with = instead of +=, windows visited row by row: an entry keeps what the last window
    that writes it wrote (``whole_window``: the student writes mask * dout over the whole window, zeros too)."""
    dx = np.zeros(x_shape)
    ho, wo = dout.shape[-2:]
    for i in range(ho):
        for j in range(wo):
            block = (weights[..., i, j, :] * dout[..., i, j, None]).reshape(*x_shape[:-2], r, r)
            target = dx[..., i * s:i * s + r, j * s:j * s + r]
            if whole_window:
                target[...] = block
            else:
                mask = weights[..., i, j, :].reshape(*x_shape[:-2], r, r) != 0
                target[mask] = block[mask]
    return dx


# -- judging arrays --------------------------------------------------------------------------------------------------


def _pair(group, call, x, r, s, out_judge):
    """The cases of a forward pass's (out, cache), each in its own group: out, and cache = (x, size, stride)."""
    backward = call.replace("forward", "backward")
    return parts(group, call, (x, r, s), {}, [
        ("out", out_judge),
        ("cache", expect_cache((x, r, s), "(x, size, stride)",
                               f"the cache must carry what {backward} needs: cache = (x, size, stride), the size and "
                               "stride too"))],
        "return the pair (out, cache)")


NOTES_H = np.array([[1.0, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]])


def _random_setting(rng, settings):
    """(h, w, r, s): a non-square map that fits the window."""
    r, s = rng.choice(settings)
    while True:
        h, w = rng.randint(r, r + 5), rng.randint(r, r + 5)
        if h != w:
            return h, w, r, s


def _tied(g, shape):
    """Small integers as floats: many windows hold tied maxima."""
    return g.integers(0, 4, shape).astype(float)


def _batch(rng, g, settings, ties=True):
    h, w, r, s = _random_setting(rng, settings)
    shape = (rng.randint(2, 3), rng.randint(1, 3), h, w)
    x = _tied(g, shape) if ties else g.standard_normal(shape)
    return x, r, s


TILE = [(2, 2), (3, 3)]
OVERLAP = [(3, 2), (2, 1), (3, 1)]

# -- exercise 1a: max_pool_forward -----------------------------------------------------------------------------------

NO_STRIDE = "the window must start at row i*stride and column j*stride: did you forget the stride?"
FLOOR = ("this map does not fit the windows nicely: H' = (H - size) // stride + 1 rounds down, "
         "the last rows/columns are dropped")
NOT_EACH_MAP = "pool every image and every channel on its own: the output keeps N and C"


def _shape_hints(x, r, s):
    n, c, h, w = x.shape
    ho, wo = _sizes(h, w, r, s)
    up = (-(-(h - r) // s) + 1, -(-(w - r) // s) + 1)
    hints = [((n, c) + up, FLOOR)] if up != (ho, wo) else []
    return hints + [((ho, wo), NOT_EACH_MAP), ((n, ho, wo), NOT_EACH_MAP), ((n, 1, ho, wo), NOT_EACH_MAP)]


def _max_forward_case(group, x, r, s):
    exact = _max(x, r, s)
    mistakes = [(_max(x, r, s, step=1), NO_STRIDE)]
    return _pair(group, "max_pool_forward", x, r, s, expect_array(
        exact, mistakes, "wrong values: out[n, c, i, j] is the maximum of the window at (i*stride, j*stride)",
        _shape_hints(x, r, s)))


DEFAULTS = "size and stride left out: the defaults are size=2, stride=2 (the windows tile the map)"


def _defaults_cases(case_of, call, rng, g):
    """Two calls with only x: the defaults size=2, stride=2 (judged as such, out and cache)."""
    group = f"{call}(x) with the default size and stride"
    cases = []
    for _ in range(2):
        x = _tied(g, (2, rng.randint(1, 3), rng.randint(4, 7), rng.randint(4, 7)))
        for case in case_of(group, x, 2, 2):
            case.args, judge = (x,), case.judge
            case.judge = (lambda j: lambda got: _default_hint(j(got)))(judge)
            cases.append(case)
    return cases


def _default_hint(message):
    return message if not message or message == "not implemented yet" else f"{message} ({DEFAULTS})"


def _bad_args_cases(group, call, g):
    x = g.standard_normal((2, 2, 4, 6))
    return [Case(group, call, (x, 5, 1), judge=expect_raises("ValueError", hint="a 5x5 window is larger than H = 4")),
            Case(group, call, (g.standard_normal((2, 1, 7, 3)), 4, 2),
                 judge=expect_raises("ValueError", hint="a 4x4 window is larger than W = 3")),
            Case(group, call, (x, 0, 1), judge=expect_raises("ValueError", hint="size must be at least 1")),
            Case(group, call, (x, 2, 0), judge=expect_raises("ValueError", hint="stride must be at least 1"))]


def _max_forward_cases(rng):
    g = arrays(rng)
    known = "the notes' example (4x4 map, 2x2 windows, stride 2; and 3x3, stride 1)"
    tile = "6 random batches with windows that tile the map (size = stride; N > 1, channels, non-square, ties)"
    overlap = "8 random batches with overlapping windows (3x3 stride 2, 2x2 stride 1, ...), some that do not fit nicely"
    cases = (_max_forward_case(known, NOTES_H.reshape(1, 1, 4, 4), 2, 2)
             + _max_forward_case(known, NOTES_H.reshape(1, 1, 4, 4), 3, 1))
    for group, count, settings in [(tile, 6, TILE), (overlap, 8, OVERLAP)]:
        for _ in range(count):
            cases += _max_forward_case(group, *_batch(rng, g, settings))
    cases += _defaults_cases(_max_forward_case, "max_pool_forward", rng, g)
    return cases + _bad_args_cases("bad arguments are rejected (window larger than H or W, size < 1, stride < 1)",
                                   "max_pool_forward", g)


# -- exercise 1b: max_pool_backward ----------------------------------------------------------------------------------

DX_OVERWRITTEN = ("dx is overwritten: overlapping windows can share their maximum, and that entry must receive the "
                  "sum of their gradients, so accumulate with += instead of =")
DX_EVERY_TIE = ("the gradient went to every tied maximum of a window: give the whole gradient to the FIRST maximum "
                "in row-major order only (np.argmax on the window)")
DX_LAST_TIE = ("at a tie the gradient went to the last maximum: the rule is the FIRST maximum in row-major order "
               "(np.argmax on the window)")
DX_NO_STRIDE = "the windows must start at row i*stride and column j*stride: did you forget the stride?"
DX_WRONG = "dx is wrong: each dout[n, c, i, j] goes to the argmax of its window, all other entries get nothing from it"


def _max_backward_case(group, x, r, s, dout):
    first = _first_max_weights(x, r, s)
    exact = _scatter(x.shape, dout, first, r, s)
    mistakes = [(_assigned(x.shape, dout, first, r, s, False), DX_OVERWRITTEN),
                (_assigned(x.shape, dout, first, r, s, True), DX_OVERWRITTEN),
                (_scatter(x.shape, dout, _first_max_weights(x, r, s, rule="all"), r, s), DX_EVERY_TIE),
                (_scatter(x.shape, dout, _first_max_weights(x, r, s, rule="last"), r, s), DX_LAST_TIE),
                (_scatter(x.shape, dout, _first_max_weights(x, r, s, step=1), r, s, step=1), DX_NO_STRIDE)]
    return Case(group, "max_pool_backward", (dout, (x, r, s)),
                judge=expect_array(exact, mistakes, DX_WRONG, [((x.shape[0], x.shape[1]) + dout.shape[2:],
                                                                 "dx must have the shape of x, not of dout")]))


def _max_backward_cases(rng):
    g = arrays(rng)
    known = "the notes' example (3x3 windows, stride 1, dout of ones; 2x2 stride 2) and a tied window"
    tile = "5 random batches with windows that tile the map, inputs with tied maxima"
    overlap = "8 random batches with overlapping windows (3x3 stride 2, 2x2 stride 1, ...), inputs with tied maxima"
    cases = [_max_backward_case(known, NOTES_H.reshape(1, 1, 4, 4), 3, 1, np.ones((1, 1, 2, 2))),
             _max_backward_case(known, NOTES_H.reshape(1, 1, 4, 4), 2, 2, g.standard_normal((1, 1, 2, 2))),
             _max_backward_case(known, np.array([[[[2.0, 2.0], [0.0, 2.0]]]]), 2, 2, np.array([[[[3.0]]]]))]
    for group, count, settings in [(tile, 5, TILE), (overlap, 8, OVERLAP)]:
        for _ in range(count):
            x, r, s = _batch(rng, g, settings)
            cases.append(_max_backward_case(group, x, r, s, g.standard_normal(_max(x, r, s).shape)))
    return cases


# -- exercise 2: avg_pool_forward, avg_pool_backward -----------------------------------------------------------------

AVG_NOT_DIVIDED = "the mean divides the window's sum by size*size"
AVG_DIVIDED_BY_SIZE = "divide by size*size (the number of entries in the window), not by size"
AVG_DX_NOT_DIVIDED = ("each entry of a window gets dout / (size*size): you forgot to divide by size*size "
                      "(the weight of every entry in the mean)")
AVG_DX_OVERWRITTEN = ("dx is overwritten: an entry in several (overlapping) windows receives the sum of their "
                      "gradients, so accumulate with += instead of =")


def _avg_forward_case(group, x, r, s):
    exact = _avg(x, r, s)
    mistakes = [(exact * r * r, AVG_NOT_DIVIDED), (exact * r, AVG_DIVIDED_BY_SIZE), (_avg(x, r, s, step=1), NO_STRIDE)]
    return _pair(group, "avg_pool_forward", x, r, s, expect_array(
        exact, mistakes, "wrong values: out[n, c, i, j] is the mean of the window at (i*stride, j*stride)",
        _shape_hints(x, r, s)))


def _avg_backward_case(group, x, r, s, dout):
    weights = np.full(dout.shape + (r * r,), 1.0 / (r * r))
    exact = _scatter(x.shape, dout, weights, r, s)
    mistakes = [(exact * r * r, AVG_DX_NOT_DIVIDED), (exact * r, AVG_DIVIDED_BY_SIZE),
                (_assigned(x.shape, dout, weights, r, s, True), AVG_DX_OVERWRITTEN),
                (_scatter(x.shape, dout, weights, r, s, step=1), DX_NO_STRIDE)]
    return Case(group, "avg_pool_backward", (dout, (x, r, s)), judge=expect_array(
        exact, mistakes, "dx is wrong: each dout[n, c, i, j] / (size*size) goes to every entry of its window"))


def _avg_cases(rng):
    g = arrays(rng)
    known = "forward: the notes' example (4x4 map, 2x2 windows, stride 2)"
    forward = "forward: 8 random batches (N > 1, channels, non-square; tiling and overlapping windows)"
    backward = "backward: the notes' map and 8 random batches, most with overlapping windows"
    cases = _avg_forward_case(known, NOTES_H.reshape(1, 1, 4, 4), 2, 2)
    for _ in range(8):
        cases += _avg_forward_case(forward, *_batch(rng, g, TILE + OVERLAP, ties=False))
    cases += _defaults_cases(_avg_forward_case, "avg_pool_forward", rng, g)
    cases.append(_avg_backward_case(backward, NOTES_H.reshape(1, 1, 4, 4), 3, 1, g.standard_normal((1, 1, 2, 2))))
    for _ in range(8):
        x, r, s = _batch(rng, g, OVERLAP + TILE[:1], ties=False)
        cases.append(_avg_backward_case(backward, x, r, s, g.standard_normal(_avg(x, r, s).shape)))
    return cases + _bad_args_cases("forward: bad arguments are rejected (window larger than H or W, size < 1, "
                                   "stride < 1)", "avg_pool_forward", g)


# -- exercise 3: the pooling matrices --------------------------------------------------------------------------------

A_TRANSPOSED = ("A has the wrong orientation: one ROW per output entry (h'w' rows) and one COLUMN per input entry "
                "(hw columns), so that A @ vec(H) is the pooled map; you built its transpose")
A_COLUMN_MAJOR = ("vec() is row-major: entry (a, b) of the h x w map is column a*w + b (H.ravel()), and output "
                  "(i, j) is row i*w' + j; you built A for column-major vec (a + b*h)")
A_EVERY_TIE = "one 1 per row: at a tie, only the FIRST maximum in row-major order (np.argmax) gets the 1"
A_LAST_TIE = "at a tie the 1 goes to the FIRST maximum in row-major order (np.argmax), not the last"
A_NO_STRIDE = "window (i, j) starts at row i*s and column j*s: did you forget the stride?"
A_AVG_NOT_DIVIDED = "the weights of A_AvgPool are 1/r**2 (a mean), not 1"


def _matrix(h, w, r, s, weights, step=None, order="C"):
    """A (h'w', hw) from per-window offset weights (h', w', r*r); ``order`` 'F' builds it for column-major vec."""
    step = s if step is None else step
    ho, wo = _sizes(h, w, r, s)
    A = np.zeros((ho * wo, h * w))
    for i in range(ho):
        for j in range(wo):
            row = i * wo + j if order == "C" else j * ho + i
            for k in range(r * r):
                a, b = i * step + k // r, j * step + k % r
                A[row, a * w + b if order == "C" else b * h + a] += weights[i, j, k]
    return A


def _matrix_variants(h, w, r, s, weights_of, exact):
    """Column-major variants (rows, columns, both) and the transposed matrix, shared by both matrices."""
    wrong = [(_matrix(h, w, r, s, weights_of(None), order="F"), A_COLUMN_MAJOR)]
    ho, wo = _sizes(h, w, r, s)
    perm_rows = np.arange(ho * wo).reshape(ho, wo).ravel(order="F")
    perm_cols = np.arange(h * w).reshape(h, w).ravel(order="F")
    wrong += [(exact[perm_rows], A_COLUMN_MAJOR), (exact[:, perm_cols], A_COLUMN_MAJOR),
              (exact[np.argsort(perm_rows)], A_COLUMN_MAJOR), (exact[:, np.argsort(perm_cols)], A_COLUMN_MAJOR)]
    return wrong, [((h * w, ho * wo), A_TRANSPOSED)]


def _max_matrix_case(group, H, r, s):
    h, w = H.shape
    exact = _matrix(h, w, r, s, _first_max_weights(H, r, s))
    wrong, shapes = _matrix_variants(h, w, r, s, lambda step: _first_max_weights(H, r, s), exact)
    wrong += [(_matrix(h, w, r, s, _first_max_weights(H, r, s, rule="all")), A_EVERY_TIE),
              (_matrix(h, w, r, s, _first_max_weights(H, r, s, rule="last")), A_LAST_TIE),
              (_matrix(h, w, r, s, _first_max_weights(H, r, s, step=1), step=1), A_NO_STRIDE)]
    return Case(group, "max_pool_matrix", (H, r, s), judge=expect_array(
        exact, wrong, "wrong entries: row i*w' + j has one 1, in column a*w + b of the first maximum (a, b) of "
                      "window (i, j)", shapes))


def _max_matrix_cases(rng):
    g = arrays(rng)
    known = "the notes' example (4x4 map, 2x2 windows, stride 2: A is 4 x 16)"
    randoms = "10 random non-square maps with tied maxima, tiling and overlapping windows (3x3 stride 2, ...)"
    bad = "bad arguments are rejected (window larger than the map, r < 1, s < 1)"
    cases = [_max_matrix_case(known, NOTES_H, 2, 2)]
    for _ in range(10):
        h, w, r, s = _random_setting(rng, TILE + OVERLAP)
        cases.append(_max_matrix_case(randoms, _tied(g, (h, w)), r, s))
    H = g.standard_normal((4, 6))
    for r, s, hint in [(5, 1, "a 5x5 window is larger than the 4x6 map"), (0, 1, "r must be at least 1"),
                       (2, 0, "s must be at least 1")]:
        cases.append(Case(bad, "max_pool_matrix", (H, r, s), judge=expect_raises("ValueError", hint=hint)))
    return cases


def _avg_matrix_case(group, h, w, r, s):
    ho, wo = _sizes(h, w, r, s)
    mean = np.full((ho, wo, r * r), 1.0 / (r * r))
    exact = _matrix(h, w, r, s, mean)
    wrong, shapes = _matrix_variants(h, w, r, s, lambda step: mean, exact)
    wrong += [(exact * r * r, A_AVG_NOT_DIVIDED), (_matrix(h, w, r, s, mean, step=1), A_NO_STRIDE)]
    return Case(group, "avg_pool_matrix", (h, w, r, s), judge=expect_array(
        exact, wrong, "wrong entries: row i*w' + j holds 1/r**2 in the columns a*w + b of the r*r entries of "
                      "window (i, j)", shapes))


def _avg_matrix_cases(rng):
    known = "the notes' example (4x4 map, 2x2 windows, stride 2: A is 4 x 16)"
    randoms = "8 random non-square sizes, tiling and overlapping windows (3x3 stride 2, ...)"
    bad = "bad arguments are rejected (window larger than the map, r < 1, s < 1)"
    cases = [_avg_matrix_case(known, 4, 4, 2, 2)]
    cases += [_avg_matrix_case(randoms, *_random_setting(rng, TILE + OVERLAP)) for _ in range(8)]
    for args, hint in [((4, 6, 5, 1), "a 5x5 window is larger than the 4x6 map"), ((6, 3, 4, 1), "r > w"),
                       ((4, 4, 0, 1), "r must be at least 1"), ((4, 4, 2, 0), "s must be at least 1")]:
        cases.append(Case(bad, "avg_pool_matrix", args, judge=expect_raises("ValueError", hint=hint)))
    return cases


# -- exercise 4: pool_backward_via_matrix ----------------------------------------------------------------------------

VIA_ORDER = "reshape row-major (order='C', the default): vec() is H.ravel() and vec(g) is g.ravel()"


def _via_matrix_case(group, A, g_up, shape):
    dH = np.zeros(shape[0] * shape[1])
    for k, m in zip(*np.nonzero(A)):
        dH[m] += A[k, m] * g_up.flat[k]
    exact = dH.reshape(shape)
    wrong = [(dH.reshape(shape, order="F"), VIA_ORDER),
             ((A.T @ g_up.ravel(order="F")).reshape(shape), VIA_ORDER)]
    return Case(group, "pool_backward_via_matrix", (A, g_up, tuple(shape)), judge=expect_array(
        exact, wrong, "wrong values: the gradient is A.T @ vec(g), shaped back to (h, w)",
        [((shape[0] * shape[1],), "shape the result back to (h, w)")]))


def _via_matrix_cases(rng):
    g = arrays(rng)
    known = "the notes' example (A_MaxPool of the 4x4 map)"
    randoms = "8 random non-square maps: A_MaxPool (with ties) and A_AvgPool, overlapping windows"
    A0 = _matrix(4, 4, 2, 2, _first_max_weights(NOTES_H, 2, 2))
    cases = [_via_matrix_case(known, A0, g.standard_normal((2, 2)), (4, 4))]
    for k in range(8):
        h, w, r, s = _random_setting(rng, OVERLAP + TILE)
        ho, wo = _sizes(h, w, r, s)
        weights = (_first_max_weights(_tied(g, (h, w)), r, s) if k % 2 == 0
                   else np.full((ho, wo, r * r), 1.0 / (r * r)))
        cases.append(_via_matrix_case(randoms, _matrix(h, w, r, s, weights), g.standard_normal((ho, wo)), (h, w)))
    return cases


# -- exercise 5: tie_split_gradient ----------------------------------------------------------------------------------

SPLIT_FIRST = "that is the first-maximum rule: here g is split equally among ALL the tied maxima"
SPLIT_NOT_DIVIDED = "split the gradient: each of the k tied maxima gets g / k (so that they sum to g), not g"
SPLIT_WRONG = "g / k at each of the k entries equal to the window's maximum, 0 elsewhere"


def _split_case(group, window, g_up):
    top = max(window.ravel().tolist())
    where = [[v == top for v in row] for row in window.tolist()]
    k = sum(sum(row) for row in where)
    exact = np.array([[g_up / k if m else 0.0 for m in row] for row in where])
    first = np.zeros_like(window)
    first.flat[int(np.argmax(window))] = g_up
    wrong = [(first, SPLIT_FIRST), (np.array(where, dtype=float) * g_up, SPLIT_NOT_DIVIDED)]
    return Case(group, "tie_split_gradient", (window, g_up), judge=expect_array(exact, wrong, SPLIT_WRONG))


def _split_cases(rng):
    g = arrays(rng)
    known = "the notebook's windows ([[2, 2], [0, 1]] and a three-way tie)"
    randoms = "10 random windows of small integers (ties of 2 to 4 entries, some without a tie, some not square)"
    cases = [_split_case(known, np.array([[2.0, 2.0], [0.0, 1.0]]), 1.0),
             _split_case(known, np.array([[4.0, 1.0, 4.0], [0.0, 4.0, 2.0], [3.0, 3.0, 1.0]]), 6.0)]
    for _ in range(10):
        shape = rng.choice([(2, 2), (3, 3), (2, 3), (3, 2)])
        cases.append(_split_case(randoms, _tied(g, shape), float(g.standard_normal())))
    return cases


# -- exercise 6a: matrix_sparsity ------------------------------------------------------------------------------------

SPARSITY_SWAPPED = "the first array counts per ROW (axis=1), the second per COLUMN (axis=0)"
SPARSITY_SUMS = "count the nonzero entries (np.count_nonzero or (A != 0).sum), do not add up their values"


def _sparsity_case(group, A):
    rows = np.array([sum(1 for v in row if v != 0) for row in A.tolist()])
    cols = np.array([sum(1 for v in col if v != 0) for col in A.T.tolist()])

    def judge(got):
        trouble = problem(got)
        if trouble:
            return trouble
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return "return the pair (per_row, per_column)"
        try:
            got = [np.asarray(part) for part in got]
        except Exception:  # noqa: BLE001
            return "return two arrays of counts"
        if any(part.dtype.kind not in "biuf" for part in got):
            return "return two arrays of counts"
        same = [part.shape == ref.shape and bool(np.all(part == ref)) for part, ref in zip(got, (rows, cols))]
        if all(same):
            return None
        if (got[0].shape == cols.shape and got[1].shape == rows.shape and np.all(got[0] == cols)
                and np.all(got[1] == rows)):
            return SPARSITY_SWAPPED
        if any(part.shape == ref.shape and np.allclose(part, A.sum(axis=axis))
               for part, ref, axis in zip(got, (rows, cols), (1, 0))):
            return SPARSITY_SUMS
        return "wrong counts: per_row[k] is the number of nonzero entries of row k, per_column[m] of column m"
    return Case(group, "matrix_sparsity", (A,), judge=judge)


def _sparsity_cases(rng):
    g = arrays(rng)
    known = "the notebook's 2x3 matrix and A_AvgPool of a 5x5 map (3x3 windows, stride 2)"
    randoms = "10 random matrices: pooling matrices (overlapping windows) and sparse matrices with negative entries"
    cases = [_sparsity_case(known, np.array([[1.0, 0.0, 2.0], [0.0, 0.0, -1.0]])),
             _sparsity_case(known, _matrix(5, 5, 3, 2, np.full((2, 2, 9), 1 / 9)))]
    for k in range(10):
        if k % 2:
            h, w, r, s = _random_setting(rng, OVERLAP)
            ho, wo = _sizes(h, w, r, s)
            A = _matrix(h, w, r, s, np.full((ho, wo, r * r), 1.0 / (r * r)) if k % 4 == 1
                        else _first_max_weights(_tied(g, (h, w)), r, s))
        else:
            shape = (rng.randint(2, 6), rng.randint(2, 7))
            A = g.standard_normal(shape) * (g.random(shape) < 0.4)
        cases.append(_sparsity_case(randoms, A))
    return cases


# -- exercise 6b: avg_pool_as_conv -----------------------------------------------------------------------------------

CONV_CHANNELS = ("the channels are mixed: pool every channel on its own, e.g. treat the N*C maps as one-channel "
                 "images (reshape to (N*C, 1, H, W)) and reshape back to (N, C, H', W')")


def _as_conv_case(group, x, r, s):
    n, c = x.shape[:2]
    exact = _avg(x, r, s)
    summed = np.repeat(exact.sum(axis=1, keepdims=True), c, axis=1)
    mistakes = [(exact * r * r, "the filter's weights are 1/size**2 (a mean), not 1"), (summed, CONV_CHANNELS),
                (summed / c, CONV_CHANNELS)]
    ho, wo = exact.shape[2:]
    shapes = [((n, 1, ho, wo), CONV_CHANNELS), ((n * c, 1, ho, wo), "reshape the result back to (N, C, H', W')")]
    h, w = x.shape[2:]
    if s != 1:
        shapes.append(((n, c, h - r + 1, w - r + 1), "pass the stride to conv_forward"))
    return Case(group, "avg_pool_as_conv", (x, r, s), judge=expect_array(
        exact, mistakes, "wrong values: the result must equal average pooling", shapes))


def _as_conv_cases(rng):
    g = arrays(rng)
    known = "the notes' example (4x4 map, 2x2 windows, stride 2)"
    randoms = "6 random batches (N > 1, several channels, non-square; 3x3 stride 2 and others)"
    cases = [_as_conv_case(known, NOTES_H.reshape(1, 1, 4, 4), 2, 2)]
    cases += [_as_conv_case(randoms, *_batch(rng, g, OVERLAP + TILE, ties=False)) for _ in range(6)]
    return cases


def cases(rng):
    """{grade_id: [Case, ...]} for every graded test cell of the notebook; ``rng`` is a ``random.Random``."""
    return {
        "test_max_pool_forward": _max_forward_cases(rng),
        "test_max_pool_backward": _max_backward_cases(rng),
        "test_avg_pool": _avg_cases(rng),
        "test_max_pool_matrix": _max_matrix_cases(rng),
        "test_avg_pool_matrix": _avg_matrix_cases(rng),
        "test_pool_backward_via_matrix": _via_matrix_cases(rng),
        "test_tie_split_gradient": _split_cases(rng),
        "test_matrix_sparsity": _sparsity_cases(rng),
        "test_avg_pool_as_conv": _as_conv_cases(rng),
    }
