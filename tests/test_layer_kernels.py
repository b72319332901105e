"""ReLU, affine, batch norm and softmax cross-entropy kernels: definitions, numerical gradients, and (when
PyTorch is installed) torch.nn.functional on random configurations. Convolution and pooling against torch too."""
import math

import numpy as np
import pytest

from helpers import kernels as K
from test_kernels import numerical

try:
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed (pip install torch); "
                                                       "the comparison with torch.nn.functional is skipped")


def check_gradients(forward, backward, inputs, rng, eps=1e-6, tol=1e-7):
    """Analytic gradients of sum(forward(*inputs) * dout) against central differences, for every input."""
    out, cache = forward()
    dout = rng.normal(size=out.shape)
    grads = backward(dout, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    for analytic, a in zip(grads, inputs):
        expected = numerical(lambda: np.sum(forward()[0] * dout), a, eps)
        np.testing.assert_allclose(analytic, expected, rtol=tol, atol=tol)


def test_relu_and_its_gradient():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 5))
    x[0, 0, :3] = [0.0, -1e-3, 1e-3]
    out, cache = K.relu_forward(x)
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    dout = rng.normal(size=x.shape)
    np.testing.assert_array_equal(K.relu_backward(dout, cache), dout * (x > 0))


def test_affine_flattens_row_major_and_has_the_right_gradients():
    rng = np.random.default_rng(1)
    x, w, b = rng.normal(size=(4, 2, 3, 2)), rng.normal(size=(12, 5)), rng.normal(size=5)
    out, _ = K.affine_forward(x, w, b)
    np.testing.assert_allclose(out, x.reshape(4, -1) @ w + b)
    check_gradients(lambda: K.affine_forward(x, w, b), K.affine_backward, (x, w, b), rng)
    with pytest.raises(ValueError, match="12 features"):
        K.affine_forward(x, w[:10], b)


def loop_batchnorm(x, gamma, beta, eps):
    """Per channel c: (x[:, c] - mean) / sqrt(var + eps) * gamma[c] + beta[c], mean and var over all but c."""
    out = np.empty_like(x)
    for c in range(x.shape[1]):
        values = x[:, c]
        out[:, c] = (values - values.mean()) / math.sqrt(values.var() + eps) * gamma[c] + beta[c]
    return out


@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (7, 4)])
def test_batchnorm_train_mode_normalises_each_channel_and_updates_running_statistics(shape):
    rng = np.random.default_rng(2)
    x = rng.normal(3.0, 2.0, size=shape)
    gamma, beta = rng.normal(size=shape[1]), rng.normal(size=shape[1])
    bn = {"mode": "train", "momentum": 0.8}
    out, _ = K.batchnorm_forward(x, gamma, beta, bn)
    np.testing.assert_allclose(out, loop_batchnorm(x, gamma, beta, 1e-5), rtol=1e-10, atol=1e-12)
    axes = (0, 2, 3) if x.ndim == 4 else (0,)
    np.testing.assert_allclose(bn["running_mean"], 0.2 * x.mean(axis=axes))
    np.testing.assert_allclose(bn["running_var"], 0.8 + 0.2 * x.var(axis=axes))
    check_gradients(lambda: K.batchnorm_forward(x, gamma, beta, {"mode": "train"}), K.batchnorm_backward,
                    (x, gamma, beta), rng, tol=1e-6)


def test_batchnorm_test_mode_uses_the_running_statistics_and_changes_nothing():
    rng = np.random.default_rng(3)
    x, gamma, beta = rng.normal(size=(5, 2, 3, 3)), rng.normal(size=2), rng.normal(size=2)
    mean, var = np.array([0.5, -1.0]), np.array([2.0, 0.25])
    bn = {"mode": "test", "running_mean": mean.copy(), "running_var": var.copy()}
    out, _ = K.batchnorm_forward(x, gamma, beta, bn)
    expected = (x - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5)
    np.testing.assert_allclose(out, expected * gamma[None, :, None, None] + beta[None, :, None, None])
    np.testing.assert_array_equal(bn["running_mean"], mean)
    check_gradients(lambda: K.batchnorm_forward(x, gamma, beta, dict(bn)), K.batchnorm_backward,
                    (x, gamma, beta), rng)
    with pytest.raises(ValueError, match="mode"):
        K.batchnorm_forward(x, gamma, beta, {"mode": "eval"})


@pytest.mark.parametrize("mode", ["train", "test"])
def test_float32_batchnorm_stays_accurate_far_from_zero(mode):
    """Channels centred at 50, spread 0.5: test mode folds the running statistics into one scale and shift, and
    its dgamma subtracts mean * dbeta; both must still agree with float64 to float32's precision."""
    rng = np.random.default_rng(5)
    x = rng.normal(50.0, 0.5, size=(16, 3, 8, 8))
    gamma, beta, dout = rng.normal(size=3), rng.normal(size=3), rng.normal(size=x.shape)
    stats = {"running_mean": np.full(3, 50.0), "running_var": np.full(3, 0.25)}
    exact = K.batchnorm_forward(x, gamma, beta, {"mode": mode, **stats})
    single = K.batchnorm_forward(*(a.astype(np.float32) for a in (x, gamma, beta)),
                                 {"mode": mode, **{k: v.astype(np.float32) for k, v in stats.items()}})
    assert single[0].dtype == np.float32
    np.testing.assert_allclose(single[0], exact[0], rtol=1e-4, atol=1e-4)
    for ours, reference in zip(K.batchnorm_backward(dout.astype(np.float32), single[1]),
                               K.batchnorm_backward(dout, exact[1])):
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-3 * np.abs(reference).max())


@pytest.mark.parametrize("mode", ["train", "test"])
@pytest.mark.parametrize("shape", [(5, 3, 4, 4), (5, 7)])
def test_batchnorm_in_blocks_of_the_batch_matches_one_block(monkeypatch, mode, shape):
    """Batch norm makes its passes one cache-sized block of the batch at a time: blocks of one example, and of two
    with a partial last block, give the same outputs, running statistics and gradients as one block."""
    rng = np.random.default_rng(6)
    x, dout = rng.normal(2.0, 3.0, size=shape), rng.normal(size=shape)
    gamma, beta = rng.normal(size=shape[1]), rng.normal(size=shape[1])
    stats = {"running_mean": rng.normal(size=shape[1]), "running_var": rng.uniform(0.5, 2.0, size=shape[1])}

    def run():
        bn = {"mode": mode, **{k: v.copy() for k, v in stats.items()}}
        out, cache = K.batchnorm_forward(x, gamma, beta, bn)
        return (out, bn["running_mean"], bn["running_var"], *K.batchnorm_backward(dout, cache))

    whole = run()
    for examples_per_block in (1, 2):
        with monkeypatch.context() as patch:
            patch.setattr("helpers.kernels.CACHE_NUMBERS", examples_per_block * math.prod(shape[1:]))
            for blocks, one in zip(run(), whole):
                np.testing.assert_allclose(blocks, one, rtol=1e-12, atol=1e-12)


def test_softmax_cross_entropy_is_the_mean_negative_log_likelihood_and_never_overflows():
    rng = np.random.default_rng(4)
    scores, y = rng.normal(size=(6, 4)), rng.integers(0, 4, size=6)
    loss, dscores = K.softmax_cross_entropy(scores, y)
    probs = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.log(probs[np.arange(6), y]).mean(), rel=1e-12)
    expected = numerical(lambda: K.softmax_cross_entropy(scores, y)[0], scores)
    np.testing.assert_allclose(dscores, expected, rtol=1e-6, atol=1e-8)
    huge, _ = K.softmax_cross_entropy(scores * 1e4, y)
    assert np.isfinite(huge)
    assert K.softmax_cross_entropy(np.zeros((3, 10)), np.arange(3))[0] == pytest.approx(math.log(10))


def random_conv_configs(rng, count):
    for _ in range(count):
        k = int(rng.integers(1, 5))
        stride, pad = int(rng.integers(1, 4)), int(rng.integers(0, 3))
        h, w = int(rng.integers(k, 12)), int(rng.integers(k, 12))
        yield (int(rng.integers(1, 4)), int(rng.integers(1, 6)), h, w), (int(rng.integers(1, 6)), k), stride, pad


TOLERANCE = {np.float32: 1e-5, np.float64: 1e-10}


def assert_close_to_torch(ours, theirs, dtype):
    theirs = theirs.detach().numpy()
    scale = max(1.0, float(np.abs(theirs).max()))
    np.testing.assert_allclose(ours, theirs, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype] * scale)


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_convolution_agrees_with_torch(dtype):
    rng = np.random.default_rng(5)
    for (n, c, h, w), (f, k), stride, pad in random_conv_configs(rng, 25):
        x, wt, b = (rng.normal(size=s).astype(dtype) for s in ((n, c, h, w), (f, c, k, k), (f,)))
        out, cache = K.conv_forward(x, wt, b, stride, pad)
        dout = rng.normal(size=out.shape).astype(dtype)
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, wt, b))
        tout = torch.nn.functional.conv2d(tx, tw, tb, stride=stride, padding=pad)
        tout.backward(torch.tensor(dout))
        assert_close_to_torch(out, tout, dtype)
        for ours, theirs in zip(K.conv_backward(dout, cache), (tx.grad, tw.grad, tb.grad)):
            assert_close_to_torch(ours, theirs, dtype)


@needs_torch
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pooling_agrees_with_torch(kind, dtype):
    rng = np.random.default_rng(6)
    forward, backward = (K.max_pool_forward, K.max_pool_backward) if kind == "max" else \
        (K.avg_pool_forward, K.avg_pool_backward)
    torch_pool = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
    for size, stride in [(2, 2), (3, 2), (2, 1), (3, 3)]:
        x = rng.normal(size=(3, 2, 9, 8)).astype(dtype)
        out, cache = forward(x, size, stride)
        dout = rng.normal(size=out.shape).astype(dtype)
        tx = torch.tensor(x, requires_grad=True)
        tout = torch_pool(tx, size, stride)
        tout.backward(torch.tensor(dout))
        assert_close_to_torch(out, tout, dtype)
        assert_close_to_torch(backward(dout, cache), tx.grad, dtype)


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batchnorm_affine_relu_and_loss_agree_with_torch(dtype):
    rng = np.random.default_rng(7)
    x = rng.normal(1.0, 3.0, size=(8, 3, 5, 4)).astype(dtype)
    gamma, beta = rng.normal(size=3).astype(dtype), rng.normal(size=3).astype(dtype)
    out, cache = K.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dout = rng.normal(size=x.shape).astype(dtype)
    tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    tout = torch.nn.functional.batch_norm(tx, None, None, tg, tb, training=True, eps=1e-5)
    tout.backward(torch.tensor(dout))
    assert_close_to_torch(out, tout, dtype)
    for ours, theirs in zip(K.batchnorm_backward(dout, cache), (tx.grad, tg.grad, tb.grad)):
        assert_close_to_torch(ours, theirs, dtype)

    flat, w, b = rng.normal(size=(8, 60)).astype(dtype), rng.normal(size=(60, 10)).astype(dtype), \
        rng.normal(size=10).astype(dtype)
    out, cache = K.affine_forward(flat, w, b)
    relu, relu_cache = K.relu_forward(out)
    y = rng.integers(0, 10, size=8)
    loss, dscores = K.softmax_cross_entropy(relu, y)
    tflat, tw, tbias = (torch.tensor(a, requires_grad=True) for a in (flat, w, b))
    tloss = torch.nn.functional.cross_entropy(torch.relu(tflat @ tw + tbias), torch.tensor(y))
    tloss.backward()
    assert loss == pytest.approx(tloss.item(), rel=TOLERANCE[dtype])
    dx, dw, db = K.affine_backward(K.relu_backward(dscores, relu_cache), cache)
    for ours, theirs in zip((dx, dw, db), (tflat.grad, tw.grad, tbias.grad)):
        assert_close_to_torch(ours, theirs, dtype)
