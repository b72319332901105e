"""Fast layer kernels with the same signatures as the students' naive versions (NCHW).

``conv_forward(x, w, b, stride=1, pad=0) -> (out, cache)`` and ``conv_backward(dout, cache) -> (dx, dw, db)``
gather every window with one strided view (im2col without a Python loop over positions) and contract it with
the filters in one ``tensordot``; the backward pass scatters the window gradients back with one strided add
per filter offset (HH * WW adds, never ``np.add.at``). ``max_pool_forward`` / ``max_pool_backward`` and
``avg_pool_forward`` / ``avg_pool_backward`` (``size``, ``stride``) work the same way; a max-pool window's
gradient goes to its first maximum in row-major order (``argmax``), also when several entries tie. They run on NumPy or CuPy arrays alike
(``helpers.backend``) and keep the input's dtype (float32 for training, float64 for checking).
"""
from .backend import array_module


def conv_output_shape(x_shape, w_shape, stride, pad):
    """(H', W') of a convolution, after checking the arguments.

    Args:
        x_shape: (N, C, H, W); w_shape: (F, C, HH, WW); stride: int >= 1; pad: int >= 0.

    Raises:
        ValueError: naming the argument and the rule it broke.
    """
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError(f"x must be (N, C, H, W) and w (F, C, HH, WW); got shapes {x_shape} and {w_shape}")
    if stride < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    if pad < 0:
        raise ValueError(f"pad must be at least 0, got {pad}")
    (_, c, h, width), (_, cw, hh, ww) = x_shape, w_shape
    if c != cw:
        raise ValueError(f"x has {c} channels but the filters expect {cw}")
    if hh > h + 2 * pad or ww > width + 2 * pad:
        raise ValueError(f"the filter ({hh}x{ww}) is larger than the padded input ({h + 2 * pad}x{width + 2 * pad})")
    return (h + 2 * pad - hh) // stride + 1, (width + 2 * pad - ww) // stride + 1


def _windows(xp, x_padded, hh, ww, stride, out_h, out_w):
    """A view of shape (N, C, H', W', HH, WW): window (i, j) of every image and channel, without copying."""
    n, c = x_padded.shape[:2]
    s_n, s_c, s_h, s_w = x_padded.strides
    return xp.lib.stride_tricks.as_strided(
        x_padded, shape=(n, c, out_h, out_w, hh, ww),
        strides=(s_n, s_c, s_h * stride, s_w * stride, s_h, s_w))


def _pad(xp, x, pad):
    return xp.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x


def conv_forward(x, w, b, stride=1, pad=0):
    """Convolution (cross-correlation) of a batch with a bank of filters.

    Args:
        x: input (N, C, H, W); w: filters (F, C, HH, WW); b: biases (F,); stride, pad: ints.

    Returns:
        out: (N, F, H', W') with H' = (H - HH + 2*pad) // stride + 1 (likewise W');
        cache: what conv_backward needs.
    """
    xp = array_module(x, w, b)
    out_h, out_w = conv_output_shape(x.shape, w.shape, stride, pad)
    x_padded = _pad(xp, x, pad)
    cols = _windows(xp, x_padded, w.shape[2], w.shape[3], stride, out_h, out_w)
    out = xp.tensordot(cols, w, axes=([1, 4, 5], [1, 2, 3]))  # (N, H', W', F)
    out = out.transpose(0, 3, 1, 2) + b.reshape(1, -1, 1, 1)
    return xp.ascontiguousarray(out), (x, w, b, stride, pad)


def conv_backward(dout, cache):
    """Gradients of conv_forward.

    Args:
        dout: upstream gradient (N, F, H', W'); cache: from conv_forward.

    Returns:
        dx (N, C, H, W), dw (F, C, HH, WW), db (F,).
    """
    x, w, b, stride, pad = cache
    xp = array_module(dout, x, w)
    _, _, out_h, out_w = dout.shape
    hh, ww = w.shape[2:]
    cols = _windows(xp, _pad(xp, x, pad), hh, ww, stride, out_h, out_w)
    db = dout.sum(axis=(0, 2, 3))
    dw = xp.tensordot(dout, cols, axes=([0, 2, 3], [0, 2, 3]))  # (F, C, HH, WW)
    dcols = xp.tensordot(dout, w, axes=([1], [0]))  # (N, H', W', C, HH, WW)
    dx_padded = xp.zeros((x.shape[0], x.shape[1], x.shape[2] + 2 * pad, x.shape[3] + 2 * pad), dtype=dcols.dtype)
    for i in range(hh):
        for j in range(ww):
            dx_padded[:, :, i:i + stride * out_h:stride, j:j + stride * out_w:stride] += \
                dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    dx = dx_padded[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]] if pad else dx_padded
    return xp.ascontiguousarray(dx), dw, db


def pool_output_shape(x_shape, size, stride):
    """(H', W') of a pooling layer, after checking the arguments (ValueError naming the rule broken)."""
    if len(x_shape) != 4:
        raise ValueError(f"x must be (N, C, H, W); got shape {x_shape}")
    if size < 1 or stride < 1:
        raise ValueError(f"size and stride must be at least 1, got size={size}, stride={stride}")
    if size > x_shape[2] or size > x_shape[3]:
        raise ValueError(f"the pooling region ({size}x{size}) is larger than the input ({x_shape[2]}x{x_shape[3]})")
    return (x_shape[2] - size) // stride + 1, (x_shape[3] - size) // stride + 1


def _scatter_windows(xp, grads, x_shape, size, stride):
    """dx (N, C, H, W) from per-window gradients (N, C, H', W', size, size): one strided add per offset."""
    out_h, out_w = grads.shape[2:4]
    dx = xp.zeros(x_shape, dtype=grads.dtype)
    for i in range(size):
        for j in range(size):
            dx[:, :, i:i + stride * out_h:stride, j:j + stride * out_w:stride] += grads[:, :, :, :, i, j]
    return dx


def max_pool_forward(x, size=2, stride=2):
    """Max pooling over size x size regions.

    Args:
        x: (N, C, H, W); size: region side; stride: step between regions.

    Returns:
        out (N, C, H', W') with H' = (H - size) // stride + 1; cache for max_pool_backward.
    """
    xp = array_module(x)
    out_h, out_w = pool_output_shape(x.shape, size, stride)
    cols = _windows(xp, x, size, size, stride, out_h, out_w).reshape(*x.shape[:2], out_h, out_w, size * size)
    first_max = cols.argmax(axis=4)
    out = xp.take_along_axis(cols, first_max[..., None], axis=4)[..., 0]
    return out, (x.shape, first_max, size, stride)


def max_pool_backward(dout, cache):
    """dx (N, C, H, W) of max_pool_forward: each region's gradient to its first maximum."""
    xp = array_module(dout)
    x_shape, first_max, size, stride = cache
    offsets = xp.arange(size * size).reshape(1, 1, 1, 1, size * size)
    grads = (first_max[..., None] == offsets) * dout[..., None]
    return _scatter_windows(xp, grads.reshape(*dout.shape, size, size), x_shape, size, stride)


def avg_pool_forward(x, size=2, stride=2):
    """Average pooling over size x size regions; same shapes as max_pool_forward."""
    xp = array_module(x)
    out_h, out_w = pool_output_shape(x.shape, size, stride)
    out = _windows(xp, x, size, size, stride, out_h, out_w).mean(axis=(4, 5))
    return out, (x.shape, size, stride)


def avg_pool_backward(dout, cache):
    """dx (N, C, H, W) of avg_pool_forward: each region's gradient shared equally by its size * size inputs."""
    xp = array_module(dout)
    x_shape, size, stride = cache
    grads = xp.broadcast_to((dout / (size * size))[..., None, None], (*dout.shape, size, size))
    return _scatter_windows(xp, grads, x_shape, size, stride)
