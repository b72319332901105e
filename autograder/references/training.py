"""The grader's checks for assignment 05, training LeNet-5, a mini VGG and a mini ResNet on CIFAR-10.

``cases(rng, submission=None)`` gives, for each graded test cell, the notebook's known answers and fresh random
cases drawn from ``rng``: uint8 batches of several shapes for the channel statistics, scores from small to
thousands for the loss, random arrays of 1 to 4 dimensions for the numerical gradient, random one-step updates,
small training problems for the training loop (one of them: overfitting 100 points), random widths for the model
tables, batches of several shapes and pads for the augmentation, a random conv-BN net with batch sizes that do not
divide the test set for ``evaluate``, and random labels and probabilities for the analysis functions.

The references are written independently of the model solution: the loss from ``np.logaddexp.reduce``, gradients
from their formulas, the training loop as a hand-written two-layer network, layer tables from the formulas of the
notes, the conv-BN net with one shifted slice per filter offset. Typical mistakes (``tests/mistakes/m05_training.py``
and more) are computed as variants, so a wrong answer that one of them explains gets that mistake's message.

The last cell grades the LeNet-5 checkpoint ``lenet5.npz`` handed in beside the notebook. It is read here, in the
grader's process, from the submission folder (``submission``), never from the student's kernel: as plain data
(``np.load`` without pickle, a size limit, exactly the expected entries, shapes and float dtypes, finite values),
and evaluated on the grader's own 1,000 CIFAR-10 test images (``cifar10_test_1000.npz`` beside this module: 100 per
class from the official test batch, uint8, stratified with seed 0), so grading never needs a CIFAR-10 copy and
never trains.
"""
import math
from pathlib import Path

import numpy as np

from ._checkpoint import CHECKPOINT, checkpoint_accuracy, lenet_shapes, load_checkpoint
from ._common import Case, arrays, close, diagnose, expect, expect_array, expect_raises, parts, problem

ASSIGNMENT = "05_training"

PASS_ACCURACY = 0.55


def _is_close(got, expected, rtol=1e-9, atol=1e-12):
    return (isinstance(got, np.ndarray) and got.shape == expected.shape and got.dtype.kind in "biuf"
            and bool(np.allclose(got, expected, rtol=rtol, atol=atol)))


# -- exercise 1: channel_stats ---------------------------------------------------------------------------------------

STATS_NOT_SCALED = "divide by 255: the statistics are on the [0, 1] scale"
STATS_ALL_CHANNELS = "one mean and one std per channel: reduce over axes (0, 2, 3), not over everything"
STATS_PER_IMAGE = "the std of a channel is over all N*H*W values at once, not the mean of per-image stds"
STATS_DDOF = "the population std (divide by N*H*W, np.std's default ddof=0)"
STATS_OVERFLOW = "compute in float64: squares of uint8 values overflow (wrap around) in uint8"


def _stats_case(group, images):
    """Cases for channel_stats(images): the mean and the std judged as their own groups."""
    x = images.astype(np.float64) / 255
    c = images.shape[1]
    per_channel = x.transpose(1, 0, 2, 3).reshape(c, -1)
    mean = per_channel.sum(axis=1) / per_channel.shape[1]
    std = np.sqrt(((per_channel - mean[:, None]) ** 2).sum(axis=1) / per_channel.shape[1])
    wrapped = (images.astype(np.uint8) ** 2).astype(np.float64).transpose(1, 0, 2, 3).reshape(c, -1).mean(axis=1)
    variants = [((mean * 255, std * 255), STATS_NOT_SCALED),
                ((mean, x.std(axis=(2, 3)).mean(axis=0)), STATS_PER_IMAGE),
                ((mean, per_channel.std(axis=1, ddof=1)), STATS_DDOF),
                ((mean, np.sqrt(np.maximum(wrapped / 255**2 - mean**2, 0))), STATS_OVERFLOW)]

    def stat(name, expected, wrong):
        """The judge of the returned ``name`` (mean or std): ``wrong`` are (value, message) of known mistakes."""
        def judge(got):
            if not isinstance(got, np.ndarray) or got.dtype.kind not in "biuf":
                return f"return {name} as a NumPy array of numbers"
            if got.shape != (c,):
                return STATS_ALL_CHANNELS if got.size == 1 else f"{name} must have shape (C,) = ({c},)"
            if _is_close(got, expected):
                return None
            texts = [text for value, text in wrong if _is_close(got, value, rtol=1e-7)]
            return texts[0] if texts else (f"wrong {name}: the {name} of each channel over all images and pixels, "
                                           "divided by 255")
        return judge

    return parts(group, "channel_stats", (images,), {},
                 [("mean", stat("mean", mean, [(m, text) for (m, _), text in variants[:1]])),
                  ("std", stat("std", std, [(sd, text) for (_, sd), text in variants]))],
                 "return the pair (mean, std)")


def _stats_cases(rng):
    g = arrays(rng)
    known = np.zeros((2, 3, 2, 2), dtype=np.uint8)
    known[:, 0] = 255
    known[1, 1] = 255
    randoms = "8 random uint8 batches (N > 1, 1 to 4 channels, non-square, bright pixels near 255)"
    cases = _stats_case("the notebook's red/green/blue batch", known)
    for k in range(8):
        shape = (rng.randint(2, 5), rng.randint(1, 4), rng.randint(3, 7), rng.randint(3, 7))
        low = 200 if k % 2 else 0
        cases += _stats_case(randoms, g.integers(low, 256, shape).astype(np.uint8))
    bad = "anything but a uint8 (N, C, H, W) array is rejected with TypeError"
    hint = "raise TypeError unless images is a uint8 array with 4 dimensions"
    for wrong in (g.random((2, 3, 4, 4)), g.integers(0, 256, (3, 4, 4)).astype(np.uint8),
                  g.integers(0, 256, (2, 3, 4, 4))):
        cases.append(Case(bad, "channel_stats", (wrong,), judge=expect_raises("TypeError", hint=hint)))
    return cases


# -- exercise 3: softmax_loss ----------------------------------------------------------------------------------------

LOSS_SUMMED = "average over the batch: divide the sum of the example losses by N"
LOSS_OVERFLOW = ("the loss or its gradient is not finite: np.exp overflowed. Subtract each row's maximum from the "
                 "scores before taking exponentials")
GRAD_NOT_DIVIDED = "the gradient of the MEAN loss is (p - one_hot(y)) / N: divide by N"
GRAD_NO_ONE_HOT = "subtract 1 at the true class: dscores = (p - one_hot(y)) / N"


def _reference_loss(scores, y):
    n = scores.shape[0]
    lse = np.logaddexp.reduce(scores, axis=1)
    loss = float(np.mean(lse - scores[np.arange(n), y]))
    probs = np.exp(scores - lse[:, None])
    one_hot = np.zeros_like(scores)
    one_hot[np.arange(n), y] = 1
    return loss, (probs - one_hot) / n, probs / n


def _loss_case(group, scores, y):
    """The loss and dscores of softmax_loss, each judged as its own group."""
    loss, grad, probs_only = _reference_loss(scores, y)
    n = len(y)

    def loss_judge(value):
        if type(value) not in (float, int, np.float64, np.float32):
            return "the loss must be a number (a float)"
        if not math.isfinite(float(value)):
            return LOSS_OVERFLOW
        if math.isclose(float(value), loss, rel_tol=1e-9, abs_tol=1e-12):
            return None
        return LOSS_SUMMED if math.isclose(float(value), loss * n, rel_tol=1e-9) and n > 1 else \
            "wrong loss: the mean over the batch of -log softmax(scores)[y]"

    def dscores_judge(dscores):
        if not isinstance(dscores, np.ndarray) or dscores.dtype.kind not in "f" or dscores.shape != scores.shape:
            return f"dscores must be a float array of the scores' shape {scores.shape}"
        if not np.all(np.isfinite(dscores)):
            return LOSS_OVERFLOW
        if _is_close(dscores, grad):
            return None
        if n > 1 and _is_close(dscores, grad * n):
            return GRAD_NOT_DIVIDED
        if _is_close(dscores, probs_only):
            return GRAD_NO_ONE_HOT
        return diagnose(dscores, grad) or "wrong dscores: (softmax(scores) - one_hot(y)) / N"
    return parts(group, "softmax_loss", (scores, y), {}, [("loss", loss_judge), ("dscores", dscores_judge)],
                 "return the pair (loss, dscores)")


def _loss_cases(rng):
    g = arrays(rng)
    known = "the notebook's examples (equal scores; two examples, three classes)"
    small = "8 random batches (N from 1 to 9, 2 to 12 classes, scores of a few units)"
    large = "6 random batches with scores in the hundreds and thousands (a naive exp overflows)"
    cases = (_loss_case(known, np.zeros((4, 10)), np.arange(4))
             + _loss_case(known, np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 3.0]]), np.array([0, 2])))
    for _ in range(8):
        n, k = rng.randint(1, 9), rng.randint(2, 12)
        cases += _loss_case(small, g.standard_normal((n, k)) * 3, g.integers(0, k, n))
    for _ in range(6):
        n, k = rng.randint(2, 9), rng.randint(2, 12)
        scores = g.standard_normal((n, k)) * 300 + g.uniform(1000, 2000)  # exp overflows: no case passes unshifted
        cases += _loss_case(large, scores, g.integers(0, k, n))
    return cases


# -- the first loss --------------------------------------------------------------------------------------------------

BUILDERS = ("build_lenet5", "build_mini_vgg", "build_mini_resnet")


def _initial_loss_cases(rng):
    g = arrays(rng)
    cases = []
    for builder in BUILDERS:
        x, y = g.standard_normal((32, 3, 32, 32)), g.integers(0, 10, 32)

        def judge(got, builder=builder):
            trouble = problem(got)
            if trouble:
                return trouble
            if type(got) not in (float, int, np.float64):
                return "initial_loss must give a number"
            if not math.isfinite(got) or abs(got - math.log(10)) >= 0.25:
                return (f"{builder}: the untrained model's first loss is not within 0.25 of ln 10: give the last "
                        "Linear a small std (std=0.01), and check softmax_loss")
            return None
        kwargs = {"seed": rng.randint(0, 1000)}
        if builder != "build_lenet5":
            stages = 4 if builder == "build_mini_resnet" else 3  # ResNet-9 has four widths
            kwargs["widths"] = tuple(sorted(rng.randint(4, 16) for _ in range(stages)))
        cases.append(Case(f"{builder}: the first loss on 32 random images is within 0.25 of ln 10 (random widths)"
                          if builder != "build_lenet5" else
                          f"{builder}: the first loss on 32 random images is within 0.25 of ln 10", "initial_loss",
                          (builder, kwargs, x, y), judge=judge))
    return cases


# -- exercise 2: the models' layer tables ----------------------------------------------------------------------------

def _conv_rows(shape, filters, k, pad, bias):
    c, h, w = shape
    out = (filters, h + 2 * pad - k + 1, w + 2 * pad - k + 1)
    return out, filters * c * k * k + (filters if bias else 0)


def _lenet_table():
    rows, shape = [], (3, 32, 32)
    for filters in (6, 16):
        shape, params = _conv_rows(shape, filters, 5, 0, True)
        rows += [(shape, params), (shape, 0)]
        shape = (shape[0], shape[1] // 2, shape[2] // 2)
        rows.append((shape, 0))
    rows.append(((400,), 0))
    d = 400
    for units in (120, 84):
        rows += [((units,), d * units + units), ((units,), 0)]
        d = units
    return rows + [((10,), d * 10 + 10)]


def _vgg_table(widths, bias=False):
    rows, shape = [], (3, 32, 32)
    for width in widths:
        for _ in range(2):
            shape, params = _conv_rows(shape, width, 3, 1, bias)
            rows += [(shape, params), (shape, 2 * width), (shape, 0)]
        shape = (shape[0], shape[1] // 2, shape[2] // 2)
        rows.append((shape, 0))
    return rows + [((widths[-1],), 0), ((10,), widths[-1] * 10 + 10)]


def _block_params(width):
    """Parameters of a basic block with an identity shortcut: two 3x3 convolutions without bias, two batch norms."""
    return 18 * width * width + 4 * width


def _resnet9_table(widths, block_before_pool=False):
    """ResNet-9's rows: conv-BN-ReLU (w1), conv-BN-ReLU (w2), pool, block; conv-BN-ReLU (w3), pool; conv-BN-ReLU (w4),
    pool, block; global average pool, FC. ``block_before_pool``: each block ahead of the pool before it (a mistake)."""
    rows, shape = [], (3, 32, 32)

    def conv_bn_relu(width):
        nonlocal shape
        shape, params = _conv_rows(shape, width, 3, 1, False)
        rows.extend([(shape, params), (shape, 2 * width), (shape, 0)])

    def pool():
        nonlocal shape
        shape = (shape[0], shape[1] // 2, shape[2] // 2)
        rows.append((shape, 0))

    def pool_and_block():
        if not block_before_pool:
            pool()
        rows.append((shape, _block_params(shape[0])))
        if block_before_pool:
            pool()
    w1, w2, w3, w4 = widths
    conv_bn_relu(w1)
    conv_bn_relu(w2)
    pool_and_block()
    conv_bn_relu(w3)
    pool()
    conv_bn_relu(w4)
    pool_and_block()
    return rows + [((w4,), 0), ((10,), w4 * 10 + 10)]


def _table_judge(expected, builder, variants=()):
    def judge(got):
        trouble = problem(got)
        if trouble:
            return trouble
        try:
            table = [(tuple(int(v) for v in shape), int(params)) for shape, params in got]
        except (TypeError, ValueError):
            return "model_table must give [(output shape, parameters)] per layer"
        if table == expected:
            return None
        for wrong, text in variants:
            if table == wrong:
                return text
        if len(table) != len(expected):
            return (f"{builder}: {len(table)} layers where the table of the notebook has {len(expected)}: use "
                    f"exactly its layers, in its order")
        first = next(i for i, (a, b) in enumerate(zip(table, expected)) if a != b)
        what = "output shape" if table[first][0] != expected[first][0] else "number of parameters"
        return f"{builder}: layer {first} (counting from 0) has the wrong {what}; compare it with the notebook's table"
    return judge


def _model_cases(rng):
    lenet = "LeNet-5: the output shape and parameters of each of its 12 layers"
    vgg = "mini VGG: the default widths (32, 64, 128) and 3 random ones, layer by layer"
    resnet = "ResNet-9: the default widths (16, 32, 64, 128) and 3 random ones, layer by layer"
    cases = [Case(lenet, "model_table", ("build_lenet5", {}), judge=_table_judge(_lenet_table(), "build_lenet5")),
             Case(lenet, "model_table", ("build_lenet5", {"seed": rng.randint(1, 1000)}),
                  judge=_table_judge(_lenet_table(), "build_lenet5"))]
    for k in range(4):
        widths = (32, 64, 128) if k == 0 else tuple(rng.randint(2, 12) for _ in range(3))
        kwargs = {} if k == 0 else {"widths": widths}
        cases.append(Case(vgg, "model_table", ("build_mini_vgg", kwargs), judge=_table_judge(
            _vgg_table(widths), "build_mini_vgg",
            [(_vgg_table(widths, bias=True), "a conv followed by batch norm has no bias: bias=False")])))
    for k in range(4):
        widths = (16, 32, 64, 128) if k == 0 else tuple(rng.randint(2, 12) for _ in range(4))
        kwargs = {} if k == 0 else {"widths": widths}
        cases.append(Case(resnet, "model_table", ("build_mini_resnet", kwargs), judge=_table_judge(
            _resnet9_table(widths), "build_mini_resnet",
            [(_resnet9_table(widths, block_before_pool=True),
              "each basic block comes right after its 2x2 pool (it works on the halved maps)")])))
    return cases


# -- exercise 4: numerical_gradient and relative_error ---------------------------------------------------------------

NUMGRAD_ONE_SIDED = ("use the centred difference (f(x + h e_i) - f(x - h e_i)) / (2h): the one-sided difference "
                     "is off by about h times the second derivative")
NUMGRAD_HALF = "the centred difference divides by 2h, not h"
NUMGRAD_NOT_RESTORED = "put every entry back (x[i] = old) before moving to the next one"
NUMGRAD_FIXED_STEP = "use the step h you are given (the argument h), not a fixed step of your own"


def _function(name, c):
    if name == "cubic":
        return lambda z: float(np.sum(c * z ** 3))
    return lambda z: float(np.log(np.sum(np.exp(c * z))))


def _variant_gradient(name, x, c, h=1e-5, one_sided=False, restore=True):
    f, x = _function(name, c), x.copy()
    grad = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        plus = f(x)
        x[i] = old - h if not one_sided else old
        minus = f(x)
        if restore:
            x[i] = old
        grad[i] = (plus - minus) / (h if one_sided else 2 * h)
    return grad


def _numgrad_case(group, name, x, c, h=None):
    """A case of numerical_gradient_of; h None leaves the student's default step (judged against the exact
    gradient), a given h is judged against the centred difference with that step."""
    if name == "cubic":
        exact = 3 * c * x ** 2
    else:
        e = np.exp(c * x - np.max(c * x))
        exact = c * e / e.sum()
    step = {} if h is None else {"h": h}
    expected = exact if h is None else _variant_gradient(name, x, c, h=h)
    variants = [(_variant_gradient(name, x, c, one_sided=True, **step), NUMGRAD_ONE_SIDED),
                (expected * 2, NUMGRAD_HALF),
                (_variant_gradient(name, x, c, restore=False, **step), NUMGRAD_NOT_RESTORED)]
    if h is not None:
        variants.append((exact, NUMGRAD_FIXED_STEP))

    def judge(got):
        trouble = problem(got)
        if trouble:
            return trouble
        if not isinstance(got, np.ndarray) or got.dtype.kind != "f":
            return "return a float array shaped like x"
        if got.shape != x.shape:
            return f"the gradient must have x's shape {x.shape}"
        if np.allclose(got, expected, rtol=1e-6, atol=1e-7):
            return None
        for wrong, text in variants:
            if np.allclose(got, wrong, rtol=1e-7, atol=1e-9):
                return text
        return "wrong values: (f(x + h e_i) - f(x - h e_i)) / (2h) at every index i"
    return Case(group, "numerical_gradient_of", (name, x, c), step, judge=judge)


REL_ONE_SIDED = "divide by |a_i| + |b_i| (both), not by one of them"
REL_MEAN = "take the largest relative difference (max), not the mean"


def _relative_case(group, a, b):
    ratio = np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))
    mistakes = {float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a)))): REL_ONE_SIDED,
                float(np.mean(ratio)): REL_MEAN}
    return Case(group, "relative_error", (a, b), judge=expect(float(np.max(ratio)), mistakes,
                                                             "max_i |a_i - b_i| / max(1e-8, |a_i| + |b_i|)"))


def _gradient_check_cases(rng):
    g = arrays(rng)
    numeric = "numerical_gradient: sum(c x**3) and log(sum(exp(c x))) at 8 random x of 1 to 4 dimensions, to 1e-7"
    cases = []
    for k in range(8):
        shape = tuple(rng.randint(1, 4) for _ in range(rng.randint(1, 4)))
        cases.append(_numgrad_case(numeric, ("cubic", "logsumexp")[k % 2], g.uniform(-2, 2, shape),
                                   float(g.uniform(0.5, 2))))
    steps = "numerical_gradient(f, x, h) with 4 random steps h from 0.05 to 0.5: the centred difference with that h"
    for k in range(4):  # two entries or more: log(sum(exp(c x))) of one entry is linear, any step is exact
        shape = tuple(rng.randint(2, 4) for _ in range(rng.randint(1, 3)))
        cases.append(_numgrad_case(steps, ("cubic", "logsumexp")[k % 2], g.uniform(-2, 2, shape),
                                   float(g.uniform(0.5, 2)), h=float(g.uniform(0.05, 0.5))))
    relative = "relative_error: 6 random pairs of arrays (some entries 0 in both)"
    for _ in range(6):
        shape = (rng.randint(1, 5), rng.randint(1, 5))
        a = g.standard_normal(shape)
        b = a + g.standard_normal(shape) * 10.0 ** g.integers(-8, 0)
        a.flat[0] = b.flat[0] = 0.0
        cases.append(_relative_case(relative, a, b))
    return cases


# -- exercise 5: sgd_momentum_step -----------------------------------------------------------------------------------

SGD_ON_WEIGHTS = "momentum multiplies the velocity, not the weights: v = mu v - lr (dw + lambda w), then w = w + v"
SGD_DECAY_SIGN = "weight decay ADDS lambda * w to the gradient (the step then pulls the weights towards 0)"
SGD_NO_DECAY = "weight decay is missing: the gradient is dw + weight_decay * w"
SGD_VELOCITY_SIGN = "the velocity points the way the weights move: v_new = momentum * v - lr * (dw + lambda * w)"


def _sgd_case(group, w, dw, v, lr, mu, wd, keywords=False):
    """w_new and v_new of sgd_momentum_step, each judged as its own group (``keywords``: momentum and
    weight_decay passed by name, and left out when they are the defaults)."""
    grad = dw + wd * w
    v_new = mu * v - lr * grad
    w_wrong = [(mu * w - lr * grad, SGD_ON_WEIGHTS), (mu * w + v_new, SGD_ON_WEIGHTS),
               (w + mu * v - lr * (dw - wd * w), SGD_DECAY_SIGN), (w + mu * v - lr * dw, SGD_NO_DECAY),
               (w - mu * v - lr * grad, SGD_VELOCITY_SIGN)]
    v_wrong = [(mu * v - lr * (dw - wd * w), SGD_DECAY_SIGN), (mu * v - lr * dw, SGD_NO_DECAY),
               (-v_new, SGD_VELOCITY_SIGN), (mu * v + lr * grad, SGD_VELOCITY_SIGN)]
    shape_hint = f"return two arrays of the parameter's shape {w.shape}"
    judges = [("w_new", expect_array(w + v_new, w_wrong, "wrong w_new: w_new = w + v_new", [])),
              ("v_new", expect_array(v_new, v_wrong, "wrong v_new: v_new = momentum * v - lr * (dw + weight_decay * w)"
                                     , []))]
    judges = [(name, _with_shape(judge, w.shape, shape_hint)) for name, judge in judges]
    if not keywords:
        return parts(group, "sgd_momentum_step", (w, dw, v, lr, mu, wd), {}, judges, "return the pair (w_new, v_new)")
    kwargs = {k: value for k, value, default in (("momentum", mu, 0.9), ("weight_decay", wd, 0.0)) if value != default}
    return parts(group, "sgd_momentum_step", (w, dw, v, lr), kwargs, judges, "return the pair (w_new, v_new)")


def _with_shape(judge, shape, message):
    def judged(got):
        if isinstance(got, np.ndarray) and got.shape != shape:
            return message
        return judge(got)
    return judged


def _sgd_cases(rng):
    g = arrays(rng)
    known = "the notebook's steps (v = 0; v = [1, 0]; weight decay alone)"
    randoms = "8 random steps (arrays of 1 to 4 dimensions, velocity, learning rate, momentum, weight decay)"
    w, dw = np.array([1.0, -2.0]), np.array([0.5, 0.5])
    defaults = "4 random steps with momentum and weight_decay by name, or left at their defaults (0.9 and 0)"
    cases = (_sgd_case(known, w, dw, np.zeros(2), 0.1, 0.9, 0.0)
             + _sgd_case(known, w, dw, np.array([1.0, 0.0]), 0.1, 0.9, 0.0)
             + _sgd_case(known, w, np.zeros(2), np.zeros(2), 0.1, 0.9, 0.5))
    for k in range(12):
        shape = tuple(rng.randint(1, 4) for _ in range(rng.randint(1, 4)))
        mu, wd = float(g.uniform(0.5, 0.99)), float(g.uniform(0.01, 0.3))
        if k >= 8:
            mu, wd = (0.9 if k % 2 else mu), (0.0 if k < 10 else wd)
        cases += _sgd_case(randoms if k < 8 else defaults, g.standard_normal(shape), g.standard_normal(shape),
                           g.standard_normal(shape), float(g.uniform(0.01, 0.5)), mu, wd, keywords=k >= 8)
    return cases


# -- exercise 6: fit_batch -------------------------------------------------------------------------------------------

FIT_DECAY_BIAS = "weight decay is for the weights (key 'w') only, not for the biases"
FIT_VELOCITY_RESET = "keep each parameter's velocity from one step to the next (one dict for the whole run)"
FIT_LOSS_AFTER = "record each step's loss before its update (the first loss is the untrained network's)"
FIT_SHARED_VELOCITY = "every parameter needs its own velocity (key the velocities by the parameter's name)"
FIT_DEFAULT_MOMENTUM = "fit_batch's momentum is 0.9 unless it is given (the default in its signature)"
FIT_DEFAULT_DECAY = "fit_batch has no weight decay unless it is given (weight_decay=0.0 in its signature)"


def _mlp_run(p, x, y, steps, lr, mu, wd, decay_bias=False, keep_velocity=True):
    """The reference loop on Linear - ReLU - Linear: (losses, final weights) by hand-written backprop."""
    p = {k: v.copy() for k, v in p.items()}
    velocity = {k: np.zeros_like(v) for k, v in p.items()}
    losses = []
    n = len(y)
    for _ in range(steps):
        h = x @ p["1.w"] + p["1.b"]
        a = h * (h > 0)
        scores = a @ p["3.w"] + p["3.b"]
        lse = np.logaddexp.reduce(scores, axis=1)
        losses.append(float(np.mean(lse - scores[np.arange(n), y])))
        ds = np.exp(scores - lse[:, None])
        ds[np.arange(n), y] -= 1
        ds /= n
        da = ds @ p["3.w"].T
        dh = da * (h > 0)
        grads = {"1.w": x.T @ dh, "1.b": dh.sum(axis=0), "3.w": a.T @ ds, "3.b": ds.sum(axis=0)}
        for k in p:
            g = grads[k] + (wd * p[k] if k.endswith(".w") or decay_bias else 0.0)
            velocity[k] = (mu * velocity[k] if keep_velocity else 0.0) - lr * g
            p[k] = p[k] + velocity[k]
    return losses, p


def _overfits(params, x, y, steps, lr, mu):
    """True if the reference loop reaches 100 % training accuracy on (x, y)."""
    _, final = _mlp_run(params, x, y, steps, lr, mu, 0.0)
    hidden = np.maximum(x @ final["1.w"] + final["1.b"], 0)
    return bool(((hidden @ final["3.w"] + final["3.b"]).argmax(axis=1) == y).all())


def _fit_case(group, params, x, y, steps, lr, mu, wd, overfit=False, defaults=False):
    """Cases for fit_tiny_mlp: the losses and the trained weights judged as their own groups. ``defaults``: the
    call leaves momentum and weight decay out, so fit_batch's defaults (0.9 and 0.0) must hold."""
    losses, final = _mlp_run(params, x, y, steps, lr, mu, wd)
    variants = [(_mlp_run(params, x, y, steps, lr, mu, wd, decay_bias=True), FIT_DECAY_BIAS),
                (_mlp_run(params, x, y, steps, lr, mu, wd, keep_velocity=False), FIT_VELOCITY_RESET)]
    if defaults:  # first: without momentum is also what a velocity reset gives, and here the call gave none
        variants[:0] = [(_mlp_run(params, x, y, steps, lr, 0.0, wd), FIT_DEFAULT_MOMENTUM),
                        (_mlp_run(params, x, y, steps, lr, mu, 5e-4), FIT_DEFAULT_DECAY)]

    def same_losses(got, ref):
        return len(got) == len(ref) and np.allclose(got, ref, rtol=1e-6, atol=1e-9)

    def same_weights(got, ref):
        return all(k in got and _is_close(got[k], v, rtol=1e-6, atol=1e-9) for k, v in ref.items())

    def losses_judge(got):
        if not isinstance(got, list):
            return "fit_batch must return a list of losses"
        if len(got) != steps:
            return f"{steps} steps must give {steps} losses"
        try:
            got = [float(v) for v in got]
        except (TypeError, ValueError):
            return "fit_batch must return a list of numbers"
        if same_losses(got, losses):
            return None
        for (ref, _), text in variants:
            if same_losses(got, ref):
                return text
        if np.allclose(got[:-1], losses[1:], rtol=1e-6):
            return FIT_LOSS_AFTER
        if overfit and not np.isclose(got[-1], losses[-1], rtol=1e-3):
            return "the network does not overfit 100 points: check the update and that the new weights are stored"
        return "the losses differ from forward - softmax_loss - backward - sgd_momentum_step, step by step"

    def weights_judge(got):
        if not isinstance(got, dict):
            return "the trained weights must be a dict (the model's state_dict)"
        if same_weights(got, final):
            return None
        for (_, ref), text in variants:
            if same_weights(got, ref):
                return text
        return ("the trained weights differ: each step's update must go back into layer.params (w + v with the "
                "velocity of sgd_momentum_step)")

    args = (params, x, y, steps, lr) + (() if defaults else (mu, wd))
    return parts(group, "fit_tiny_mlp", args, {}, [("losses", losses_judge), ("weights", weights_judge)],
                 "fit_tiny_mlp returns the pair (losses, weights): fit_batch must return its list of losses")


def _mlp_problem(g, n, d, hidden, k):
    params = {"1.w": g.standard_normal((d, hidden)) * np.sqrt(2 / d), "1.b": g.standard_normal(hidden) * 0.1,
              "3.w": g.standard_normal((hidden, k)) * np.sqrt(1 / hidden), "3.b": g.standard_normal(k) * 0.1}
    return params, g.standard_normal((n, d)), g.integers(0, k, n)


def _fit_cases(rng):
    g = arrays(rng)
    randoms = "5 random training runs of a tiny network (several steps, momentum, weight decay), step by step"
    cases = []
    for k in range(5):
        params, x, y = _mlp_problem(g, rng.randint(6, 20), rng.randint(3, 9), rng.randint(4, 12), rng.randint(2, 5))
        cases += _fit_case(randoms, params, x, y, rng.randint(3, 8), float(g.uniform(0.05, 0.3)),
                           float(g.uniform(0.5, 0.95)), 0.0 if k == 0 else float(g.uniform(0.01, 0.1)))
    params, x, y = _mlp_problem(g, rng.randint(6, 20), rng.randint(3, 9), rng.randint(4, 12), rng.randint(2, 5))
    cases += _fit_case("fit_batch's defaults: momentum 0.9, no weight decay (a random run that leaves both out)",
                       params, x, y, rng.randint(3, 8), float(g.uniform(0.05, 0.3)), 0.9, 0.0, defaults=True)
    for _ in range(20):  # a problem the reference overfits (the first draw almost always is one)
        params, x, y = _mlp_problem(g, 100, 10, 48, 4)
        if _overfits(params, x, y, 300, 0.2, 0.9):
            break
    cases += _fit_case("overfitting: 100 random points, 300 steps, to 100% training accuracy", params, x, y,
                       300, 0.2, 0.9, 0.0, overfit=True)
    return cases


# -- exercise 7: best_learning_rate ----------------------------------------------------------------------------------

LR_NAN = "np.argmin picked a nan: ignore the runs whose loss is not finite (np.isfinite)"


def _lr_cases(rng):
    g = arrays(rng)
    group = "6 random sweeps, some with diverged runs (nan, inf)"
    cases = []
    for k in range(6):
        lrs = sorted(float(v) for v in 10.0 ** g.uniform(-4, 1, rng.randint(4, 8)))
        losses = [float(v) for v in g.uniform(0.5, 2.5, len(lrs))]
        for j in range(len(lrs) - 1 - k % 3, len(lrs)):
            losses[j] = (float("nan"), float("inf"))[j % 2]
        finite = [i for i, v in enumerate(losses) if math.isfinite(v)]
        best = lrs[min(finite, key=lambda i: losses[i])]
        naive = lrs[int(np.argmin(losses))]
        cases.append(Case(group, "best_learning_rate", (lrs, losses),
                          judge=expect(best, {naive: LR_NAN} if naive != best else {},
                                       "the rate of the lowest finite final loss")))
    cases.append(Case("every run diverged: ValueError", "best_learning_rate",
                      ([0.5, 1.0, 5.0], [float("nan"), float("inf"), float("nan")]),
                      judge=expect_raises("ValueError", hint="raise ValueError when no loss is finite")))
    return cases


# -- exercise 8: augmentation ----------------------------------------------------------------------------------------

FLIP_AXIS = "mirror left-right: reverse the LAST axis (the width), x[i, :, :, ::-1]"
FLIP_BATCH = "decide for each image on its own (rng.random(N) < 0.5), not once for the whole batch"
CROP_SHAPE = "cut an H x W window out of the padded image: the output keeps the input's shape"
CROP_EDGE = "pad with zeros (np.pad's default mode), not with the edge values"
CROP_SAME = "draw the offset (dy, dx) for each image on its own, not once for the whole batch"
CROP_RANGE = "the offsets dy and dx each take every value in 0..2*pad"
CROP_DEFAULT = "random_crop pads by 4 unless pad is given (pad=4 in its signature)"
NOT_AT_TEST = "augmentation is for training only: with train=False return the images unchanged"


def _windows(padded, h, w):
    """All (dy, dx) -> window (C, h, w) of one padded image."""
    return {(dy, dx): padded[:, dy:dy + h, dx:dx + w] for dy in range(padded.shape[1] - h + 1)
            for dx in range(padded.shape[2] - w + 1)}


def _crop_offsets(got, x, pad, mode="constant", flips=False):
    """The offset of each image of got among the windows of x padded (None where none fits)."""
    n, _, h, w = x.shape
    offsets = []
    for i in range(n):
        padded = np.pad(x[i], ((0, 0), (pad, pad), (pad, pad)), mode=mode)
        found = None
        for offset, window in _windows(padded, h, w).items():
            if np.array_equal(got[i], window) or (flips and np.array_equal(got[i], window[..., ::-1])):
                found = offset
                break
        offsets.append(found)
    return offsets


def _array_like(got, x):
    trouble = problem(got)
    if trouble:
        return trouble
    if not isinstance(got, np.ndarray) or got.dtype.kind != "f":
        return "return a float array of images"
    return None


def _flip_case(group, x):
    def judge(got):
        trouble = _array_like(got, x)
        if trouble:
            return trouble
        if got.shape != x.shape:
            return f"the output must keep the input's shape {x.shape}"
        flipped = [np.array_equal(a, b[..., ::-1]) for a, b in zip(got, x)]
        same = [np.array_equal(a, b) for a, b in zip(got, x)]
        if not all(f or s for f, s in zip(flipped, same)):
            if all(np.array_equal(a, b[:, ::-1]) or np.array_equal(a, b) for a, b in zip(got, x)):
                return FLIP_AXIS
            return "every image must be itself or its left-right mirror"
        count = sum(f and not s for f, s in zip(flipped, same))
        if count in (0, len(x)):
            return FLIP_BATCH
        if not 0.15 * len(x) < count < 0.85 * len(x):
            return "flip each image with probability 1/2"
        return None
    return Case(group, "flip_with_seed", (x, None), judge=judge)


def _crop_case(group, x, pad, default=False):
    """A case of crop_with_seed; ``default``: the call leaves pad out, so random_crop's default (``pad``) holds."""
    def judge(got):
        trouble = _array_like(got, x)
        if trouble:
            return trouble
        if got.shape != x.shape:
            return CROP_SHAPE
        offsets = _crop_offsets(got, x, pad)
        if None in offsets:
            if None not in _crop_offsets(got, x, pad, mode="edge"):
                return CROP_EDGE
            if default and any(None not in _crop_offsets(got, x, other) for other in range(1, 2 * pad + 1)):
                return CROP_DEFAULT
            return "every image must be an H x W window of the zero-padded image"
        if len(set(offsets)) == 1:
            return CROP_SAME
        values = {v for offset in offsets for v in offset}
        if max(values) < 2 * pad:  # with 48 images, each of the 2*pad+1 values shows up unless the range is wrong
            return CROP_DEFAULT if default and min(values) > 0 else CROP_RANGE  # a smaller pad: centred offsets
        return None
    return Case(group, "crop_with_seed", (x, None) if default else (x, None, pad), judge=judge)


def _augment_case(group, x, train):
    def judge(got):
        trouble = _array_like(got, x)
        if trouble:
            return trouble
        if not train:
            return None if got.shape == x.shape and np.array_equal(got, x) else NOT_AT_TEST
        if got.shape != x.shape:
            return CROP_SHAPE
        offsets = _crop_offsets(got, x, 4, flips=True)
        if None in offsets:
            return "while training, every image must be a window of the image padded by 4 (then maybe mirrored)"
        if all(np.array_equal(a, b) for a, b in zip(got, x)):
            return "with train=True the images must change: random_crop(pad=4) then random_flip"
        return None
    return Case(group, "augment_with_seed", (x, None, train), judge=judge)


def _augment_cases(rng):
    g = arrays(rng)
    cases = []

    def batch(n=48, smallest=4):
        return g.standard_normal((n, rng.randint(1, 3), rng.randint(smallest, 8), rng.randint(smallest, 8)))

    for _ in range(3):
        cases.append(_flip_case("random_flip: 3 random batches of 48 (non-square images)", batch()))
    for _ in range(3):
        cases.append(_crop_case("random_crop: 3 random batches of 48, pad 1 to 3", batch(), rng.randint(1, 3)))
    # images larger than the pad: a window wholly in the padding would fit at several offsets
    cases.append(_crop_case("random_crop without pad: padded by 4", batch(smallest=6), 4, default=True))
    for _ in range(2):
        cases.append(_augment_case("augment(train=False) returns the images unchanged", batch(16), False))
        cases.append(_augment_case("augment(train=True): crop with pad 4, then flip", batch(16), True))
    for case in cases:  # the seed for the kernel's generator
        case.args = (case.args[0], rng.randrange(2**31)) + case.args[2:]
    return cases


# -- exercise 9: evaluate --------------------------------------------------------------------------------------------

EVAL_TRAIN_MODE = ("evaluate in test mode, model.forward(x, train=False): in training mode batch norm normalises "
                   "with the batch's own statistics instead of the running ones")
EVAL_BATCH_MEANS = ("average the loss over the images: the last batch is smaller, so weight each batch's mean loss by "
                    "its size (the mean of the batch means is not the mean)")
EVAL_COUNT = "the accuracy is a fraction: correct / N"


def _tiny_bn_scores(params, x, mode="test"):
    """Scores of Conv3x3(pad 1, no bias) - BN - ReLU - GlobalAvgPool - FC, by shifted slices."""
    w = params["0.w"]
    f, _, k, _ = w.shape
    n, _, h, wd = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    conv = np.zeros((n, f, h, wd))
    for p in range(k):
        for q in range(k):
            conv += np.einsum("nchw,fc->nfhw", padded[:, :, p:p + h, q:q + wd], w[:, :, p, q])
    if mode == "test":
        mean = params["1.running_mean"][None, :, None, None]
        var = params["1.running_var"][None, :, None, None]
    else:
        mean = conv.mean(axis=(0, 2, 3), keepdims=True)
        var = conv.var(axis=(0, 2, 3), keepdims=True)
    normed = (conv - mean) / np.sqrt(var + 1e-5)
    out = params["1.gamma"][None, :, None, None] * normed + params["1.beta"][None, :, None, None]
    pooled = np.maximum(out, 0).mean(axis=(2, 3))
    return pooled @ params["4.w"] + params["4.b"]


def _losses(scores, y):
    return np.logaddexp.reduce(scores, axis=1) - scores[np.arange(len(y)), y]


def _evaluate_case(group, params, x, y, batch_size=None):
    """Cases for evaluate_tiny_bn_net: the loss and the accuracy judged as their own groups; batch_size None
    leaves it out of the call (evaluate's default, 100, holds)."""
    call = (params, x, y) if batch_size is None else (params, x, y, batch_size)
    batch_size = batch_size or 100
    scores = _tiny_bn_scores(params, x)
    loss, acc = float(_losses(scores, y).mean()), float((scores.argmax(axis=1) == y).mean())
    batches = range(0, len(x), batch_size)
    train_scores = np.concatenate([_tiny_bn_scores(params, x[i:i + batch_size], "train") for i in batches])
    batch_means = float(np.mean([_losses(scores[i:i + batch_size], y[i:i + batch_size]).mean() for i in batches]))

    train_acc = float((train_scores.argmax(axis=1) == y).mean())

    def loss_judge(got):
        if type(got) not in (float, int):
            return "evaluate must return the loss as a number"
        if math.isclose(got, loss, rel_tol=1e-5):
            return None
        if math.isclose(got, float(_losses(train_scores, y).mean()), rel_tol=1e-5):
            return EVAL_TRAIN_MODE
        if math.isclose(got, batch_means, rel_tol=1e-5):
            return EVAL_BATCH_MEANS
        return "wrong loss: the mean softmax loss over the images, each image counted once"

    def accuracy_judge(got):
        if type(got) not in (float, int):
            return "evaluate must return the accuracy as a number"
        if math.isclose(got, acc, abs_tol=1e-9):
            return None
        if math.isclose(got, acc * len(x), abs_tol=1e-9):
            return EVAL_COUNT
        if math.isclose(got, train_acc, abs_tol=1e-9):
            return EVAL_TRAIN_MODE
        return "wrong accuracy: the fraction of the images classified right"

    return parts(group, "evaluate_tiny_bn_net", call, {},
                 [("loss", loss_judge), ("accuracy", accuracy_judge)], "return the pair (loss, accuracy)")


def _evaluate_cases(rng):
    g = arrays(rng)
    group = ("5 random conv-BN nets with running statistics, test sets of 7 to 23 images, batch sizes that do not "
             "divide them")
    cases = []
    for j in range(6):
        c, f, k = rng.randint(1, 3), rng.randint(2, 5), rng.randint(3, 6)
        n = rng.randint(7, 23) if j < 5 else rng.randint(101, 160)
        batch_size = rng.choice([b for b in range(2, n) if n % b]) if j < 5 else None
        if j == 5:
            group = "evaluate's default batch size (100) on a random test set of 101 to 160 images"
        params = {"0.w": g.standard_normal((f, c, 3, 3)), "1.gamma": g.uniform(0.5, 2, f),
                  "1.beta": g.standard_normal(f) * 0.5,
                  # float32 values: the layer keeps its running statistics in float32
                  "1.running_mean": g.standard_normal(f).astype(np.float32).astype(np.float64) * 2,
                  "1.running_var": g.uniform(0.2, 4, f).astype(np.float32).astype(np.float64),
                  "4.w": g.standard_normal((f, k)) * 2, "4.b": g.standard_normal(k) * 0.1}
        x = g.standard_normal((n, c, rng.randint(3, 6), rng.randint(3, 6)))
        cases += _evaluate_case(group, params, x, g.integers(0, k, n), batch_size)
    return cases


# -- exercise 10: confusion_matrix, per_class_accuracy, most_confident_mistakes --------------------------------------

CM_TRANSPOSED = "rows are the TRUE classes, columns the predicted ones: cm[y_true, y_pred] += 1"
CM_K_FROM_LABELS = ("the table is k x k even when the last classes have no images: take its size from k, not from "
                    "the largest label")
CM_DEFAULT_K = "confusion_matrix has k=10 classes unless k is given (CIFAR-10's, the default in its signature)"
PER_CLASS_COLUMNS = "divide the diagonal by the ROW sums (the images of each class), not the column sums"
CONFIDENT_ALL = "only wrongly classified images count (predicted class != true class)"
CONFIDENT_ORDER = "most confident first: sort by decreasing probability of the predicted class"
CONFIDENT_TRUE = "rank by the probability of the PREDICTED class (the network's confidence), not of the true class"


def _confusion_case(group, y_true, y_pred, k, default=False):
    """A case of confusion_matrix; ``default``: the call leaves k out, so the default (``k``) must hold."""
    cm = np.zeros((k, k), dtype=np.int64)
    for t, p in zip(y_true.tolist(), y_pred.tolist()):
        cm[t, p] += 1
    largest = int(max(y_true.max(), y_pred.max())) + 1
    shapes = [((k,), "return the whole k x k table"), ((largest, largest), CM_K_FROM_LABELS)]
    if default:
        shapes = [((size, size), CM_DEFAULT_K) for size in range(1, 2 * k) if size not in (k, largest)] + shapes
    return Case(group, "confusion_matrix", (y_true, y_pred) if default else (y_true, y_pred, k), judge=expect_array(
        cm, [(cm.T.copy(), CM_TRANSPOSED)], "wrong counts: cm[t, p] counts the images of class t predicted as p",
        shapes))


def _per_class_case(group, cm):
    rows = cm.sum(axis=1)
    exact = np.array([cm[i, i] / rows[i] if rows[i] else np.nan for i in range(len(cm))])
    cols = cm.sum(axis=0)
    by_columns = np.array([cm[i, i] / cols[i] if cols[i] else np.nan for i in range(len(cm))])

    def judge(got):
        trouble = problem(got)
        if trouble:
            return trouble
        if not isinstance(got, np.ndarray) or got.dtype.kind not in "fiu" or got.shape != exact.shape:
            return f"return a float array of shape ({len(cm)},)"
        if np.allclose(got, exact, equal_nan=True):
            return None
        if np.allclose(got, by_columns, equal_nan=True):
            return PER_CLASS_COLUMNS
        if np.allclose(got[rows > 0], exact[rows > 0]):
            return "a class without images has no accuracy: return nan there"
        return "wrong values: cm[t, t] / (number of images of class t)"
    return Case(group, "per_class_accuracy", (cm,), judge=judge)


def _confident_case(group, probs, y, k):
    predicted = probs.argmax(axis=1)
    top = probs[np.arange(len(y)), predicted]
    wrong = [i for i in range(len(y)) if predicted[i] != y[i]]
    exact = np.array(sorted(wrong, key=lambda i: -top[i])[:k], dtype=np.int64)
    mistakes = [(np.array(sorted(range(len(y)), key=lambda i: -top[i])[:k]), CONFIDENT_ALL),
                (np.array(sorted(wrong, key=lambda i: top[i])[:k]), CONFIDENT_ORDER),
                (np.array(sorted(wrong, key=lambda i: -probs[i, y[i]])[:k]), CONFIDENT_TRUE)]
    return Case(group, "most_confident_mistakes", (probs, y, k), judge=expect_array(
        exact, [(m, t) for m, t in mistakes if len(m) == len(exact)],
        "the indices of the misclassified images, by decreasing probability of their predicted class",
        [((len(wrong),), "return at most k indices")] if len(wrong) > k else []))


def _analysis_cases(rng):
    g = arrays(rng)
    cm_group = "confusion_matrix: 4 random label sets (k from 3 to 10); labels outside 0..k-1 raise ValueError"
    cases = []
    for _ in range(4):
        k, n = rng.randint(3, 10), rng.randint(10, 60)
        cases.append(_confusion_case(cm_group, g.integers(0, k, n), g.integers(0, k, n), k))
    k, n = rng.randint(5, 10), rng.randint(10, 60)
    cases.append(_confusion_case("confusion_matrix: the last two of k classes have no images (nor predictions)",
                                 g.integers(0, k - 2, n), g.integers(0, k - 2, n), k))
    n = rng.randint(20, 60)
    cases.append(_confusion_case("confusion_matrix without k: 10 classes", g.integers(0, 10, n), g.integers(0, 10, n),
                                 10, default=True))
    for y_true, y_pred in (([0, 3], [0, 1]), ([0, 1], [-1, 1])):
        cases.append(Case(cm_group, "confusion_matrix", (np.array(y_true), np.array(y_pred), 3),
                          judge=expect_raises("ValueError", hint="labels must be in 0..k-1")))
    pc_group = "per_class_accuracy: 4 random confusion matrices (one with a class that has no images)"
    for j in range(4):
        k = rng.randint(3, 10)
        cm = g.integers(0, 20, (k, k))
        if j == 0:
            cm[rng.randrange(k)] = 0
        cases.append(_per_class_case(pc_group, cm))
    mc_group = "most_confident_mistakes: 4 random sets of predictions (the most confident of all is right)"
    for _ in range(4):
        n, k = rng.randint(12, 40), rng.randint(3, 10)
        logits = g.standard_normal((n, k)) * 2
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        y = g.integers(0, k, n)
        # the most confident prediction of all is right, so that counting right answers as mistakes shows
        sure = int(probs.max(axis=1).argmax())
        y[sure] = probs[sure].argmax()
        cases.append(_confident_case(mc_group, probs, y, rng.randint(2, 6)))
    return cases


# -- exercise 11: the LeNet-5 checkpoint -----------------------------------------------------------------------------

def _checkpoint_cases(submission):
    """Two groups judged from the submission's lenet5.npz, read once here. The kernel's call only shows that
    build_lenet5 exists and is LeNet-5 (the layout the checkpoint is read with)."""
    memo = {}
    entries = {k: list(v) for k, v in lenet_shapes().items() if k not in ("mean", "std")}

    def verdict():
        if not memo:
            try:
                if not submission:
                    raise ValueError(f"no {CHECKPOINT} was handed in with the notebook")
                arrays = load_checkpoint(Path(submission) / CHECKPOINT)
                memo["read"], memo["accuracy"] = None, checkpoint_accuracy(arrays)
            except ValueError as exc:
                memo["read"], memo["accuracy"] = str(exc), None
        return memo

    def model_problem(got):
        trouble = problem(got)
        if trouble:
            return f"build_lenet5: {trouble}"
        if got != entries:
            return ("build_lenet5() does not build LeNet-5 as in the table of section 2, so no checkpoint of it can "
                    "be read")
        return None

    def readable(got):
        return model_problem(got) or verdict()["read"]

    def accurate(got):
        trouble = model_problem(got)
        if trouble:
            return trouble
        result = verdict()
        if result["read"]:
            return f"{CHECKPOINT} could not be read, so it could not be tested"
        if result["accuracy"] < PASS_ACCURACY:
            return (f"your LeNet-5 classifies {result['accuracy']:.1%} of the grader's 1,000 test images right; "
                    f"{PASS_ACCURACY:.0%} are needed: train longer (QUICK = False), and save the mean and std you "
                    f"normalised with")
        return None
    return [Case(f"{CHECKPOINT} holds LeNet-5's weights and the normalisation mean and std", "lenet5_entries",
                 judge=readable),
            Case(f"{CHECKPOINT} classifies at least {PASS_ACCURACY:.0%} of the grader's 1,000 CIFAR-10 test images",
                 "lenet5_entries", judge=accurate)]


# -- exercise 12: dropout_forward, dropout_backward ------------------------------------------------------------------

DROP_NOT_SCALED = "inverted dropout scales the kept units by 1 / (1 - p) while training"
DROP_MULTIPLIED = "divide the kept units by (1 - p), do not multiply: inverted dropout scales them UP while training"
DROP_KEEP_P = "p is the probability of DROPPING a unit: keep it when u >= p (about a share 1 - p is kept)"
DROP_CONVENTION = ("the mask does not follow the convention: ONE call u = rng.random(x.shape), unit i kept when "
                   "u[i] >= p")
DROP_TEST_SCALED = "inverted dropout does nothing at test time: out = x, no scaling by (1 - p)"
DROP_TEST_DROPPED = "in test mode nothing is dropped: out = x"
DROP_BACK_NO_MASK = "multiply dout by the forward pass's mask (from the cache): dropped units get no gradient"
DROP_BACK_NOT_SCALED = "the mask in the cache includes the 1 / (1 - p) scale: dx = dout * mask"
DROP_BACK_TEST = "in test mode dropout is the identity, so dx = dout"
DROP_BAD_P = "raise ValueError unless 0 <= p < 1 (p = 1 would divide by 0)"


def _uniforms(shape, seed):
    return np.random.default_rng(seed).random(shape)


def _structure_judge(x, p):
    """Any random mask is accepted here: every output 0 or x / (1 - p), and a dropped share near p."""
    def judge(got):
        trouble = problem(got)
        if trouble:
            return trouble
        if not isinstance(got, np.ndarray) or got.dtype.kind not in "biuf":
            return f"return a NumPy array of numbers, not a {type(got).__name__}"
        if got.shape != x.shape:
            return f"the output has the shape of x, {x.shape}, not {got.shape}"
        zero = np.isclose(got, 0, rtol=0, atol=1e-12)
        scales = [(1 / (1 - p), None), (1.0, DROP_NOT_SCALED), (1 - p, DROP_MULTIPLIED)]
        scales += [(1 / p, DROP_KEEP_P)] if p > 0 else []
        for factor, message in scales:
            if np.all(zero | np.isclose(got, x * factor, rtol=1e-7, atol=1e-12)):
                if message and p > 0:
                    return message
                break
        else:
            return "every output must be 0 (dropped) or x / (1 - p) (kept and scaled)"
        share, spread = float(zero.mean()), 4 * math.sqrt(p * (1 - p) / x.size) + 0.01
        if abs(share - p) <= spread:
            return None
        if abs(share - (1 - p)) <= spread:
            return DROP_KEEP_P
        return "the share of dropped units is far from p: drop each unit on its own with probability p"
    return judge


def _forward_convention_case(group, x, p, seed):
    u = _uniforms(x.shape, seed)
    expected = np.where(u >= p, x / (1 - p), 0.0)
    mistakes = [(np.where(u >= p, x, 0.0), DROP_NOT_SCALED), (np.where(u >= p, x * (1 - p), 0.0), DROP_MULTIPLIED),
                (np.where(u < p, x / (1 - p), 0.0), DROP_CONVENTION),
                (np.where(u < 1 - p, x / (1 - p), 0.0), DROP_CONVENTION)]
    if p > 0:
        mistakes.append((np.where(u < p, x / p, 0.0), DROP_KEEP_P))
    return Case(group, "dropout_with_seed", (x, p, True, seed), judge=expect_array(expected, mistakes, DROP_CONVENTION))


def _backward_training_judge(x, dout, p, seed):
    """dx = dout * the forward's mask. A forward that keeps other units than the convention's (u < p, u < 1 - p:
    rng.binomial(1, 1 - p) is the latter for p < 1/2) loses its points in the convention group; a backward that
    passes dout through that forward's own mask is right and is not charged for it a second time."""
    keep = _uniforms(x.shape, seed) >= p
    exact = expect_array(
        np.where(keep, dout / (1 - p), 0.0),
        [(dout, DROP_BACK_NO_MASK), (np.where(keep, dout, 0.0), DROP_BACK_NOT_SCALED),
         (np.where(keep, dout * (1 - p), 0.0), DROP_BACK_NOT_SCALED),
         (np.where(keep, x / (1 - p), 0.0) * dout, DROP_BACK_NO_MASK)],
        "dx = dout * mask, the mask of the forward pass (from the cache)")
    u = _uniforms(x.shape, seed)
    own_masks = [np.where(u < p, dout / (1 - p), 0.0), np.where(u < 1 - p, dout / (1 - p), 0.0)]
    if p > 0:
        own_masks.append(np.where(u < p, dout / p, 0.0))

    def judge(got):
        return None if any(close(got, m) for m in own_masks) else exact(got)
    return judge


def _dropout_cases(rng):
    g = arrays(rng)
    structure = "training: every unit dropped (0) or kept and scaled by 1 / (1 - p), about a share p dropped"
    convention = "training: the mask of the stated convention (one rng.random(x.shape), kept when u >= p)"
    test_mode = "test mode: out = x (no dropping, no scaling)"
    backward = "backward while training: dx = dout * the forward's mask"
    backward_test = "backward in test mode: dx = dout"
    bad = "p outside [0, 1) is rejected"

    def array():
        shape = rng.choice([(200, 60), (32, 3, 12, 10), (5000,), (16, 8, 7, 9)])
        return g.standard_normal(shape) + rng.choice([0.0, 2.0])

    cases = []
    for p in (0.5, 0.2, rng.choice([0.1, 0.3, 0.4, 0.6, 0.7, 0.8])):
        x = array()
        cases.append(Case(structure, "dropout_with_seed", (x, p, True, rng.randrange(2**31)),
                          judge=_structure_judge(x, p)))
    # One p below and one above 1/2: rng.binomial(1, 1 - p) keeps the units with u >= p only when p >= 1/2.
    for p in (0.5, 0.0, round(rng.uniform(0.05, 0.45), 3), round(rng.uniform(0.55, 0.9), 3)):
        cases.append(_forward_convention_case(convention, array(), p, rng.randrange(2**31)))
    for p in (0.5, round(rng.uniform(0.05, 0.9), 3)):
        x = array()
        u = _uniforms(x.shape, seed := rng.randrange(2**31))
        cases.append(Case(test_mode, "dropout_with_seed", (x, p, False, seed), judge=expect_array(
            x, [(x * (1 - p), DROP_TEST_SCALED), (x / (1 - p), DROP_TEST_SCALED),
                (np.where(u >= p, x / (1 - p), 0.0), DROP_TEST_DROPPED), (np.where(u >= p, x, 0.0), DROP_TEST_DROPPED)],
            DROP_TEST_SCALED)))
    for p in (0.5, round(rng.uniform(0.05, 0.45), 3), round(rng.uniform(0.55, 0.9), 3)):
        x = array()
        dout, seed = g.standard_normal(x.shape), rng.randrange(2**31)
        cases.append(Case(backward, "dropout_backward_with_seed", (x, dout, p, True, seed),
                          judge=_backward_training_judge(x, dout, p, seed)))
    x = array()
    dout, seed = g.standard_normal(x.shape), rng.randrange(2**31)
    keep = _uniforms(x.shape, seed) >= 0.5
    cases.append(Case(backward_test, "dropout_backward_with_seed", (x, dout, 0.5, False, seed), judge=expect_array(
        dout, [(np.where(keep, 2 * dout, 0.0), DROP_BACK_TEST), (dout * 0.5, DROP_BACK_TEST),
               (dout * 2, DROP_BACK_TEST)], DROP_BACK_TEST)))
    cases += [Case(bad, "dropout_with_seed", (g.standard_normal((4, 5)), p, True, 0),
                   judge=expect_raises("ValueError", hint=DROP_BAD_P)) for p in (1.0, -0.1, 1.5)]
    return cases


# -- exercise 13: divide_by_10_schedule ------------------------------------------------------------------------------

LR_NO_PATIENCE = "count stale epochs: divide only after `patience` of them in a row"
LR_PREVIOUS = "compare with the BEST accuracy so far, not with the previous epoch's"
LR_NO_RESET = "after dividing, start counting stale epochs again from 0"
LR_SHORT = "return one rate more than there are accuracies: lrs[0] = lr0 is used before any epoch"
LR_TIE = "an epoch that only equals the best is stale: it must be strictly higher"
LR_BAD = "raise ValueError for lr0 <= 0 or patience < 1"


def _schedule(accs, lr0, patience, better=lambda a, best: a > best, reference="best", reset=True, every=False):
    """The learning rates, from the length of the stale streak that ends at each epoch: the rate is divided at an
    epoch whose streak is a positive multiple of ``patience`` (the count restarts after a division). The keywords
    give the typical mistakes: ``every`` (divide at every stale epoch), ``reference="previous"``, ``reset=False``,
    ``better`` (a tie counts as better)."""
    streaks, best, previous, streak = [], None, None, 0
    for a in accs:
        ref = best if reference == "best" else previous
        streak = 0 if ref is None or better(a, ref) else streak + 1
        best = a if best is None or a > best else best
        previous = a
        streaks.append(streak)
    lrs, divisions = [lr0], 0
    for streak in streaks:
        if every:
            divisions += streak > 0
        elif reset:
            divisions += streak > 0 and streak % patience == 0
        else:
            divisions += streak >= patience
        lrs.append(lr0 * 10.0 ** -divisions)
    return lrs


def _schedule_case(group, accs, lr0, patience, hint="wrong rates: go epoch by epoch with the rule of the docstring"):
    expected = _schedule(accs, lr0, patience)
    mistakes = [(_schedule(accs, lr0, patience, every=True), LR_NO_PATIENCE),
                (_schedule(accs, lr0, patience, reference="previous"), LR_PREVIOUS),
                (_schedule(accs, lr0, patience, reset=False), LR_NO_RESET),
                (_schedule(accs, lr0, patience, better=lambda a, best: a >= best), LR_TIE),
                (expected[1:], LR_SHORT), (expected[:-1], LR_SHORT)]
    messages = {}
    for wrong, message in mistakes:
        if not _close_list(wrong, expected):
            messages.setdefault(tuple(wrong), [])
            if message not in messages[tuple(wrong)]:
                messages[tuple(wrong)].append(message)

    def judge(got):
        trouble = problem(got)
        if trouble:
            return trouble
        if not isinstance(got, (list, tuple)) or not all(isinstance(v, (int, float, np.integer, np.floating))
                                                         and not isinstance(v, bool) for v in got):
            return "return a list of floats, one learning rate per epoch plus one"
        if _close_list(got, expected):
            return None
        texts = [text for wrong, found in messages.items() if _close_list(got, wrong) for text in found]
        return "; or ".join(dict.fromkeys(texts)) if texts else hint
    return Case(group, "divide_by_10_schedule", (accs, lr0), {"patience": patience}, judge)


def _close_list(got, expected):
    return len(got) == len(expected) and all(math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=0)
                                             for a, b in zip(got, expected))


def _lr_schedule_cases(rng):
    notes = "the notes' examples: a plateau, a dip, a long flat stretch, no epoch yet"
    randoms = "20 random validation curves (ties, dips, plateaus), patience 1 to 4"
    bad = "lr0 <= 0 and patience < 1 are rejected"
    cases = [_schedule_case(notes, [], 0.1, 2), _schedule_case(notes, [0.5, 0.6, 0.7], 0.1, 2),
             _schedule_case(notes, [0.5, 0.6, 0.6, 0.6, 0.7], 0.1, 2),
             _schedule_case(notes, [0.5, 0.7, 0.6, 0.65, 0.66, 0.68], 0.1, 2),
             _schedule_case(notes, [0.5] * 7, 1.0, 3), _schedule_case(notes, [0.2, 0.3, 0.3, 0.25, 0.4, 0.4], 0.01, 1)]
    for _ in range(20):
        accs, a = [], rng.uniform(0.1, 0.4)
        for _ in range(rng.randint(1, 25)):
            a = min(1.0, max(0.0, a + rng.choice([0.0, 0.0, 0.01, 0.02, -0.01, 0.05, -0.03])))
            accs.append(round(a, 2))
        cases.append(_schedule_case(randoms, accs, rng.choice([0.1, 0.01, 0.05, 1e-3]), rng.randint(1, 4)))
    cases += [Case(bad, "divide_by_10_schedule", args, kwargs, expect_raises("ValueError", hint=LR_BAD))
              for args, kwargs in [(([0.5], 0.1), {"patience": 0}), (([0.5], 0.0), {}), (([0.5], -0.1), {})]]
    return cases


def cases(rng, submission=None):
    """{grade_id: [Case, ...]} for every graded test cell of the notebook; ``rng`` is a ``random.Random``;
    ``submission`` the folder handed in (where ``lenet5.npz`` is read from; None: no checkpoint)."""
    return {
        "test_channel_stats": _stats_cases(rng),
        "test_models": _model_cases(rng),
        "test_softmax_loss": _loss_cases(rng),
        "test_initial_loss": _initial_loss_cases(rng),
        "test_gradient_check": _gradient_check_cases(rng),
        "test_sgd_momentum_step": _sgd_cases(rng),
        "test_fit_batch": _fit_cases(rng),
        "test_lr_sweep": _lr_cases(rng),
        "test_augment": _augment_cases(rng),
        "test_evaluate": _evaluate_cases(rng),
        "test_analysis": _analysis_cases(rng),
        "test_checkpoint": _checkpoint_cases(submission),
        "test_dropout": _dropout_cases(rng),
        "test_lr_schedule": _lr_schedule_cases(rng),
    }
