"""The fast kernels agree with plain loops and with numerical gradients, and reject bad arguments."""
import numpy as np
import pytest

from helpers.kernels import conv_backward, conv_forward


def loop_conv(x, w, b, stride, pad):
    """The definition, one output at a time."""
    n, _, h, width = x.shape
    f, _, hh, ww = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((n, f, (h + 2 * pad - hh) // stride + 1, (width + 2 * pad - ww) // stride + 1))
    for i in range(n):
        for k in range(f):
            for r in range(out.shape[2]):
                for c in range(out.shape[3]):
                    window = xp[i, :, r * stride:r * stride + hh, c * stride:c * stride + ww]
                    out[i, k, r, c] = np.sum(window * w[k]) + b[k]
    return out


def numerical(f, a, eps=1e-6):
    grad = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        old = a[idx]
        a[idx] = old + eps
        plus = f()
        a[idx] = old - eps
        minus = f()
        a[idx] = old
        grad[idx] = (plus - minus) / (2 * eps)
    return grad


CONFIGS = [((2, 3, 7, 5), (4, 3, 3, 2), 1, 0), ((3, 2, 8, 8), (2, 2, 3, 3), 2, 1), ((1, 1, 9, 6), (3, 1, 4, 3), 3, 2),
           ((2, 4, 5, 5), (1, 4, 5, 5), 1, 0), ((2, 2, 6, 7), (3, 2, 1, 1), 2, 0)]


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONFIGS)
def test_forward_matches_loops(x_shape, w_shape, stride, pad):
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=x_shape), rng.normal(size=w_shape), rng.normal(size=w_shape[0])
    out, _ = conv_forward(x, w, b, stride, pad)
    np.testing.assert_allclose(out, loop_conv(x, w, b, stride, pad), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONFIGS)
def test_backward_matches_numerical_gradients(x_shape, w_shape, stride, pad):
    rng = np.random.default_rng(1)
    x, w, b = rng.normal(size=x_shape), rng.normal(size=w_shape), rng.normal(size=w_shape[0])
    out, cache = conv_forward(x, w, b, stride, pad)
    dout = rng.normal(size=out.shape)
    dx, dw, db = conv_backward(dout, cache)

    def loss():
        return np.sum(loop_conv(x, w, b, stride, pad) * dout)

    for analytic, param in ((dx, x), (dw, w), (db, b)):
        assert analytic.shape == param.shape
        np.testing.assert_allclose(analytic, numerical(loss, param), rtol=1e-6, atol=1e-7)


def test_float32_stays_float32():
    x = np.ones((2, 3, 8, 8), np.float32)
    w = np.ones((4, 3, 3, 3), np.float32)
    out, cache = conv_forward(x, w, np.zeros(4, np.float32), 1, 1)
    dx, dw, db = conv_backward(np.ones_like(out), cache)
    assert out.dtype == dx.dtype == dw.dtype == db.dtype == np.float32


@pytest.mark.parametrize("x_shape, w_shape, stride, pad, words", [
    ((1, 3, 4, 4), (2, 3, 5, 5), 1, 0, "larger than the padded input"),
    ((1, 3, 4, 4), (2, 2, 3, 3), 1, 0, "channels"),
    ((1, 3, 4, 4), (2, 3, 3, 3), 0, 0, "stride"),
    ((1, 3, 4, 4), (2, 3, 3, 3), 1, -1, "pad"),
    ((3, 4, 4), (2, 3, 3, 3), 1, 0, "(N, C, H, W)"),
])
def test_bad_arguments_are_named(x_shape, w_shape, stride, pad, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        conv_forward(np.zeros(x_shape), np.zeros(w_shape), np.zeros(w_shape[0]), stride, pad)
