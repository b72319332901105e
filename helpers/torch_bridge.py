"""Your layers next to PyTorch's: the same inputs through your functions and through ``torch.nn.functional``.

Optional, never graded, and PyTorch is never needed for the course: without it each comparison says how to
install it. With it, each prints one line per check, the largest difference between your result and PyTorch's
(float64, so a right answer differs by about 1e-15 or less), and returns the lines as ``(check, difference, same)``.

Two conventions differ, and the comparisons say where they matter:

- batch norm's momentum: the course keeps ``running = momentum * running + (1 - momentum) * batch`` with
  momentum 0.9; ``nn.BatchNorm2d`` has ``running = (1 - momentum) * running + momentum * batch`` with momentum
  0.1, the same update;
- batch norm's running variance: PyTorch feeds it the unbiased batch variance (divided by m - 1), the course the
  biased one (divided by m), which is also what both normalise with; the comparison converts PyTorch's.

The inputs are continuous random numbers, so max pooling has no ties (the course sends a tie's gradient to the
first maximum in row-major order; PyTorch does not promise an order).
"""
import math

import numpy as np

INSTALL = ("PyTorch is not installed, so there is nothing to compare with (it is optional: the course never "
           "needs it). To try: pip install torch (the CPU build is enough).")
TOLERANCE = 1e-9  # relative to the size of the values


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _difference(mine, theirs):
    """The largest |mine - theirs| (inf when the shapes differ) and whether it is within TOLERANCE."""
    mine, theirs = np.asarray(mine, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    if mine.shape != theirs.shape:
        return float("inf"), False
    worst = float(np.max(np.abs(mine - theirs))) if mine.size else 0.0
    return worst, worst <= TOLERANCE * max(1.0, float(np.max(np.abs(theirs))) if theirs.size else 1.0)


def _report(title, rows):
    print(title)
    for check, worst, same in rows:
        if math.isnan(worst):  # not compared: the check's text says why
            print(f"  {check}")
        else:
            print(f"  {check:<52} {worst:10.1e}  {'same' if same else 'DIFFERENT'}")
    return rows


def _try(rows, check, compute):
    """Appends ``check``'s line: compute() gives (mine, theirs) pairs, or raises (your code's error is shown)."""
    try:
        pairs = compute()
    except NotImplementedError:
        rows.append((f"{check}: not implemented yet", float("nan"), False))
        return
    except Exception as exc:  # noqa: BLE001 - the student's error is what the line shows
        rows.append((f"{check}: your code raised {type(exc).__name__}: {exc}"[:120], float("nan"), False))
        return
    worst = [_difference(mine, theirs) for mine, theirs in pairs]
    rows.append((check, max(w for w, _ in worst), all(s for _, s in worst)))


def _grad(torch, function, inputs, dout):
    """PyTorch's output of function(*inputs) and the gradients of sum(out * dout) by each input."""
    tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in inputs]
    out = function(*tensors)
    out.backward(torch.tensor(dout, dtype=torch.float64))
    return out.detach().numpy(), [t.grad.numpy() for t in tensors]


def compare_conv(conv_forward, conv_backward, seed=0):
    """Your ``conv_forward`` / ``conv_backward`` against ``torch.nn.functional.conv2d`` and its autograd, for a
    few strides and paddings on x (2, 3, 9, 11), w (4, 3, 3, 3), b (4,)."""
    torch = _torch()
    if torch is None:
        print(INSTALL)
        return None
    rng = np.random.default_rng(seed)
    rows = []
    for stride, pad in ((1, 0), (1, 1), (2, 1), (3, 2)):
        x, w, b = rng.standard_normal((2, 3, 9, 11)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)

        def theirs(x_, w_, b_):
            return torch.nn.functional.conv2d(x_, w_, b_, stride=stride, padding=pad)

        def forward():
            return [(conv_forward(x, w, b, stride=stride, pad=pad)[0], theirs(*map(torch.tensor, (x, w, b))))]

        def backward():
            out, cache = conv_forward(x, w, b, stride=stride, pad=pad)
            dout = rng.standard_normal(out.shape)
            _, grads = _grad(torch, theirs, (x, w, b), dout)
            return list(zip(conv_backward(dout, cache), grads))

        _try(rows, f"out, stride {stride}, pad {pad}", forward)
        _try(rows, f"dx, dw, db, stride {stride}, pad {pad}", backward)
    return _report(f"PyTorch {torch.__version__}: torch.nn.functional.conv2d (float64)", rows)


def compare_pooling(max_pool_forward, max_pool_backward, avg_pool_forward, avg_pool_backward, seed=0):
    """Your max and average pooling against ``torch.nn.functional.max_pool2d`` / ``avg_pool2d`` and their
    autograd, on x (2, 3, 8, 10) for windows 2 (stride 2) and 3 (strides 2 and 3)."""
    torch = _torch()
    if torch is None:
        print(INSTALL)
        return None
    rng = np.random.default_rng(seed)
    F = torch.nn.functional
    rows = []
    for name, forward, backward, theirs in (("max", max_pool_forward, max_pool_backward, F.max_pool2d),
                                            ("average", avg_pool_forward, avg_pool_backward, F.avg_pool2d)):
        for size, stride in ((2, 2), (3, 2), (3, 3)):
            x = rng.standard_normal((2, 3, 8, 10))

            def torch_pool(x_):
                return theirs(x_, size, stride)

            def out():
                return [(forward(x, size, stride)[0], torch_pool(torch.tensor(x)))]

            def grad():
                result, cache = forward(x, size, stride)
                dout = rng.standard_normal(result.shape)
                return [(backward(dout, cache), _grad(torch, torch_pool, (x,), dout)[1][0])]

            _try(rows, f"{name} pool {size}x{size}, stride {stride}: out", out)
            _try(rows, f"{name} pool {size}x{size}, stride {stride}: dx", grad)
    return _report(f"PyTorch {torch.__version__}: max_pool2d and avg_pool2d (float64)", rows)


def compare_batchnorm(batchnorm_forward, batchnorm_backward, seed=0):
    """Your batch norm against ``nn.BatchNorm2d``'s computation (``torch.nn.functional.batch_norm``): train-mode
    output, gradients and running statistics (momentum 0.9 here is PyTorch's 0.1), then test mode, on
    x (6, 3, 5, 7)."""
    torch = _torch()
    if torch is None:
        print(INSTALL)
        return None
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((6, 3, 5, 7)) * np.array([1.0, 10.0, 0.1]).reshape(1, 3, 1, 1) + 2.0
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    mean0, var0, eps, m = rng.standard_normal(3), rng.random(3) + 0.5, 1e-5, x.size // 3
    rows = []

    def theirs(training, running):
        def function(x_, g_, b_):
            return torch.nn.functional.batch_norm(x_, running[0], running[1], g_, b_, training=training,
                                                  momentum=0.1, eps=eps)
        return function

    def train():
        param = {"mode": "train", "eps": eps, "momentum": 0.9, "running_mean": mean0.copy(),
                 "running_var": var0.copy()}
        out, cache = batchnorm_forward(x, gamma, beta, param)
        running = (torch.tensor(mean0), torch.tensor(var0))
        dout = rng.standard_normal(x.shape)
        their_out, grads = _grad(torch, theirs(True, running), (x, gamma, beta), dout)
        # PyTorch's running variance took the unbiased batch variance: back to the biased one the course uses
        their_var = 0.9 * var0 + (running[1].numpy() - 0.9 * var0) * (m - 1) / m
        return [(out, their_out), (param["running_mean"], running[0].numpy()), (param["running_var"], their_var)] \
            + list(zip(batchnorm_backward(dout, cache), grads))

    def test():
        param = {"mode": "test", "eps": eps, "momentum": 0.9, "running_mean": mean0.copy(),
                 "running_var": var0.copy()}
        out, cache = batchnorm_forward(x, gamma, beta, param)
        dout = rng.standard_normal(x.shape)
        running = (torch.tensor(mean0), torch.tensor(var0))
        their_out, grads = _grad(torch, theirs(False, running), (x, gamma, beta), dout)
        return [(out, their_out)] + list(zip(batchnorm_backward(dout, cache), grads))

    _try(rows, "train: out, running mean and var, dx, dgamma, dbeta", train)
    _try(rows, "test (running statistics): out, dx, dgamma, dbeta", test)
    return _report(f"PyTorch {torch.__version__}: torch.nn.functional.batch_norm, momentum 0.1 (float64)", rows)
