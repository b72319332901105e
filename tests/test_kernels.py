"""The fast kernels (convolution, max and average pooling) agree with plain loops and numerical gradients."""
import numpy as np
import pytest

from helpers.kernels import (avg_pool_backward, avg_pool_forward, conv_backward, conv_forward, conv_param_grads,
                             max_pool_backward, max_pool_forward)


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
           ((2, 4, 5, 5), (1, 4, 5, 5), 1, 0), ((2, 2, 6, 7), (3, 2, 1, 1), 2, 0),
           # stride 1 with at least half as many input as output channels: dx as a convolution of dout
           ((2, 3, 6, 7), (2, 3, 3, 2), 1, 1), ((2, 3, 5, 6), (2, 3, 2, 2), 1, 2),
           # stride 1 with fewer: each block's column gradients added back offset by offset
           ((2, 2, 6, 5), (5, 2, 3, 3), 1, 1),
           # few filters, no padding: one copied column serves 4 or 2 positions (as LeNet-5's first layer), with fewer
           # input than output channels, with more, and with a non-square input and filter
           ((2, 3, 8, 8), (5, 3, 5, 5), 1, 0), ((2, 2, 6, 6), (5, 2, 3, 3), 1, 0), ((2, 4, 5, 8), (3, 4, 2, 5), 1, 0)]


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


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONFIGS)
def test_parameter_gradients_alone_are_those_of_the_full_backward(x_shape, w_shape, stride, pad):
    """conv_param_grads (a first layer's backward: no dx) gives conv_backward's dw and db, in float32 too."""
    rng = np.random.default_rng(2)
    for dtype in (np.float64, np.float32):
        x, w, b = (rng.normal(size=s).astype(dtype) for s in (x_shape, w_shape, w_shape[:1]))
        out, cache = conv_forward(x, w, b, stride, pad)
        dout = rng.normal(size=out.shape).astype(dtype)
        _, dw, db = conv_backward(dout, cache)
        dw_alone, db_alone = conv_param_grads(dout, cache)
        assert dw_alone.dtype == dtype and dw_alone.shape == w.shape
        np.testing.assert_array_equal(dw_alone, dw)
        np.testing.assert_array_equal(db_alone, db)


@pytest.mark.parametrize("x_shape, w_shape, per_column", [
    ((2, 3, 8, 8), (5, 3, 5, 5), 4), ((2, 2, 6, 6), (5, 2, 3, 3), 2), ((2, 4, 5, 8), (3, 4, 2, 5), 4),
    ((2, 3, 7, 5), (4, 3, 3, 2), 1),  # widths 5 and 4: no s divides both
    ((2, 3, 8, 8), (17, 3, 5, 5), 1)])  # more than PHASE_FILTERS filters: products tall enough already
def test_few_filters_without_padding_serve_several_positions_per_column(x_shape, w_shape, per_column):
    """The CONFIGS above reach the several-positions path (its cache holds the input's phases) where it applies."""
    _, cache = conv_forward(np.ones(x_shape), np.ones(w_shape), np.zeros(w_shape[0]), 1, 0)
    cached = cache[1]  # (C, s, L) phases, or (C, L) flat
    assert (cached.shape[1] if cached.ndim == 3 else 1) == per_column


def test_lenet_first_layer_in_float32_agrees_with_float64():
    """LeNet-5's first layer (6 filters of 3x5x5 on 32 x 32, 4 positions per column) at a batch of 8."""
    rng = np.random.default_rng(4)
    x, w, b, dout = (rng.normal(size=s) for s in ((8, 3, 32, 32), (6, 3, 5, 5), (6,), (8, 6, 28, 28)))
    out, cache = conv_forward(x, w, b, 1, 0)
    out32, cache32 = conv_forward(*(a.astype(np.float32) for a in (x, w, b)), 1, 0)
    np.testing.assert_allclose(out32, out, rtol=1e-4, atol=1e-4)
    for grad32, grad in zip(conv_backward(dout.astype(np.float32), cache32), conv_backward(dout, cache)):
        assert grad32.dtype == np.float32
        np.testing.assert_allclose(grad32, grad, rtol=1e-4, atol=2e-3)


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


def loop_pool(x, size, stride, reduce):
    n, c, h, w = x.shape
    out = np.zeros((n, c, (h - size) // stride + 1, (w - size) // stride + 1))
    for idx in np.ndindex(out.shape):
        i, k, r, col = idx
        out[idx] = reduce(x[i, k, r * stride:r * stride + size, col * stride:col * stride + size])
    return out


POOLS = [((2, 3, 4, 4), 2, 2), ((1, 2, 7, 5), 3, 2), ((2, 1, 6, 9), 2, 3), ((1, 1, 5, 5), 5, 1),
         ((2, 2, 5, 7), 2, 2)]  # the last: regions that leave a row and a column of x out


@pytest.mark.parametrize("x_shape, size, stride", POOLS)
def test_pooling_matches_loops_and_numerical_gradients(x_shape, size, stride):
    rng = np.random.default_rng(3)
    x = rng.normal(size=x_shape)  # no ties: the max is differentiable
    for forward, backward, reduce in ((max_pool_forward, max_pool_backward, np.max),
                                      (avg_pool_forward, avg_pool_backward, np.mean)):
        out, cache = forward(x, size, stride)
        np.testing.assert_allclose(out, loop_pool(x, size, stride, reduce), rtol=1e-12)
        dout = rng.normal(size=out.shape)
        dx = backward(dout, cache)
        expected = numerical(lambda: np.sum(loop_pool(x, size, stride, reduce) * dout), x)
        np.testing.assert_allclose(dx, expected, rtol=1e-6, atol=1e-7)


def test_max_pool_ties_go_to_the_first_maximum_and_overlaps_accumulate():
    x = np.array([[[[1.0, 5.0, 5.0],
                    [5.0, 2.0, 5.0],
                    [0.0, 0.0, 0.0]]]])
    out, cache = max_pool_forward(x, size=2, stride=1)
    assert out.tolist() == [[[[5.0, 5.0], [5.0, 5.0]]]]
    dx = max_pool_backward(np.ones_like(out), cache)
    # windows at (0,0) and (0,1) both pick x[0,1] (first in row-major order); (1,0) picks x[1,0]; (1,1) x[1,2]
    assert dx[0, 0].tolist() == [[0, 2, 0], [1, 0, 1], [0, 0, 0]]


@pytest.mark.parametrize("size, stride", [(0, 1), (2, 0), (5, 1)])
def test_pooling_bad_arguments(size, stride):
    with pytest.raises(ValueError):
        max_pool_forward(np.zeros((1, 1, 4, 4)), size, stride)


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", [c for c in CONFIGS if c[2] == 1])
def test_stride_one_in_many_blocks_matches_one_block(monkeypatch, x_shape, w_shape, stride, pad):
    """Stride-1 convolutions copy the windows a block of positions at a time: tiny blocks (the last one partial)
    give the same numbers as the definition and as one block."""
    rng = np.random.default_rng(2)
    x, w, b = rng.normal(size=x_shape), rng.normal(size=w_shape), rng.normal(size=w_shape[0])
    out, cache = conv_forward(x, w, b, stride, pad)
    dout = rng.normal(size=out.shape)
    whole = conv_backward(dout, cache)
    monkeypatch.setattr("helpers.kernels.BLOCK_NUMBERS", 1)  # blocks of MIN_BLOCK = 7 positions
    monkeypatch.setattr("helpers.kernels.MIN_BLOCK", 7)
    out_blocks, cache_blocks = conv_forward(x, w, b, stride, pad)
    np.testing.assert_allclose(out_blocks, loop_conv(x, w, b, stride, pad), rtol=1e-10, atol=1e-12)
    for blocks, one in zip(conv_backward(dout, cache_blocks), whole):
        np.testing.assert_allclose(blocks, one, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cache_numbers", [1, 70])
@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2), (2, 1)])
def test_pooling_in_blocks_of_images_matches_one_block(monkeypatch, cache_numbers, size, stride):
    """Pooling works one cache-sized block of images at a time: blocks of one image, and of two with a partial
    last block (5 images of 2x4x4 = 32 numbers, 70 numbers a block), give the definition's outputs and the same
    gradients as one block, ties included (small integers tie often)."""
    rng = np.random.default_rng(4)
    x = rng.integers(0, 3, size=(5, 2, 4, 4)).astype(float)
    for forward, backward, reduce in ((max_pool_forward, max_pool_backward, np.max),
                                      (avg_pool_forward, avg_pool_backward, np.mean)):
        out, cache = forward(x, size, stride)
        dout = rng.normal(size=out.shape)
        whole = backward(dout, cache)
        with monkeypatch.context() as patch:
            patch.setattr("helpers.kernels.CACHE_NUMBERS", cache_numbers)
            out_blocks, cache_blocks = forward(x, size, stride)
            np.testing.assert_array_equal(out_blocks, loop_pool(x, size, stride, reduce))
            np.testing.assert_allclose(backward(dout, cache_blocks), whole, rtol=1e-12, atol=1e-15)
