"""The grader's checks for assignment 04: batch normalization, residual blocks, counting the classic architectures.

``cases(rng)`` gives, for each graded test cell, the notes' known answers (AlexNet, VGG-16, ResNet and Inception
layers) and fresh random cases drawn from ``rng``: batches with N > 1, several channels, non-square maps, channels
of very different scales (so that eps and the biased variance matter), train and test mode, several momentums,
identity and projection blocks. The references are written independently of the model solution and of
``helpers.kernels``: batch norm from explicit sums over (N, H, W) and a step-by-step backward through its graph
(x -> mean -> centred -> variance -> std -> x_hat -> out); convolution as a sum over the kernel offsets (p, q),
one strided slice each; layer counts by counting window positions and weight-array sizes.

Most calls go to small functions that the test cells define (``_bn_forward_run``, ``_block_backward_run``...): they
run the student's forward and backward and return plain arrays, so that the student's cache (any object) never
has to cross to the grader. Typical mistakes (those of ``tests/mistakes/m04_resnets.py`` and more) are computed
as buggy variants for every case, so a wrong answer that one of them explains gets that mistake's message. No
message shows an expected value.
"""
import numpy as np

from ._common import Case, arrays, close, expect, expect_array, expect_raises, parts, problem, shape_error

ASSIGNMENT = "04_resnets"

EPS = 1e-5

# -- references: batch norm ------------------------------------------------------------------------------------------


def _channel_mean(v):
    """Mean of each channel of v (N, C, H, W) over (N, H, W), by an explicit sum."""
    n, c, h, w = v.shape
    return v.transpose(1, 0, 2, 3).reshape(c, n * h * w).sum(axis=1) / (n * h * w)


def _col(v):
    return np.asarray(v).reshape(1, -1, 1, 1)


def _bn_train_stats(x, variant=None):
    """(mean, var) of a batch; variant "unbiased" divides the variance by m - 1, "axis0" works over N only."""
    if variant == "axis0":
        mean = x.sum(axis=0) / x.shape[0]
        return mean, ((x - mean) ** 2).sum(axis=0) / x.shape[0]
    mean = _channel_mean(x)
    var = _channel_mean((x - _col(mean)) ** 2)
    if variant == "unbiased":
        m = x.shape[0] * x.shape[2] * x.shape[3]
        var = var * m / (m - 1)
    return mean, var


def _normalise(x, mean, var, gamma, beta, eps=EPS, variant=None):
    shape = (1,) + np.shape(mean) if np.ndim(mean) == 3 else (1, -1, 1, 1)
    if variant == "no_eps":
        std = np.sqrt(var)
    elif variant == "eps_outside":
        std = np.sqrt(var) + eps
    else:
        std = np.sqrt(var + eps)
    return _col(gamma) * (x - np.reshape(mean, shape)) / np.reshape(std, shape) + _col(beta)


def _bn_forward(x, gamma, beta, bn_param, variant=None):
    """(out, running_mean, running_var) after one call of batch norm in bn_param's mode, for the variants:
    None (right), "axis0", "unbiased", "no_eps", "eps_outside", "eps_fixed" (1e-5 whatever bn_param says),
    "test_uses_batch", "no_update", "update_in_test", "var_init_zero" (running_var starts at zeros),
    "momentum_swapped", "momentum_fixed" (0.9 whatever bn_param says)."""
    c = x.shape[1]
    mode = bn_param.get("mode", "train")
    eps = EPS if variant == "eps_fixed" else bn_param.get("eps", EPS)
    momentum = 0.9 if variant == "momentum_fixed" else bn_param.get("momentum", 0.9)
    stats_shape = x.shape[1:] if variant == "axis0" else (c,)    # over N only: one statistic per (c, h, w)
    start_var = np.zeros if variant == "var_init_zero" else np.ones
    rm = np.asarray(bn_param.get("running_mean", np.zeros(stats_shape)), dtype=float)
    rv = np.asarray(bn_param.get("running_var", start_var(stats_shape)), dtype=float)
    mean, var = rm, rv
    if mode == "train" or variant in ("test_uses_batch", "update_in_test"):
        batch_mean, batch_var = _bn_train_stats(x, variant if variant in ("axis0", "unbiased") else None)
        if mode == "train" or variant == "test_uses_batch":
            mean, var = batch_mean, batch_var
        if (mode == "train" or variant == "update_in_test") and variant != "no_update":
            keep = 1 - momentum if variant == "momentum_swapped" else momentum
            rm, rv = keep * rm + (1 - keep) * batch_mean, keep * rv + (1 - keep) * batch_var
    norm_variant = variant if variant in ("no_eps", "eps_outside") else None
    return _normalise(x, mean, var, gamma, beta, eps, norm_variant), rm, rv


FORWARD_VARIANTS = ("axis0", "unbiased", "no_eps", "eps_outside", "eps_fixed", "test_uses_batch")


def _bn_backward(x, gamma, beta, bn_param, dout, variant=None, forward=None):
    """(dx, dgamma, dbeta) by backpropagating through batch norm's graph one step at a time.

    Variants: "stats_constant" (train mode, mean and variance treated as constants), "no_var_path" (the path
    through the variance forgotten), "no_gamma" (dx without the factor gamma), "sum_axis0" (dgamma, dbeta summed
    over N only), "dbeta_mean" (dbeta a mean, not a sum), "dgamma_x" (dgamma from x, not x_hat). ``forward`` is
    the variant of the forward pass whose cache the backward pass gets (``FORWARD_VARIANTS`` but "axis0"): the
    same steps with that forward's statistics, as a right backward pass computes them from a wrong cache."""
    m = x.shape[0] * x.shape[2] * x.shape[3]
    mode = bn_param.get("mode", "train")
    eps = EPS if forward == "eps_fixed" else bn_param.get("eps", EPS)
    if mode == "train" or forward == "test_uses_batch":
        mean, var = _bn_train_stats(x, "unbiased" if forward == "unbiased" else None)
    else:
        mean, var = np.asarray(bn_param["running_mean"]), np.asarray(bn_param["running_var"])
    centred = x - _col(mean)
    std = {"no_eps": np.sqrt(var), "eps_outside": np.sqrt(var) + eps}.get(forward, np.sqrt(var + eps))
    inv = 1.0 / std
    x_hat = centred * _col(inv)
    if variant == "sum_axis0":
        dgamma, dbeta = (dout * x_hat).sum(axis=0), dout.sum(axis=0)
    else:
        dgamma, dbeta = _channel_mean(dout * x_hat) * m, _channel_mean(dout) * m
    if variant == "dbeta_mean":
        dbeta = dbeta / m
    if variant == "dgamma_x":
        dgamma = _channel_mean(dout * x) * m
    dx_hat = dout * (1.0 if variant == "no_gamma" else _col(gamma))
    dcentred = dx_hat * _col(inv)
    if mode == "test" or variant == "stats_constant":
        return dcentred, dgamma, dbeta
    if variant != "no_var_path":
        dinv = _channel_mean(dx_hat * centred) * m
        dvar = dinv * (-1.0 / std ** 2) * (0.5 / std)
        dcentred = dcentred + _col(dvar) * 2.0 * centred / m
    dmean = -_channel_mean(dcentred) * m
    return dcentred + _col(dmean) / m, dgamma, dbeta


# -- references: convolution and the block ---------------------------------------------------------------------------


def _conv(x, w, stride, pad):
    """Cross-correlation without bias as a sum over the kernel offsets: x (N, C, H, W), w (F, C, k, k)."""
    k = w.shape[2]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho = (x.shape[2] + 2 * pad - k) // stride + 1
    wo = (x.shape[3] + 2 * pad - k) // stride + 1
    out = np.zeros((x.shape[0], w.shape[0], ho, wo))
    for p in range(k):
        for q in range(k):
            window = xp[:, :, p:p + stride * (ho - 1) + 1:stride, q:q + stride * (wo - 1) + 1:stride]
            out += np.einsum("nchw,fc->nfhw", window, w[:, :, p, q])
    return out


def _conv_back(dout, x, w, stride, pad):
    """(dx, dw) of _conv."""
    k = w.shape[2]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    ho, wo = dout.shape[2:]
    for p in range(k):
        for q in range(k):
            rows = slice(p, p + stride * (ho - 1) + 1, stride)
            cols = slice(q, q + stride * (wo - 1) + 1, stride)
            dw[:, :, p, q] = np.einsum("nfhw,nchw->fc", dout, xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += np.einsum("nfhw,fc->nchw", dout, w[:, :, p, q])
    return dxp[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]], dw


def _needs_projection(x, params, stride):
    return stride != 1 or params["w1"].shape[0] != x.shape[1]


def _block(x, params, bn_params, stride, residual, variant=None, bn=None):
    """The block's forward pass, every intermediate kept: a dict. Variants: "after_relu" (shortcut added after the
    last ReLU), "zero_pad" (parameter-free shortcut: x subsampled and padded with zero channels), "stride_second"
    (the stride on the second conv), "proj_no_bn" (projection without its BN), "no_projection" (identity
    whatever the shapes: only defined when they match). ``bn``: the variant of the batch norms (``_bn_forward``)."""
    s1, s2 = (1, stride) if variant == "stride_second" else (stride, 1)
    v = {"x": x}
    v["a"] = _conv(x, params["w1"], s1, 1)
    v["b"] = _bn_forward(v["a"], params["gamma1"], params["beta1"], bn_params["bn1"], bn)[0]
    v["c"] = np.maximum(v["b"], 0)
    v["d"] = _conv(v["c"], params["w2"], s2, 1)
    v["f"] = _bn_forward(v["d"], params["gamma2"], params["beta2"], bn_params["bn2"], bn)[0]
    project = residual and _needs_projection(x, params, stride) and variant not in ("zero_pad", "no_projection")
    if project:
        v["p"] = _conv(x, params["ws"], stride, 0)
        v["s"] = v["p"] if variant == "proj_no_bn" else _bn_forward(v["p"], params["gammas"], params["betas"],
                                                                    bn_params["bns"], bn)[0]
    elif residual and variant == "zero_pad":
        sub = x[:, :, ::stride, ::stride]
        v["s"] = np.concatenate([sub, np.zeros((sub.shape[0], v["f"].shape[1] - sub.shape[1]) + sub.shape[2:])], 1)
    elif residual:
        v["s"] = x
    else:
        v["s"] = 0.0
    v["project"] = project
    v["out"] = np.maximum(v["f"], 0) + v["s"] if variant == "after_relu" else np.maximum(v["f"] + v["s"], 0)
    return v


def _block_backward(x, params, bn_params, stride, residual, dout, variant=None, bn=None, bn_back=None, block=None):
    """(dx, grads) of the block. Variants: "no_shortcut_grad" (the shortcut's gradient not added to dx),
    "shortcut_unmasked" (the shortcut gets dout, not dout through the last ReLU). ``bn`` and ``bn_back``: the
    variants of the batch norms' forward and backward passes (``_bn_forward``, ``_bn_backward``); ``block``: the
    variant of the block's forward pass whose cache a right backward pass gets ("stride_second", "after_relu":
    the last ReLU's cache then holds F(x) only)."""
    v = _block(x, params, bn_params, stride, residual, block, bn)
    s1, s2 = (1, stride) if block == "stride_second" else (stride, 1)

    def bn_backward(x_in, name, bn_name, grad):
        return _bn_backward(x_in, params[f"gamma{name}"], params[f"beta{name}"], bn_params[bn_name], grad, bn_back, bn)
    g = dout * ((v["f"] if block == "after_relu" else v["f"] + v["s"]) > 0)
    grads = {}
    dd, grads["gamma2"], grads["beta2"] = bn_backward(v["d"], "2", "bn2", g)
    dc, grads["w2"] = _conv_back(dd, v["c"], params["w2"], s2, 1)
    db = dc * (v["b"] > 0)
    da, grads["gamma1"], grads["beta1"] = bn_backward(v["a"], "1", "bn1", db)
    dx, grads["w1"] = _conv_back(da, x, params["w1"], s1, 1)
    g_short = dout if variant == "shortcut_unmasked" else g
    if v["project"]:
        dp, grads["gammas"], grads["betas"] = bn_backward(v["p"], "s", "bns", g_short)
        dxs, grads["ws"] = _conv_back(dp, x, params["ws"], stride, 0)
        if variant != "no_shortcut_grad":
            dx = dx + dxs
    elif residual and variant != "no_shortcut_grad":
        dx = dx + g_short
    return dx, grads


def _stack_norms(x, blocks, dout, residual, up=None):
    """The norms of the gradients at each block's input and of dout, for the blocks and batch norms that the
    ``_Upstream`` ``up`` found (right ones if None)."""
    found = dict(bn=up.forward, bn_back=up.backward, block=up.block, variant=up.block_back) if up else {}
    bn = {"bn1": {"mode": "train"}, "bn2": {"mode": "train"}}
    inputs = []
    for params in blocks:
        inputs.append(x)
        x = _block(x, params, bn, 1, residual, found.get("block"), found.get("bn"))["out"]
    norms = [float(np.sqrt((dout ** 2).sum()))]
    grad = dout
    for params, block_input in zip(reversed(blocks), reversed(inputs)):
        grad = _block_backward(block_input, params, bn, 1, residual, grad, **found)[0]
        norms.append(float(np.sqrt((grad ** 2).sum())))
    return norms[::-1]


# -- random inputs ---------------------------------------------------------------------------------------------------


def _batch(rng, g, channels=None, scales=True):
    """A (N, C, H, W) batch, N >= 2, non-square, each channel with its own offset and scale (1e-3 to 30)."""
    n, c = rng.randint(2, 4), channels or rng.randint(2, 4)
    h = rng.randint(3, 6)
    w = h + rng.choice([-1, 1, 2])
    scale = 10.0 ** g.uniform(-3, 1.5, c) if scales else np.ones(c)
    return g.standard_normal((n, c, h, w)) * _col(scale) + _col(g.uniform(-3, 3, c))


def _affine(g, c):
    return g.uniform(0.5, 2.0, c) * g.choice([-1.0, 1.0], c), g.standard_normal(c)


def _running(g, c):
    return {"running_mean": g.standard_normal(c), "running_var": g.uniform(0.2, 3.0, c)}


# -- exercise 1a: relu -----------------------------------------------------------------------------------------------

RELU_AT_ZERO = "the gradient at x = 0 is 0: use the mask x > 0, not x >= 0"
RELU_MASK = "relu_backward returns dout times the mask (x > 0), not the mask itself"


def _relu_case(group, x, dout):
    out = np.where(x > 0, x, 0.0)
    dx = np.where(x > 0, dout, 0.0)
    out_judge = expect_array(out, hint="relu_forward: out = max(x, 0)")
    dx_judge = expect_array(dx, [(np.where(x >= 0, dout, 0.0), RELU_AT_ZERO), ((x > 0).astype(float), RELU_MASK)],
                            "relu_backward: dx = dout where x > 0, 0 elsewhere")
    return parts(group, "_relu_run", (x, dout), {}, [("relu_forward", out_judge), ("relu_backward", dx_judge)],
                 "relu_forward returns the pair (out, cache)")


def _relu_cases(rng):
    g = arrays(rng)
    group = "8 random arrays (2-D and 4-D, with exact zeros)"
    cases = []
    for k in range(8):
        shape = (rng.randint(2, 4), rng.randint(2, 5)) if k % 2 else (2, rng.randint(1, 3), 3, rng.randint(2, 5))
        x = g.integers(-3, 4, shape).astype(float) * g.uniform(0.5, 2, shape)
        cases += _relu_case(group, x, g.standard_normal(shape))
    return cases


# -- what the student's own batch norm does (a mistake is charged once) ----------------------------------------------


class _Upstream:
    """What the student's own batch norm does, learnt from probe cases judged before the cases that depend on it
    (``judge_cell`` judges a cell's cases in order). The backward and the block cells use the student's batch
    norm; a batch norm mistake is charged in its own cells only, so these cells accept results consistent with
    the batch norm the probes found: one of the known mistakes (``forward``: a ``_bn_forward`` variant,
    ``backward``: a ``_bn_backward`` variant) or None (right, or a mistake we do not know: then the right
    results are expected). A probe always passes and sits in the group of the first cases that depend on it,
    so it gives no points of its own."""

    def __init__(self):
        self.forward = self.backward = self.block = self.block_back = None

    def forward_probes(self, group, g):
        """Two calls of the student's batch norm (train and test mode) on channels of very different scales."""
        x = g.standard_normal((3, 2, 3, 4)) * _col([1e-3, 3.0]) + _col([1.0, -2.0])
        gamma, beta = np.array([1.5, -0.7]), np.array([0.2, 0.4])
        running = {"running_mean": np.array([0.5, -1.0]), "running_var": np.array([2.0, 1e-4])}
        return [self._forward_probe(group, x, gamma, beta, {"mode": "train", "eps": 1e-3}, first=True),
                self._forward_probe(group, x, gamma, beta, {"mode": "test", "eps": 1e-3, **running})]

    def _forward_probe(self, group, x, gamma, beta, bn_param, first=False):
        exact = _bn_forward(x, gamma, beta, dict(bn_param))[0]
        outs = {v: _bn_forward(x, gamma, beta, dict(bn_param), v)[0] for v in FORWARD_VARIANTS}

        def learn(got):
            if first:  # a new judgement of the cell: forget what an earlier one learnt
                self.__init__()
            if (isinstance(got, tuple) and got and isinstance(got[0], np.ndarray) and self.forward is None
                    and not close(got[0], exact)):
                self.forward = next((v for v, out in outs.items() if close(got[0], out)), None)
        return Case(group, "_bn_forward_run", (x, gamma, beta, dict(bn_param)), judge=lambda got: learn(got))

    def backward_probe(self, group, g):
        """One call of the student's batch norm backward (train mode); judged after the forward probes."""
        x = g.standard_normal((2, 2, 3, 3)) * _col([0.5, 2.0]) + _col([1.0, -1.0])
        gamma, beta, dout = np.array([1.5, -0.7]), np.array([0.2, 0.4]), g.standard_normal(x.shape)

        def learn(got):
            right = _bn_backward(x, gamma, beta, {"mode": "train"}, dout, None, self.forward)[0]
            if isinstance(got, tuple) and got and isinstance(got[0], np.ndarray) and not close(got[0], right):
                for variant in ("stats_constant", "no_var_path", "no_gamma"):
                    if close(got[0], _bn_backward(x, gamma, beta, {"mode": "train"}, dout, variant, self.forward)[0]):
                        self.backward = variant
            if isinstance(got, tuple) and len(got) == 3 and close(got[1], _bn_backward(
                    x, gamma, beta, {"mode": "train"}, dout, "sum_axis0", self.forward)[1]):
                self.backward = "sum_axis0"
        return Case(group, "_bn_backward_run", (x, gamma, beta, {"mode": "train"}, dout),
                    judge=lambda got: learn(got))


    def block_probes(self, group, g):
        """A call of the student's block forward (a projection block: stride 2, C -> 2C) and one of its backward
        (an identity block); judged after the batch norm probes."""
        x = g.standard_normal((2, 2, 5, 4))
        params, bn_params = _init_block(g, 2, 4, 2), _bn_params(g, 4, "train", True)
        x1, params1, bn1 = g.standard_normal((2, 2, 4, 5)), _init_block(g, 2, 2, 1), _bn_params(g, 2, "train", False)
        dout = g.standard_normal(x1.shape)

        def learn_forward(got):
            outs = {v: _block(x, params, bn_params, 2, True, v, self.forward)["out"]
                    for v in (None, "stride_second", "after_relu")}
            self.block = next((v for v, out in outs.items() if close(got, out)), None)

        def learn_backward(got):
            if isinstance(got, tuple) and got:
                dxs = {v: _block_backward(x1, params1, bn1, 1, True, dout, v, self.forward, self.backward,
                                          self.block)[0] for v in (None, "no_shortcut_grad", "shortcut_unmasked")}
                self.block_back = next((v for v, dx in dxs.items() if close(got[0], dx)), None)
        return [Case(group, "_block_forward_run", (x, params, bn_params, 2, True),
                     judge=lambda got: learn_forward(got)),
                Case(group, "_block_backward_run", (x1, params1, bn1, 1, True, dout),
                     judge=lambda got: learn_backward(got))]


def _consistent(exact_of, upstream, mistakes_of, hint, shape_hints=()):
    """A judge for an array that depends on the student's batch norm: ``exact_of(forward, backward)`` is the
    result with the batch norm ``upstream`` found, ``mistakes_of(forward, backward)`` its (array, message)
    pairs."""
    def judge(got):
        found = (upstream.forward, upstream.backward)
        return expect_array(exact_of(*found), mistakes_of(*found), hint, shape_hints)(got)
    return judge


# -- exercise 1b: batchnorm_forward ----------------------------------------------------------------------------------

BN_AXES = ("normalise each channel over (N, H, W): the mean and variance are per channel, "
           "x.mean(axis=(0, 2, 3)), not over axis 0 only")
BN_UNBIASED = "use the biased variance (divide by m = N*H*W, np.var's default ddof=0), not the unbiased one"
BN_NO_EPS = "add eps inside the square root: sqrt(var + eps)"
BN_EPS_OUTSIDE = "eps goes inside the square root: sqrt(var + eps), not sqrt(var) + eps"
BN_EPS_FIXED = "read eps from bn_param (default 1e-5): these cases set their own eps"
BN_TEST_BATCH = ("batch statistics at test time: in test mode normalise with bn_param's running_mean and "
                 "running_var")
BN_NO_UPDATE = ("the running averages were not updated: in train mode set bn_param[\"running_mean\"] and "
                "bn_param[\"running_var\"] to momentum * running + (1 - momentum) * batch statistic")
BN_UPDATE_IN_TEST = "test mode leaves the running averages as they are: update them in train mode only"
BN_VAR_INIT = ("when bn_param has no running averages yet they start at running_mean = zeros(C) and "
               "running_var = ONES(C)")
BN_MOMENTUM_SWAPPED = "the running average keeps momentum * running and adds (1 - momentum) * the batch statistic"
BN_MOMENTUM_FIXED = "read the momentum from bn_param (default 0.9)"
BN_OUT = "out is wrong: gamma * (x - mean) / sqrt(var + eps) + beta, per channel"
BN_RUNNING = "the running averages are wrong: running = momentum * running + (1 - momentum) * batch statistic"

_OUT_VARIANTS = [("axis0", BN_AXES), ("unbiased", BN_UNBIASED), ("no_eps", BN_NO_EPS),
                 ("eps_outside", BN_EPS_OUTSIDE), ("eps_fixed", BN_EPS_FIXED), ("test_uses_batch", BN_TEST_BATCH)]
_RUNNING_VARIANTS = [("no_update", BN_NO_UPDATE), ("momentum_swapped", BN_MOMENTUM_SWAPPED),
                     ("unbiased", BN_UNBIASED), ("momentum_fixed", BN_MOMENTUM_FIXED),
                     ("update_in_test", BN_UPDATE_IN_TEST), ("var_init_zero", BN_VAR_INIT)]


def _variants(compute, variants, exact):
    """(array, message) pairs of the variants, those that raise or differ in shape from ``exact`` dropped."""
    pairs = []
    for variant, message in variants:
        try:
            wrong = compute(variant)
        except (ValueError, IndexError):
            continue
        if np.shape(wrong) == np.shape(exact):
            pairs.append((np.asarray(wrong, dtype=float), message))
    return pairs


def _bn_forward_case(group, x, gamma, beta, bn_param):
    def run(variant):
        return _bn_forward(x, gamma, beta, dict(bn_param), variant)
    out, rm, rv = run(None)
    c = x.shape[1]
    shapes = [((c,) + x.shape[2:], BN_AXES)]
    judges = [("out", expect_array(out, _variants(lambda v: run(v)[0], _OUT_VARIANTS, out), BN_OUT)),
              ("running_mean", expect_array(rm, _variants(lambda v: run(v)[1], _RUNNING_VARIANTS, rm), BN_RUNNING,
                                            shapes)),
              ("running_var", expect_array(rv, _variants(lambda v: run(v)[2], _RUNNING_VARIANTS, rv), BN_RUNNING,
                                           shapes))]
    return parts(group, "_bn_forward_run", (x, gamma, beta, dict(bn_param)), {}, judges,
                 "batchnorm_forward must return (out, cache)", if_none=BN_NO_UPDATE)


def _bn_sequence_case(group, xs, gamma, beta, x_test, momentum):
    def run(variant):
        p = {"mode": "train", "momentum": momentum}
        for x in xs:
            _, p["running_mean"], p["running_var"] = _bn_forward(x, gamma, beta, p, variant)
        p["mode"] = "test"
        return p["running_mean"], p["running_var"], _bn_forward(x_test, gamma, beta, p, variant)[0]
    rm, rv, out = run(None)
    variants = _OUT_VARIANTS + _RUNNING_VARIANTS
    judges = [("running_mean", expect_array(rm, _variants(lambda v: run(v)[0], _RUNNING_VARIANTS, rm), BN_RUNNING)),
              ("running_var", expect_array(rv, _variants(lambda v: run(v)[1], _RUNNING_VARIANTS, rv), BN_RUNNING)),
              ("test-mode out", expect_array(out, _variants(lambda v: run(v)[2], variants, out),
                                             "test-mode output after training is wrong: normalise with the running "
                                             "statistics"))]
    return parts(group, "_bn_sequence_run", (list(xs), gamma, beta, x_test, momentum), {}, judges,
                 "batchnorm_forward must return (out, cache)", if_none=BN_NO_UPDATE)


def _bn_forward_cases(rng):
    g = arrays(rng)
    train = ("train mode: 6 random batches (N > 1, channels of very different scales, non-square maps; default "
             "and given eps, momentum and running averages)")
    test = "test mode: 4 random batches normalised with given running statistics (and eps), which stay as they are"
    sequence = "3 to 5 train steps (momentum 0.9 and others), then test mode on a new batch"
    bad = "bad arguments are rejected (x not 4-D, gamma of the wrong shape, an unknown mode)"
    cases = []
    for k in range(6):
        x = _batch(rng, g)
        c = x.shape[1]
        bn_param = {"mode": "train"} if k % 2 == 0 else {"mode": "train", "momentum": 0.8, **_running(g, c)}
        if k in (1, 2):
            bn_param["eps"] = 10.0 ** rng.choice([-3, -2, -1])
        cases += _bn_forward_case(train, x, *_affine(g, c), bn_param)
    for k in range(4):
        x = _batch(rng, g)
        c = x.shape[1]
        eps = {"eps": 10.0 ** rng.choice([-3, -2])} if k % 2 else {}
        cases += _bn_forward_case(test, x, *_affine(g, c), {"mode": "test", **eps, **_running(g, c)})
    for momentum in (0.9, 0.7, 0.95):
        c = rng.randint(2, 4)
        xs = [_batch(rng, g, c) for _ in range(rng.randint(3, 5))]
        cases += _bn_sequence_case(sequence, xs, *_affine(g, c), _batch(rng, g, c), momentum)
    x = _batch(rng, g, 3)
    gamma, beta = _affine(g, 3)
    hint = "raise ValueError naming the rule"
    cases += [Case(bad, "batchnorm_forward", (x[:, :, 0, 0], gamma, beta, {"mode": "train"}),
                   judge=expect_raises("ValueError", hint=f"x of shape (N, C) is not (N, C, H, W): {hint}")),
              Case(bad, "batchnorm_forward", (x, gamma[:2], beta[:2], {"mode": "train"}),
                   judge=expect_raises("ValueError", hint=f"gamma and beta must have shape (C,): {hint}")),
              Case(bad, "batchnorm_forward", (x, gamma, beta, {"mode": "eval"}),
                   judge=expect_raises("ValueError", hint=f'the mode must be "train" or "test": {hint}'))]
    return cases


# -- exercise 1c: batchnorm_backward ---------------------------------------------------------------------------------

BN_DX_CONSTANT = ("in train mode the batch mean and variance depend on x: dx needs the terms through the mean and "
                  "the variance, (gamma / std) * (dout - mean(dout) - x_hat * mean(dout * x_hat))")
BN_DX_NO_VAR = "dx is missing the path through the variance: the term - x_hat * mean(dout * x_hat)"
BN_DX_NO_GAMMA = "dx is missing the factor gamma: out = gamma * x_hat + beta"
BN_DGAMMA_AXES = "dgamma has one value per channel: sum dout * x_hat over (N, H, W), axis=(0, 2, 3)"
BN_DBETA_AXES = "dbeta has one value per channel: sum dout over (N, H, W), axis=(0, 2, 3)"
BN_DBETA_MEAN = "dbeta is the SUM of dout over (N, H, W), not its mean: beta is added to every one of the m values"
BN_DGAMMA_X = "dgamma sums dout * x_hat (the normalised input), not dout * x"


def _bn_backward_case(group, x, gamma, beta, bn_param, dout, upstream):
    def run(variant, forward):
        return _bn_backward(x, gamma, beta, dict(bn_param), dout, variant, forward)

    def exact_of(index):
        return lambda forward, backward: run(None, forward)[index]

    def mistakes_of(index, variants):
        return lambda forward, backward: _variants(lambda v: run(v, forward)[index], variants,
                                                   run(None, forward)[index])
    dx_variants = [("stats_constant", BN_DX_CONSTANT), ("no_var_path", BN_DX_NO_VAR), ("no_gamma", BN_DX_NO_GAMMA)]
    judges = [("dx", _consistent(exact_of(0), upstream, mistakes_of(0, dx_variants),
                                 "dx is wrong: compare with the numerical gradient on a small batch")),
              ("dgamma", _consistent(exact_of(1), upstream, mistakes_of(1, [("dgamma_x", BN_DGAMMA_X)]),
                                     "dgamma is wrong: sum dout * x_hat over (N, H, W)",
                                     [(x.shape[1:], BN_DGAMMA_AXES)])),
              ("dbeta", _consistent(exact_of(2), upstream, mistakes_of(2, [("dbeta_mean", BN_DBETA_MEAN)]),
                                    "dbeta is wrong: sum dout over (N, H, W)", [(x.shape[1:], BN_DBETA_AXES)]))]
    return parts(group, "_bn_backward_run", (x, gamma, beta, dict(bn_param), dout), {}, judges,
                 "batchnorm_backward returns (dx, dgamma, dbeta)")


def _bn_backward_cases(rng):
    g = arrays(rng)
    train = "train mode: 8 random batches (N > 1, channels of very different scales, non-square maps, given eps)"
    test = "test mode: 4 random batches with given running statistics (and eps)"
    upstream = _Upstream()
    cases = upstream.forward_probes(f"{train} [dx]", g)
    for k in range(8):
        x = _batch(rng, g)
        bn_param = {"mode": "train", **({"eps": 10.0 ** rng.choice([-3, -2])} if k % 2 else {})}
        cases += _bn_backward_case(train, x, *_affine(g, x.shape[1]), bn_param, g.standard_normal(x.shape),
                                   upstream)
    for k in range(4):
        x = _batch(rng, g)
        c = x.shape[1]
        bn_param = {"mode": "test", **_running(g, c), **({"eps": 10.0 ** rng.choice([-3, -2])} if k % 2 else {})}
        cases += _bn_backward_case(test, x, *_affine(g, c), bn_param, g.standard_normal(x.shape), upstream)
    return cases


# -- exercise 2a: residual_block_forward -----------------------------------------------------------------------------

AFTER_RELU = ("the shortcut is added after the final ReLU: it joins BEFORE it, out = ReLU(F(x) + shortcut(x)), "
              "not ReLU(F(x)) + x")
NO_PROJECTION = ("projection shortcut missing: when the block changes the shape (stride 2, or more filters even at "
                 "stride 1) the shortcut is a 1x1 conv with the block's stride followed by BN (params 'ws', "
                 "'gammas', 'betas')")
ZERO_PAD = ("the shortcut of a block that changes the shape is the projection (1x1 conv with the stride, then BN), "
            "not the subsampled input padded with zero channels")
STRIDE_SECOND = "the block's stride belongs to the FIRST 3x3 conv (and the projection), not the second"
PROJ_NO_BN = "the projection is a 1x1 conv followed by batch norm (gammas, betas): the BN is missing"
PLAIN_HAS_SHORTCUT = "residual=False is the plain twin: no shortcut at all, out = ReLU(F(x))"
BLOCK_OUT = "out is wrong: ReLU(BN2(conv2(ReLU(BN1(conv1(x))))) + shortcut(x)), 3x3 convs with pad 1, no bias"
MISSING_WEIGHTS = ("a block that changes the shape (stride != 1 or F != C) with residual=True needs the projection's "
                   "params 'ws', 'gammas', 'betas': raise ValueError when they are missing")


def _init_block(g, c, f, stride):
    params = {"w1": g.standard_normal((f, c, 3, 3)) * np.sqrt(2.0 / (9 * c)),
              "w2": g.standard_normal((f, f, 3, 3)) * np.sqrt(2.0 / (9 * f))}
    for name in ("1", "2", "s"):
        params[f"gamma{name}"], params[f"beta{name}"] = _affine(g, f)
    if stride != 1 or f != c:
        params["ws"] = g.standard_normal((f, c, 1, 1)) * np.sqrt(2.0 / c)
    else:
        del params["gammas"], params["betas"]
    return params


def _bn_params(g, f, mode, project):
    names = ("bn1", "bn2", "bns") if project else ("bn1", "bn2")
    return {n: {"mode": "train"} if mode == "train" else {"mode": "test", **_running(g, f)} for n in names}


BLOCK_KINDS = {"identity": (1, 1), "projection": (2, 2), "widening": (2, 1)}  # kind: (F / C, stride)


def _block_setting(rng, g, kind, mode="train", residual=True):
    """(x, params, bn_params, stride, residual) of a random block: "identity" (C -> C, stride 1), "projection"
    (C -> 2C, stride 2) or "widening" (C -> 2C at stride 1: the shape changes, a projection too)."""
    c = rng.randint(2, 4)
    widen, stride = BLOCK_KINDS[kind]
    h = rng.randint(4, 7)
    x = g.standard_normal((rng.randint(2, 3), c, h, h + rng.choice([-1, 1])))
    params = _init_block(g, c, widen * c, stride)
    return x, params, _bn_params(g, widen * c, mode, "ws" in params), stride, residual


def _block_forward_case(group, x, params, bn_params, stride, residual, upstream):
    variants = ["after_relu", "stride_second"] + (["zero_pad", "proj_no_bn"] if "ws" in params else [])
    messages = {"after_relu": AFTER_RELU, "stride_second": STRIDE_SECOND, "zero_pad": ZERO_PAD,
                "proj_no_bn": PROJ_NO_BN}

    def exact_of(bn, _):
        return _block(x, params, bn_params, stride, residual, bn=bn)["out"]

    def mistakes_of(bn, _):
        wrong = []
        for v in variants:
            try:
                wrong.append((_block(x, params, bn_params, stride, residual, v, bn)["out"], messages[v]))
            except ValueError:  # stride on the second conv of a widening block: shapes that do not add up
                continue
        if not residual:
            wrong.append((_block(x, params, bn_params, stride, True, bn=bn)["out"], PLAIN_HAS_SHORTCUT))
        return wrong
    array_judge = _consistent(exact_of, upstream, mistakes_of, BLOCK_OUT)

    def judge(got):
        if shape_error(got) and "ws" in params and residual:
            return f"{problem(got)} ({NO_PROJECTION})"
        return array_judge(got)
    return Case(group, "_block_forward_run", (x, params, bn_params, stride, residual), judge=judge)


def _missing_weights_case(group, rng, g, kind):
    x, params, bn_params, stride, _ = _block_setting(rng, g, kind)
    bare = {k: v for k, v in params.items() if k not in ("ws", "gammas", "betas")}
    return Case(group, "_block_forward_run", (x, bare, bn_params, stride, True),
                judge=expect_raises("ValueError", hint=MISSING_WEIGHTS))


def _block_forward_cases(rng):
    g = arrays(rng)
    identity = "identity blocks (stride 1, C -> C): 4 random batches, train mode"
    projection = "projection blocks (stride 2, C -> 2C): 4 random batches, train mode"
    widening = "blocks that widen at stride 1 (C -> 2C: a projection too): 3 random batches, train mode"
    other = "test mode (running statistics) and the plain twin (residual=False): 5 random cases"
    missing = "a block that changes the shape without the projection's weights raises ValueError (stride 2; stride 1)"
    upstream = _Upstream()
    cases = upstream.forward_probes(identity, g)
    cases += [_block_forward_case(identity, *_block_setting(rng, g, "identity"), upstream) for _ in range(4)]
    cases += [_block_forward_case(projection, *_block_setting(rng, g, "projection"), upstream) for _ in range(4)]
    cases += [_block_forward_case(widening, *_block_setting(rng, g, "widening"), upstream) for _ in range(3)]
    cases += [_block_forward_case(other, *_block_setting(rng, g, kind, mode, residual), upstream)
              for kind, mode, residual in (("identity", "test", True), ("projection", "test", True),
                                           ("widening", "test", True), ("identity", "train", False),
                                           ("projection", "train", False))]
    cases += [_missing_weights_case(missing, rng, g, kind) for kind in ("projection", "widening")]
    return cases


# -- exercise 2b: residual_block_backward ----------------------------------------------------------------------------

NO_SHORTCUT_GRAD = ("gradient of the shortcut forgotten: x feeds both branches, so dx = (gradient through the convs) "
                    "+ (gradient through the shortcut)")
SHORTCUT_UNMASKED = ("the shortcut's gradient must pass the last ReLU's backward first: both branches get "
                     "relu_backward(dout), not dout")
PLAIN_GRAD = "residual=False has no shortcut: nothing is added to dx"
BLOCK_DX = "dx is wrong: walk the forward pass backwards, and add the shortcut's gradient to the one through the convs"


def _grads_judge(x, params, bn_params, stride, residual, dout, upstream):
    def judge(got):
        if not isinstance(got, dict):
            return "grads is a dict: one gradient per parameter of the block"
        grads = _block_backward(x, params, bn_params, stride, residual, dout, bn=upstream.forward,
                                bn_back=upstream.backward, block=upstream.block)[1]
        for name, value in grads.items():
            if name not in got:
                return f"grads has no {name!r}: one gradient per parameter of the block"
            if not close(got[name], value):
                return f"grads[{name!r}] is wrong" + (": the projection branch is batchnorm_backward, then "
                                                      "conv_backward of the 1x1 conv" if name.endswith("s") else "")
        return None
    return judge


def _block_backward_case(group, x, params, bn_params, stride, residual, dout, upstream):
    def exact_of(bn, bn_back):
        return _block_backward(x, params, bn_params, stride, residual, dout, bn=bn, bn_back=bn_back,
                               block=upstream.block)[0]

    def mistakes_of(bn, bn_back):
        if residual:
            return [(_block_backward(x, params, bn_params, stride, True, dout, v, bn, bn_back, upstream.block)[0], m)
                    for v, m in (("no_shortcut_grad", NO_SHORTCUT_GRAD), ("shortcut_unmasked", SHORTCUT_UNMASKED))]
        if dout.shape == x.shape:
            f = _block(x, params, bn_params, stride, False, bn=bn)["f"]
            return [(exact_of(bn, bn_back) + dout * (f > 0), PLAIN_GRAD)]
        return []
    return parts(group, "_block_backward_run", (x, params, bn_params, stride, residual, dout), {},
                 [("dx", _consistent(exact_of, upstream, mistakes_of, BLOCK_DX)),
                  ("grads", _grads_judge(x, params, bn_params, stride, residual, dout, upstream))],
                 "residual_block_backward returns (dx, grads) with grads a dict")


def _block_backward_cases(rng):
    g = arrays(rng)
    identity = "identity blocks: dx and every parameter's gradient, 4 random cases"
    projection = "projection blocks (stride 2, C -> 2C): dx and every gradient, 3 random cases"
    widening = "blocks that widen at stride 1 (C -> 2C): dx and every gradient, 2 random cases"
    plain = "the plain twin (residual=False): 2 random cases"
    upstream = _Upstream()

    def case(group, kind, residual=True):
        x, params, bn_params, stride, residual = _block_setting(rng, g, kind, residual=residual)
        out = _block(x, params, bn_params, stride, residual)["out"]
        return _block_backward_case(group, x, params, bn_params, stride, residual, g.standard_normal(out.shape),
                                    upstream)
    cases = (upstream.forward_probes(f"{identity} [dx]", g) + [upstream.backward_probe(f"{identity} [dx]", g)]
             + upstream.block_probes(f"{identity} [dx]", g)[:1])
    for group, kind, count in ((identity, "identity", 4), (projection, "projection", 3), (widening, "widening", 2)):
        for _ in range(count):
            cases += case(group, kind)
    return cases + case(plain, "identity", False) + case(plain, "projection", False)


# -- exercise 3: stack_gradient_norms --------------------------------------------------------------------------------

NORMS_ORDER = "the list runs from the input up: entry 0 is the gradient at the stack's input, entry L the norm of dout"
NORMS_LENGTH = "return L + 1 norms: one per block's input, and the norm of dout last"


def _norms_case(group, x, blocks, dout, residual, upstream):
    def judge(got):
        exact = _stack_norms(x, blocks, dout, residual, upstream)
        trouble = problem(got)
        if trouble:
            return trouble
        if not isinstance(got, (list, tuple)) or not all(isinstance(v, (int, float, np.floating)) for v in got):
            return "return a list of floats"
        if len(got) != len(exact):
            return NORMS_LENGTH
        values = np.array([float(v) for v in got])
        if np.allclose(values, exact, rtol=1e-6):
            return None
        if np.allclose(values, exact[::-1], rtol=1e-6):
            return NORMS_ORDER
        return "wrong norms: run the blocks forward keeping their caches, then backward in reverse order"
    return Case(group, "stack_gradient_norms", (x, blocks, dout, residual), judge=judge)


def _norms_cases(rng):
    g = arrays(rng)
    group = "4 random stacks of 1 to 4 blocks, residual and plain"
    upstream = _Upstream()
    cases = upstream.forward_probes(group, g) + [upstream.backward_probe(group, g)] + upstream.block_probes(group, g)
    for k in range(4):
        c = rng.randint(2, 3)
        x = np.maximum(g.standard_normal((2, c, 4, 5)), 0) if k % 2 else g.standard_normal((2, c, 5, 4))
        blocks = [_init_block(g, c, c, 1) for _ in range(rng.randint(1, 4))]
        cases.append(_norms_case(group, x, blocks, g.standard_normal(x.shape), k < 2, upstream))
    return cases


# -- counting layers: references by counting -------------------------------------------------------------------------


NOT_INTS = "return whole numbers as ints (// instead of /, int(...) around np.prod): counts are integers"


def _integral(value):
    """``value`` with every float that holds a whole number made an int (tuples and lists kept)."""
    if isinstance(value, (tuple, list)):
        return type(value)(_integral(v) for v in value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    return value


def _expect_counts(exact, mistakes, hint):
    """``expect`` for (output_shape, params, macs): mistakes equal to the right answer are dropped, and counts
    right but returned as floats get their own message."""
    judge_exact = expect(exact, {k: v for k, v in mistakes.items() if k != exact}, hint)

    def judge(got):
        message = judge_exact(got)
        if message and not problem(got) and expect(exact)(_integral(got)) is None:
            return NOT_INTS
        return message
    return judge


def _positions(n, k, s, p):
    return len(range(0, n + 2 * p - k + 1, s))


def _conv_ref(in_shape, f, k, s=1, p=0, bias=True, bn=False):
    c, h, w = in_shape
    out = (f, _positions(h, k, s, p), _positions(w, k, s, p))
    weights = np.zeros((f, c, k, k)).size
    return out, weights + bias * f + bn * 2 * f, int(np.prod(out)) * c * k * k


BIAS_WITH_BN = ("bias counted for a layer followed by BN when the table says otherwise: with bias=False the conv "
                "has no biases, only the BN's 2 per channel")
BN_FORGOTTEN = "bn=True: the batch norm that follows brings 2 parameters per channel (gamma and beta)"
COUNT_CEIL = "round down: H' = (H - k + 2P) // S + 1, the last rows/columns that do not fit are dropped"
MACS_INPUT = "MACs: one dot product of length k*k*C per OUTPUT value, H' * W' * F * k*k*C (not the input's H * W)"
MACS_BIAS = "MACs count the products with the weights only, not the bias additions"
NO_PAD = "the padding enlarges the input: H' = (H - k + 2P) // S + 1"


def _conv_count_case(group, in_shape, f, k, s=1, p=0, bias=True, bn=False):
    exact = _conv_ref(in_shape, f, k, s, p, bias, bn)
    c, h, w = in_shape
    out, params, macs = exact
    ceil = (f, -(-(h + 2 * p - k) // s) + 1, -(-(w + 2 * p - k) // s) + 1)
    weights = f * c * k * k
    mistakes = {(out, weights + f + 2 * f * bn, macs): BIAS_WITH_BN if not bias else None,
                (out, weights + f * bias, macs): BN_FORGOTTEN if bn else None,
                (ceil, params, int(np.prod(ceil)) * c * k * k): COUNT_CEIL,
                (out, params, h * w * f * c * k * k): MACS_INPUT,
                (out, params, macs + int(np.prod(out)) * bias): MACS_BIAS}
    if p:
        no_pad = (f, (h - k) // s + 1, (w - k) // s + 1)
        mistakes[(no_pad, params, int(np.prod(no_pad)) * c * k * k)] = NO_PAD
    mistakes = {key: m for key, m in mistakes.items() if m and key != exact}
    return Case(group, "conv_counts", (tuple(in_shape), f, k),
                {"stride": s, "pad": p, "bias": bias, "bn": bn},
                judge=_expect_counts(exact, mistakes, "wrong counts: output (F, H', W'), params k*k*C*F (+F biases) "
                                              "(+2F for BN), MACs H'*W'*F*k*k*C"))


def _conv_count_cases(rng):
    known = "the notes' layers: AlexNet conv1, VGG-16 conv1_1 and conv5_3, ResNet conv1"
    plain = ("10 random conv layers with biases (non-square inputs, strides 1 to 3, paddings, sizes that do not fit "
             "nicely)")
    with_bn = "8 random conv layers followed by BN (bias=False, bn=True) and other bias/BN combinations"
    bad = "bad arguments are rejected (a filter larger than the padded input, in_shape not (C, H, W))"
    cases = [_conv_count_case(known, (3, 227, 227), 96, 11, 4), _conv_count_case(known, (3, 224, 224), 64, 3, 1, 1),
             _conv_count_case(known, (512, 14, 14), 512, 3, 1, 1),
             _conv_count_case(known, (3, 224, 224), 64, 7, 2, 3, False, True)]

    def random_layer():
        k = rng.choice([1, 3, 5, 7])
        h, w = rng.randint(k, 40), rng.randint(k, 40)
        return (rng.randint(1, 64), h, w), rng.randint(1, 128), k, rng.randint(1, 3), rng.randint(0, k // 2 + 1)
    cases += [_conv_count_case(plain, *random_layer()) for _ in range(10)]
    for bias, bn in [(False, True)] * 5 + [(True, True), (False, False), (False, True)]:
        cases.append(_conv_count_case(with_bn, *random_layer(), bias, bn))
    cases += [Case(bad, "conv_counts", ((3, 4, 4), 8, 7), judge=expect_raises("ValueError", hint="a 7x7 filter "
                                                                              "is larger than the 4x4 input")),
              Case(bad, "conv_counts", ((3, 6, 5), 8, 9), {"pad": 1},
                   judge=expect_raises("ValueError", hint="a 9x9 filter is larger than the padded 6x5 input")),
              Case(bad, "conv_counts", ((3, 32), 8, 3), judge=expect_raises("ValueError", hint="in_shape must be "
                                                                            "(C, H, W)"))]
    return cases


# -- exercise 5b: pool_counts and fc_counts --------------------------------------------------------------------------

POOL_STRIDE_DEFAULT = "stride=None means stride = size (the windows tile the map)"
POOL_GLOBAL = "size=None is global pooling: each whole map becomes one value, output (C, 1, 1)"
FC_NOT_FLAT = "flatten the whole input: D = C*H*W values, each connected to every unit"
FC_NO_BIAS = "bias=True: count the units' biases too"
FC_BIAS_ALWAYS = "bias=False: no biases"


def _pool_case(group, in_shape, size, stride=None, pad=0, mode="max"):
    c, h, w = in_shape
    if size is None:
        exact = ((c, 1, 1), 0, 0)
    else:
        s = size if stride is None else stride
        exact = ((c, _positions(h, size, s, pad), _positions(w, size, s, pad)), 0, 0)
    mistakes = {}
    if size is not None and stride is None:
        mistakes[((c, _positions(h, size, 1, pad), _positions(w, size, 1, pad)), 0, 0)] = POOL_STRIDE_DEFAULT
    kwargs = {"stride": stride, "pad": pad, "mode": mode}
    return Case(group, "pool_counts", (tuple(in_shape), size), kwargs,
                judge=_expect_counts(exact, mistakes,
                             POOL_GLOBAL if size is None else "wrong counts: (C, H', W'), 0 params, 0 MACs"))


def _fc_case(group, in_shape, units, bias=True):
    d = int(np.prod(in_shape))
    exact = ((units,), d * units + units * bias, d * units)
    mistakes = {((units,), d * units + units * (not bias), d * units): FC_NO_BIAS if bias else FC_BIAS_ALWAYS,
                ((units,), in_shape[0] * units + units * bias, in_shape[0] * units): FC_NOT_FLAT}
    return Case(group, "fc_counts", (tuple(in_shape), units), {"bias": bias},
                judge=_expect_counts(exact, mistakes,
                             "wrong counts: ((M,), D*M + M biases, D*M)"))


def _pool_fc_cases(rng):
    known = "the notes' layers: AlexNet pool1, VGG pools and fc6, GoogLeNet's linear, ResNet's pools"
    pools = "8 random pooling layers (max and avg, stride given or not, padding, global)"
    fcs = "6 random fc layers on maps and on vectors, with and without bias"
    cases = [_pool_case(known, (96, 55, 55), 3, 2), _pool_case(known, (64, 224, 224), 2),
             _pool_case(known, (64, 112, 112), 3, 2, 1), _pool_case(known, (512, 7, 7), None, mode="avg"),
             _fc_case(known, (512, 7, 7), 4096), _fc_case(known, (1024, 1, 1), 1000)]
    for k in range(8):
        size = None if k == 7 else rng.randint(2, 4)
        h, w = rng.randint(4, 30), rng.randint(4, 30)
        stride = None if k % 3 == 0 else rng.randint(1, 3)
        cases.append(_pool_case(pools, (rng.randint(1, 64), h, w), size, stride, k % 2 if size else 0,
                                rng.choice(["max", "avg"])))
    for k in range(6):
        shape = (rng.randint(1, 64), rng.randint(1, 8), rng.randint(1, 8)) if k % 2 else (rng.randint(2, 500),)
        cases.append(_fc_case(fcs, shape, rng.randint(1, 100), bias=k != 4))
    return cases


# -- exercise 6a: basic_block_counts and bottleneck_counts -----------------------------------------------------------

BLOCK_BIAS = "bias counted for convs followed by BN: in ResNet's blocks the convs have no bias (bias=False, bn=True)"
MISSING_PROJECTION = ("projection shortcut missing: when the output shape differs from the input's (stride 2, or "
                      "another number of channels, even at stride 1) count the 1x1 conv with BN")
EXTRA_PROJECTION = "the shapes match: the shortcut is the identity, it has no parameters"
BOTTLENECK_STRIDE = "the bottleneck's stride is on its 3x3 conv (torchvision), not on the first 1x1"
EXPANSION_FIXED = "read expansion from the arguments: the last 1x1 conv has expansion * width filters (4 by default)"


def _block_count_ref(kind, in_shape, width, stride, bias=False, projection="auto", stride_first=False,
                     expansion=4):
    if kind == "basic":
        convs = [(width, 3, stride, 1), (width, 3, 1, 1)]
    else:
        convs = [(width, 1, stride if stride_first else 1, 0), (width, 3, 1 if stride_first else stride, 1),
                 (expansion * width, 1, 1, 0)]
    shape, params, macs = in_shape, 0, 0
    for f, k, s, p in convs:
        shape, pp, mm = _conv_ref(shape, f, k, s, p, bias, True)
        params, macs = params + pp, macs + mm
    if projection is True or (projection == "auto" and shape != tuple(in_shape)):
        _, pp, mm = _conv_ref(in_shape, shape[0], 1, stride, 0, bias, True)
        params, macs = params + pp, macs + mm
    return shape, params, macs


def _block_count_case(group, kind, in_shape, width, stride, expansion=4):
    e = {"expansion": expansion} if kind == "bottleneck" else {}
    exact = _block_count_ref(kind, in_shape, width, stride, **e)
    mistakes = {_block_count_ref(kind, in_shape, width, stride, bias=True, **e): BLOCK_BIAS,
                _block_count_ref(kind, in_shape, width, stride, projection=False, **e): MISSING_PROJECTION,
                _block_count_ref(kind, in_shape, width, stride, projection=True, **e): EXTRA_PROJECTION}
    if kind == "bottleneck":
        mistakes[_block_count_ref(kind, in_shape, width, stride, stride_first=True, **e)] = BOTTLENECK_STRIDE
        if expansion != 4:
            mistakes[_block_count_ref(kind, in_shape, width, stride)] = EXPANSION_FIXED
    call = "basic_block_counts" if kind == "basic" else "bottleneck_counts"
    kwargs = {"stride": stride, **({"expansion": expansion} if expansion != 4 else {})}
    return Case(group, call, (tuple(in_shape), width), kwargs,
                judge=_expect_counts(exact, mistakes,
                             "wrong counts: add up the convs (bias=False, bn=True) and the shortcut"))


def _block_count_cases(rng):
    known = "the ResNets' blocks: ResNet-18 conv2_x and conv3_1, ResNet-50 conv2_1, conv2_2 and conv4_1"
    basic_group = "6 random basic blocks (identity and projection shortcuts)"
    bottleneck_group = "6 random bottleneck blocks (identity, stride 2, and channel changes at stride 1)"
    expansion_group = "4 random bottleneck blocks with expansion 1, 2 or 6 (the identity when C = expansion * width)"
    cases = [_block_count_case(known, "basic", (64, 56, 56), 64, 1),
             _block_count_case(known, "basic", (64, 56, 56), 128, 2),
             _block_count_case(known, "bottleneck", (64, 56, 56), 64, 1),
             _block_count_case(known, "bottleneck", (256, 56, 56), 64, 1),
             _block_count_case(known, "bottleneck", (512, 28, 28), 256, 2)]
    for k in range(6):
        c, h = rng.choice([8, 16, 32, 64]), rng.randint(5, 30)
        stride = 2 if k % 2 else 1
        cases.append(_block_count_case(basic_group, "basic", (c, h, h + rng.randint(0, 3)), c * stride, stride))
    for k in range(6):
        width, h = rng.choice([4, 8, 16]), rng.randint(5, 30)
        c = 4 * width if k % 3 == 0 else (width if k % 3 == 1 else 2 * width)
        stride = 2 if k % 3 == 2 else 1
        cases.append(_block_count_case(bottleneck_group, "bottleneck", (c, h, h + rng.randint(0, 3)), width, stride))
    for k in range(4):
        width, h, expansion = rng.choice([4, 8, 16]), rng.randint(5, 30), rng.choice([1, 2, 6])
        c = expansion * width if k % 2 == 0 else 2 * width
        cases.append(_block_count_case(expansion_group, "bottleneck", (c, h, h + rng.randint(0, 3)), width,
                                       1 if k < 2 else 2, expansion))
    return cases


# -- exercise 6b: inception_counts -----------------------------------------------------------------------------------

INCEPTION_POOL_PROJ = "the pool branch has its 1x1 projection conv (pool_proj filters) after the max pool"
INCEPTION_DEPTH = ("the output depth is c1 + c3 + c5 + pool_proj: the reduce convs feed the 3x3 and 5x5 convs, "
                   "they are not concatenated")
INCEPTION_NAIVE_POOL = "the naive module concatenates the pooled input too: + C channels"
INCEPTION_BIAS = "bias=True: every conv of the module has one bias per filter; bias=False: none"
INCEPTION_NAIVE_REDUCE = "reduce=False: no 1x1 reductions, the 3x3 and 5x5 convs see all C input channels"


def _inception_ref(in_shape, spec, reduce=True, bias=True, skip=()):
    c, h, w = in_shape
    c1, c3r, c3, c5r, c5, pp = spec
    if reduce:
        convs = [(c, c1, 1), (c, c3r, 1), (c3r, c3, 3), (c, c5r, 1), (c5r, c5, 5), (c, pp, 1)]
        depth = c1 + c3 + c5 + pp
    else:
        convs = [(c, c1, 1), (c, c3, 3), (c, c5, 5)]
        depth = c1 + c3 + c5 + c
    params = macs = 0
    for index, (cin, f, k) in enumerate(convs):
        if index not in skip:
            params += cin * f * k * k + f * bias
            macs += h * w * cin * f * k * k
    return (depth, h, w), params, macs


def _inception_case(group, in_shape, spec, reduce=True, bias=True):
    exact = _inception_ref(in_shape, spec, reduce, bias)
    c, h, w = in_shape
    (depth, _, _), params, macs = exact
    mistakes = {_inception_ref(in_shape, spec, reduce, not bias): INCEPTION_BIAS}
    if reduce:
        _, p_skip, m_skip = _inception_ref(in_shape, spec, True, bias, skip=(5,))
        mistakes[((depth, h, w), p_skip, m_skip)] = INCEPTION_POOL_PROJ
        mistakes[((depth - spec[5] + c, h, w), p_skip, m_skip)] = INCEPTION_POOL_PROJ
        mistakes[((depth + spec[1] + spec[3], h, w), params, macs)] = INCEPTION_DEPTH
    else:
        mistakes[((depth - c, h, w), params, macs)] = INCEPTION_NAIVE_POOL
        mistakes[_inception_ref(in_shape, spec, True, bias)] = INCEPTION_NAIVE_REDUCE
    return Case(group, "inception_counts", (tuple(in_shape), *spec), {"reduce": reduce, "bias": bias},
                judge=_expect_counts(exact, mistakes,
                             "wrong counts: add up the module's convs; the output depth is the branches' depths"))


def _inception_cases(rng):
    known = "the notes' GoogLeNet table: inception (3a), (3b), (4a) and (5b), weights only and with biases"
    randoms = "6 random modules, with and without 1x1 reductions (the naive module), with and without biases"
    cases = [_inception_case(known, (192, 28, 28), (64, 96, 128, 16, 32, 32), bias=False),
             _inception_case(known, (256, 28, 28), (128, 128, 192, 32, 96, 64), bias=False),
             _inception_case(known, (480, 14, 14), (192, 96, 208, 16, 48, 64)),
             _inception_case(known, (832, 7, 7), (384, 192, 384, 48, 128, 128))]
    for k in range(6):
        spec = tuple(rng.randint(4, 64) for _ in range(6))
        h = rng.randint(3, 20)
        cases.append(_inception_case(randoms, (rng.randint(8, 128), h, h + rng.randint(0, 2)), spec,
                                     reduce=k % 3 != 2, bias=k % 2 == 0))
    return cases


def cases(rng):
    """{grade_id: [Case, ...]} for every graded test cell of the notebook; ``rng`` is a ``random.Random``."""
    return {
        "test_relu": _relu_cases(rng),
        "test_batchnorm_forward": _bn_forward_cases(rng),
        "test_batchnorm_backward": _bn_backward_cases(rng),
        "test_residual_block_forward": _block_forward_cases(rng),
        "test_residual_block_backward": _block_backward_cases(rng),
        "test_stack_gradient_norms": _norms_cases(rng),
        "test_conv_counts": _conv_count_cases(rng),
        "test_pool_fc_counts": _pool_fc_cases(rng),
        "test_block_counts": _block_count_cases(rng),
        "test_inception_counts": _inception_cases(rng),
    }
