"""Fast layer kernels with the same signatures as the students' naive versions (NCHW).

``conv_forward(x, w, b, stride=1, pad=0) -> (out, cache)`` and ``conv_backward(dout, cache) -> (dx, dw, db)``
copy windows into columns with one strided view (im2col without a Python loop over positions) and multiply them
with the filters; at stride 1 the batch is laid out "flat" (one row per channel) so that the windows of a block
of consecutive positions are one view, copied and multiplied one cache-sized block at a time instead of all
at once (never ``np.add.at``); with few filters and no padding (LeNet-5), one copied column serves several
neighbouring positions, which makes the products taller. ``max_pool_forward`` / ``max_pool_backward`` and
``avg_pool_forward`` / ``avg_pool_backward`` (``size``, ``stride``) work offset by offset (one strided slice per
position inside a region, no copy of the windows); a max-pool region's gradient goes to its first maximum in
row-major order (as ``argmax``), also when several entries tie. Pooling and batch norm, whose time goes to reading
and writing memory, make their several passes over one cache-sized block of the batch at a time. They run on
NumPy or CuPy arrays alike (``helpers.backend``) and keep the input's dtype (float32 for training, float64 for
checking). On the CPU the blocks of convolutions, pooling and batch norm are shared among one worker thread per
core, each with a one-thread BLAS (``helpers.workers``); sums over blocks are added in the blocks' order, so that
a run repeats its numbers.
"""
import math

import numpy as np

from .backend import array_module
from .workers import WORKERS, map_blocks, one_blas_thread


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


def _im2col(xp, x_padded, hh, ww, stride, out_h, out_w):
    """The windows as columns, (N, C*HH*WW, H'*W'): column p of image n is window p flattened (c, i, j)."""
    n, c = x_padded.shape[:2]
    s_n, s_c, s_h, s_w = x_padded.strides
    view = xp.lib.stride_tricks.as_strided(
        x_padded, shape=(n, c, hh, ww, out_h, out_w),
        strides=(s_n, s_c, s_h, s_w, s_h * stride, s_w * stride))
    return xp.ascontiguousarray(view).reshape(n, c * hh * ww, out_h * out_w)


IMAGES_A_SHARE = 8  # images per piece of a product over a stack of images


def _matmul_shape(a, b):
    """The shape of xp.matmul(a, b): a 2-D or a stack (N, ., .), b likewise or 1-D."""
    if b.ndim == 1:
        return a.shape[:-1]
    return np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])


def _shared_matmul(xp, a, b, cut, share=None):
    """xp.matmul(a, b), computed in pieces dealt to the workers (helpers.workers); one product on the GPU.

    cut names the axis the pieces divide, each piece ``share`` long along it (by default one piece per worker):
    "images": a stack (N, ., .) on one side or both, the other side 2-D, cut along N;
    "rows": a (2-D) cut along its rows, b 2-D or 1-D; "columns": b (2-D) cut along its columns, so that each
    worker packs only its part of b, as BLAS's own threads would.
    """
    if xp is not np:
        return xp.matmul(a, b)
    out = xp.empty(_matmul_shape(a, b), dtype=xp.result_type(a, b))
    total = out.shape[-1] if cut == "columns" else out.shape[0]
    share = share or -(-total // WORKERS)

    def parts(piece):
        """a's, b's and out's parts for the slice ``piece`` of the cut axis."""
        if cut == "columns":
            return a, b[:, piece], out[:, piece]
        if cut == "rows":
            return a[piece], b, out[piece]
        return (a if a.ndim == 2 else a[piece]), (b if b.ndim == 2 else b[piece]), out[piece]

    def multiply(pieces):
        for piece in pieces:
            a_part, b_part, out_part = parts(piece)
            xp.matmul(a_part, b_part, out=out_part)
    map_blocks(xp, multiply, [slice(first, first + share) for first in range(0, total, share)])
    return out


def _pad(xp, x, pad):
    return xp.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x


@one_blas_thread
def conv_forward(x, w, b, stride=1, pad=0):
    """Convolution (cross-correlation) of a batch with a bank of filters.

    Strategy for stride 1 (every convolution of LeNet-5 and the mini VGG, most of ResNet's): the batch is laid
    out "flat", one row per channel holding the images one after another, each on a grid of Hp = H + pad rows by
    Wp = W + pad columns with the image at its top left and zeros in its last pad rows and columns. Those zeros
    serve twice: a row's zero columns are its right padding and the next row's left padding, an image's zero rows
    its bottom padding and the next image's top padding (pad*Wp + pad zeros before the first image do the same for
    it). The window of the output at grid position t = (n*Hp + y)*Wp + x then covers the flat columns
    t + i*Wp + j (i < HH, j < WW), so the windows of consecutive positions are one strided view. That view is
    copied into columns one block of positions at a time (small enough to stay in cache) and each block is one
    matrix product with the filters. Positions whose window runs past a row's end or into the next image are
    computed too, then dropped. A layer with few filters and no padding (LeNet-5's first) has its products made
    taller: one copied column serves 4 (or 2) neighbouring positions (``_conv_forward_phases``). Larger strides, or
    padding as wide as the filter: im2col (every window copied into columns at once) and one batched matrix product.

    Args:
        x: input (N, C, H, W); w: filters (F, C, HH, WW); b: biases (F,); stride, pad: ints.

    Returns:
        out: (N, F, H', W') with H' = (H - HH + 2*pad) // stride + 1 (likewise W');
        cache: what conv_backward needs.
    """
    xp = array_module(x, w, b)
    out_h, out_w = conv_output_shape(x.shape, w.shape, stride, pad)
    n, _, h, width = x.shape
    f, _, hh, ww = w.shape
    flat_layout = _flat_layout(stride, pad, hh, ww)
    per_column = _positions_per_column(f, width, pad, out_w) if flat_layout else 1
    if per_column > 1:
        out, phases = _conv_forward_phases(xp, x, w, b, per_column)  # phases: (C, s, L), what dw needs
        cache = (x.shape, phases, w, stride, pad)
    elif flat_layout:
        hp, wp, lead, reach = _flat_grid(h, width, pad, hh, ww)
        flat = _to_flat(xp, x, hp, wp, before=lead, after=reach - lead)  # (C, reach + N*Hp*Wp)
        out_flat = _correlate_flat(xp, flat, w.reshape(f, -1), hh, ww, wp)  # (F, reach + N*Hp*Wp)
        out = xp.empty((n, f, out_h, out_w), dtype=out_flat.dtype)
        grid = _unflatten(out_flat, n, hp, wp, out_h, out_w)
        if b.any():
            xp.add(grid, b.reshape(1, -1, 1, 1), out=out)  # one pass
        else:  # no bias (a convolution followed by batch norm): a plain copy, twice as fast as adding zeros
            out[...] = grid
        cache = (x.shape, flat, w, stride, pad)
    else:
        cols = _im2col(xp, _pad(xp, x, pad), hh, ww, stride, out_h, out_w)  # (N, C*HH*WW, H'*W')
        out = _shared_matmul(xp, w.reshape(f, -1), cols, "images", IMAGES_A_SHARE).reshape(n, f, out_h, out_w)
        out += b.reshape(1, -1, 1, 1)
        cache = (x.shape, cols, w, stride, pad)
    return out, cache


@one_blas_thread
def conv_backward(dout, cache):
    """Gradients of conv_forward.

    Stride 1: dout goes flat too, on the grid of x (zeros at the positions the forward pass dropped).
    dw contracts it with the windows of x, block by block as in the forward pass. dx is a correlation of the
    flat dout with the flipped filters (in and out channels swapped) when x has at least half as many channels
    as the output; with fewer input channels, each block's column gradients are added back window offset by
    window offset, which is cheaper there. Larger strides: dw from the cached columns, dx by one strided add per
    filter offset.

    Args:
        dout: upstream gradient (N, F, H', W'); cache: from conv_forward.

    Returns:
        dx (N, C, H, W), dw (F, C, HH, WW), db (F,).
    """
    return _conv_gradients(dout, cache, input_grad=True)


@one_blas_thread
def conv_param_grads(dout, cache):
    """dw (F, C, HH, WW) and db (F,) of conv_backward without dx: for a network's first layer, whose input is the
    images (PyTorch skips that gradient too; in LeNet-5 it is most of the first layer's backward pass)."""
    _, dw, db = _conv_gradients(dout, cache, input_grad=False)
    return dw, db


def _conv_gradients(dout, cache, input_grad):
    """(dx or None, dw, db) of conv_forward."""
    x_shape, cached, w, stride, pad = cache
    xp = array_module(dout, w)
    n, f, out_h, out_w = dout.shape
    db = _per_channel_sum(xp, dout)
    if _flat_layout(stride, pad, *w.shape[2:]):
        dx, dw = _conv_backward_flat(xp, dout, x_shape, cached, w, pad, input_grad)
    else:
        dout3 = dout.reshape(n, f, out_h * out_w)
        dw = _shared_matmul(xp, dout3, cached.transpose(0, 2, 1), "images", IMAGES_A_SHARE).sum(axis=0).reshape(w.shape)
        dx = _col2im(xp, dout3, w, x_shape, stride, pad, out_h, out_w) if input_grad else None
    return dx, dw, db


# Numbers held by one block of copied windows (4 MB in float32): small enough to stay in the processor's cache
# while it is multiplied, large enough that a layer takes few matrix products. Measured on training steps at batch
# 128 (2 cores of an AMD EPYC, medians of 15 alternated steps): ResNet-20 455 ms with 4 MB, 523 with 8, 597 with 16,
# 512 with 2; the mini VGG 292 / 303 / 320 / 314.
BLOCK_NUMBERS = 2 ** 20
MIN_BLOCK = 256  # positions: never fewer per block
# Products with few filters (LeNet-5's first layer has 6) are thin matrices, which OpenBLAS multiplies 2-3x faster
# with its kernel for small products, used up to about a million multiply-adds: such layers get blocks that small.
# Measured here for 6 filters of 3x5x5: 115-136 GFLOP/s up to 2,048 positions a block, 43-47 from 3,072 up.
THIN_FILTERS = 12
SMALL_PRODUCT = 10 ** 6


def _flat_layout(stride, pad, hh, ww):
    """Whether conv_forward lays the batch out flat: stride 1 and padding narrower than the filter (the zero rows
    and columns shared by neighbours then cover every window)."""
    return stride == 1 and pad < min(hh, ww)


def _flat_grid(h, width, pad, hh, ww):
    """(hp, wp, lead, reach) of the flat layout of an h x width input: each image's grid (hp rows of wp columns),
    the zeros before the first image (its top and left padding), and the flat distance from a window's first column
    to its last."""
    hp, wp = h + pad, width + pad
    return hp, wp, pad * wp + pad, (hh - 1) * wp + (ww - 1)


def _to_flat(xp, a, hp, wp, before=0, after=0):
    """(N, C, h, w) -> flat (C, before + N*hp*wp + after): each image of `a` at the top left of its hp x wp grid,
    zeros everywhere else, after `before` zero columns and followed by `after` zero columns."""
    n, c, h, width = a.shape
    flat = xp.zeros((c, before + n * hp * wp + after), dtype=a.dtype)
    grid = flat[:, before:before + n * hp * wp].reshape(c, n, hp, wp)
    grid[:, :, :h, :width] = a.transpose(1, 0, 2, 3)
    return flat


def _unflatten(flat, n, hp, wp, h, width):
    """The inverse of _to_flat as a view: the first N*hp*wp columns of flat (C, L) -> (N, C, h, width), the top left
    of each grid."""
    grid = flat[:, :n * hp * wp].reshape(-1, n, hp, wp)[:, :, :h, :width]
    return grid.transpose(1, 0, 2, 3)


def _block_size(positions, rows, filters):
    """Positions in each block of _blocks: about BLOCK_NUMBERS / rows (rows: of the copied windows; filters: of the
    matrix they are multiplied with)."""
    size = BLOCK_NUMBERS // rows
    if filters < THIN_FILTERS:
        size = min(size, SMALL_PRODUCT // (rows * filters))
    return max(MIN_BLOCK, size)


def _even_split(total, size):
    """The size of equal parts of total, about `size` each, in a number of parts that the workers share evenly
    (helpers.workers): 2 blocks of 64 rather than one of 83 and one of 45."""
    parts = -(-total // size)
    parts = -(-parts // WORKERS) * WORKERS
    return -(-total // parts)


def _blocks(positions, rows, filters):
    """(start, stop) of consecutive blocks of about _block_size positions covering range(positions)."""
    size = _even_split(positions, _block_size(positions, rows, filters))
    return [(start, min(start + size, positions)) for start in range(0, positions, size)]


def _image_blocks(n, per_image, rows, filters):
    """(first, stop) of consecutive ranges of whole images covering range(n), each about as many positions as a
    block of _blocks (at least one image): for a layout with per_image positions an image."""
    images = _even_split(n, max(1, _block_size(n * per_image, rows, filters) // per_image))
    return [(first, min(first + images, n)) for first in range(0, n, images)]


def _windows(xp, flat, hh, ww, wp, start, stop):
    """The windows at flat positions start..stop-1 as a view (C, HH, WW, stop - start) of flat (C, L):
    [c, i, j, t] is flat[c, start + t + i*wp + j]."""
    s_c, s_t = flat.strides
    return xp.lib.stride_tricks.as_strided(flat[:, start:], shape=(flat.shape[0], hh, ww, stop - start),
                                           strides=(s_c, s_t * wp, s_t, s_t))


def _correlate_flat(xp, flat, w_mat, hh, ww, wp):
    """out[:, t] = w_mat @ (the window at flat position t, flattened (c, i, j)), block by block.

    Args:
        flat: (C, L); w_mat: (F, C*HH*WW); hh, ww: the window; wp: the flat distance between rows.

    Returns:
        (F, L) in which the last (HH-1)*wp + WW-1 columns (windows past the end) are left unset: no caller
        reads them.
    """
    c, length = flat.shape
    out = xp.empty((w_mat.shape[0], length), dtype=xp.result_type(w_mat, flat))
    blocks = _blocks(length - (hh - 1) * wp - (ww - 1), w_mat.shape[1], w_mat.shape[0])

    def correlate(share):  # one worker's blocks (helpers.workers)
        buffer = xp.empty((c, hh, ww, blocks[0][1]), dtype=flat.dtype)  # reused by each of them
        for start, stop in share:
            cols = buffer[..., :stop - start]
            xp.copyto(cols, _windows(xp, flat, hh, ww, wp, start, stop))
            xp.matmul(w_mat, cols.reshape(-1, stop - start), out=out[:, start:stop])
    map_blocks(xp, correlate, blocks)
    return out


def _conv_backward_flat(xp, dout, x_shape, flat, w, pad, input_grad):
    """dx (N, C, H, W) (None unless input_grad) and dw (F, C, HH, WW) of a stride-1 convolution, from the flat
    input it cached (or its phases, _conv_forward_phases)."""
    n, c, h, width = x_shape
    f, _, hh, ww = w.shape
    hp, wp, lead, reach = _flat_grid(h, width, pad, hh, ww)
    # positions per column: the forward pass's when it took phases; for dx, wherever the widths allow
    per_column = flat.shape[1] if flat.ndim == 3 else _phase_count(width, dout.shape[3]) if pad == 0 else 1
    dx_by_phases = input_grad and c < f and per_column > 1
    if flat.ndim == 3 or dx_by_phases:
        # dout on the phases' grid, once for dw and dx: every row of x when dx needs it (its additions then run over
        # contiguous columns), the output rows alone when only dw does (the forward pass's columns)
        rows = h if dx_by_phases else dout.shape[2]
        on_phases = _dout_on_phases(xp, dout, rows, width // per_column, per_column)  # (N, rows, W/s, s*F)
    # dout on the same grid as x (output t's window starts at flat column t), after reach - lead zeros
    if flat.ndim == 2 or (input_grad and not dx_by_phases):
        dout_flat = _to_flat(xp, dout, hp, wp, before=reach - lead)
    if flat.ndim == 3:
        dw = _phases_dw(xp, on_phases, flat, w, x_shape)
    else:
        dw = _flat_dw(xp, dout_flat[:, reach - lead:], flat, w, wp)
    if not input_grad:
        return None, dw
    if dx_by_phases:
        return _phases_dx(xp, on_phases, x_shape, w, per_column), dw
    if 2 * c >= f:  # measured here (ms, 128 images): 64>128 at 8x8 19-21 against 24-26 added back, 16>32 at 32x32
        # 27-28 against 29-30; 3>32 at 32x32 25 against 12, 6>16 at 14x14 3.7 against 2.8 (thin products)
        # dx at grid position s gathers w[:, :, i, j].T @ dout at s + lead - i*wp - j: dout's window at s, flipped
        flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3).reshape(c, -1)  # (C, F*HH*WW)
        dx_flat = _correlate_flat(xp, dout_flat, flipped, hh, ww, wp)  # (C, reach - lead + N*hp*wp)
        return xp.ascontiguousarray(_unflatten(dx_flat, n, hp, wp, h, width)), dw
    # the column gradients w_mat.T @ dout of each block, added to the window they came from (laid out as x's flat
    # input, whose leading zeros are then dropped)
    grad = dout_flat[:, reach - lead:]
    dx_flat = xp.zeros((c, reach + n * hp * wp), dtype=xp.result_type(w, dout))
    w_mat = w.reshape(f, -1)

    def add_back(share):
        for start, stop in share:
            dcols = (w_mat.T @ grad[:, start:stop]).reshape(c, hh, ww, stop - start)
            for i in range(hh):
                for j in range(ww):
                    dx_flat[:, start + i * wp + j:stop + i * wp + j] += dcols[:, i, j]
    _add_in_two_rounds(xp, add_back, _blocks(n * hp * wp, c * hh * ww, f), reach)
    return xp.ascontiguousarray(_unflatten(dx_flat[:, lead:], n, hp, wp, h, width)), dw


def _add_in_two_rounds(xp, add_back, blocks, reach):
    """add_back(share) for the workers' shares of blocks (start, stop), each of which adds into columns
    start..stop - 1 + reach of one array, overlapping the next block's. When the blocks are at least reach long,
    block k + 2 starts past block k's last column: the even blocks run first, then the odd ones, and no two
    workers add to the same numbers. Shorter blocks (images wider than a few hundred columns) run in turn."""
    if blocks[0][1] - blocks[0][0] < reach:
        add_back(blocks)
        return
    map_blocks(xp, add_back, blocks[0::2])
    map_blocks(xp, add_back, blocks[1::2])


def _flat_dw(xp, grad, flat, w, wp):
    """dw (F, C, HH, WW) from dout on the flat grid, grad (F, N*hp*wp), and the flat input (C, L), block by block."""
    f, c, hh, ww = w.shape
    blocks = _blocks(grad.shape[1], c * hh * ww, f)

    def contract(share):  # (block's start, its part of dw transposed, (C*HH*WW, F): BLAS is faster so) pairs
        buffer, parts = xp.empty((c, hh, ww, blocks[0][1]), dtype=flat.dtype), []
        for start, stop in share:
            cols = buffer[..., :stop - start]
            xp.copyto(cols, _windows(xp, flat, hh, ww, wp, start, stop))
            parts.append((start, cols.reshape(-1, stop - start) @ grad[:, start:stop].T))
        return parts
    return xp.ascontiguousarray(_sum_in_block_order(map_blocks(xp, contract, blocks)).T).reshape(w.shape)


# Few filters make a thin product (F rows), which OpenBLAS multiplies slowly: 26-38 GFLOP/s for LeNet-5's 6 filters
# of 3x5x5 on 2 cores of an AMD EPYC (Zen 3) whose sgemm peak is 185, whatever the block size. One column can
# serve s neighbouring positions of a row instead: it holds the union of their windows (C x HH x (WW + s - 1)
# numbers instead of s * C*HH*WW) and the filter matrix gets s*F columns, filter f shifted right by 0..s-1 columns.
# For 5x5 filters and s = 4 that is 8/5 of the multiplications in a 4x taller product (positions x 120 by 120 x 24:
# 74-129 GFLOP/s there, with the machine's speed of the moment) and 2.5x fewer numbers copied: LeNet-5's first
# layer, forward 8.5 -> 5.2 ms and dw 7.5 -> 4.5, measured there. Its second (16 filters of 6x5x5, s = 2) gains
# less (forward 2.9 -> 2.75 ms, dw 2.7 -> 2.4); more filters make products tall enough already. The grid rows
# without output (the last HH - 1 of each image) get no columns: forward and dw a further 10-23 % faster.
PHASES = (4, 2)
PHASE_FILTERS = 16  # at most


def _positions_per_column(f, width, pad, out_w):
    """s: how many neighbouring positions of a row one copied column serves in a stride-1 convolution with f
    filters (1: one window per column, the flat layout). More than 1 only for at most PHASE_FILTERS filters and no
    padding (then _phase_count)."""
    return 1 if f > PHASE_FILTERS or pad else _phase_count(width, out_w)


def _phase_count(width, out_w):
    """The largest s of PHASES that divides the input's and the output's widths, or 1."""
    return next((s for s in PHASES if width % s == 0 and out_w % s == 0), 1)


def _to_phases(xp, x, s, after):
    """(N, C, H, W) -> (C, s, N*H*W/s + after): the flat layout without padding (one row per channel, the images one
    after another) split into its s phases, [c, r, m] = flat column s*m + r of channel c, then `after` zeros."""
    n, c, h, width = x.shape
    length = n * h * width // s
    phases = xp.empty((c, s, length + after), dtype=x.dtype)
    phases[:, :, length:] = 0
    grid = phases[:, :, :length].reshape(c, s, n, h, width // s)  # [c, r, n, y, k]: x[n, c, y, s*k + r]
    grid[...] = x.reshape(n, c, h, width // s, s).transpose(1, 4, 0, 2, 3)
    return phases


def _phase_geometry(width, ww, s):
    """(row, q): an image row in phase columns, and the window's width in steps of s covering the s windows that
    one column serves (WW + s - 1 columns, rounded up)."""
    return width // s, -(-(ww + s - 1) // s)


def _phase_columns(xp, buffer, phases, hh, q, row, h, first, stop):
    """The columns of images first..stop-1, copied into the start of buffer (1-D): (C*HH*q*s, (stop - first)*P)
    with P = (H - HH + 1) * row, the positions of an image's output rows (its last HH - 1 rows have no output).

    Column (m, y, k) of image first + m serves the s positions t = ((first + m)*H + y)*row + k of the phases'
    grid, flat columns s*t + 0..s-1: its row (c, i, k', r) is flat column s*t + i*W + s*k' + r, phase column
    t + i*row + k' of phase r. The images' positions are P consecutive columns each, H*row apart: one strided view.
    """
    c, s, _ = phases.shape
    per_image = (h - hh + 1) * row
    shape = (c, hh, q, s, stop - first, per_image)
    cols = buffer[:math.prod(shape)].reshape(shape)
    s_c, s_r, s_m = phases.strides
    xp.copyto(cols, xp.lib.stride_tricks.as_strided(phases[:, :, first * h * row:], shape=shape,
                                                    strides=(s_c, s_m * row, s_m, s_r, s_m * h * row, s_m)))
    return cols.reshape(-1, (stop - first) * per_image)


def _spread_filters(xp, w, s, q):
    """(C*HH*q*s, s*F): column r*F + f is filter f shifted right by r columns inside a window q*s columns wide (zeros
    elsewhere), so that a copied column's product with column r*F + f is output f at position r of its s."""
    f, c, hh, ww = w.shape
    spread = xp.zeros((c, hh, q * s, s, f), dtype=w.dtype)
    for r in range(s):
        spread[:, :, r:r + ww, r] = w.transpose(1, 2, 3, 0)
    return spread.reshape(-1, s * f)


def _conv_forward_phases(xp, x, w, b, s):
    """out (N, F, H', W') and the phases of x (what dw needs) of a convolution with stride 1, no padding and s
    positions per column (_positions_per_column)."""
    n, c, h, width = x.shape
    f, _, hh, ww = w.shape
    out_h, out_w = h - hh + 1, width - ww + 1
    row, q = _phase_geometry(width, ww, s)
    per_image = out_h * row  # columns of an image: s grid positions each, in its output rows only
    phases = _to_phases(xp, x, s, after=q - 1)  # what the last image's windows reach past its end
    spread = _spread_filters(xp, w, s, q)
    # positions first: OpenBLAS multiplies this orientation faster, and the outputs of a row end up side by side
    out_t = xp.empty((n * per_image, s * f), dtype=xp.result_type(x, w))
    blocks = _image_blocks(n, per_image, spread.shape[0], spread.shape[1])

    def correlate(share):  # one worker's blocks (helpers.workers)
        buffer = xp.empty(spread.shape[0] * blocks[0][1] * per_image, dtype=x.dtype)
        for first, stop in share:
            cols = _phase_columns(xp, buffer, phases, hh, q, row, h, first, stop)
            xp.matmul(cols.T, spread, out=out_t[first * per_image:stop * per_image])
    map_blocks(xp, correlate, blocks)
    # out[n, f, y, s*k + r] = out_t[(n*H' + y)*row + k, r*F + f]; positions past a row's output are dropped
    grid = out_t.reshape(n, out_h, row, s, f)[:, :, :out_w // s].transpose(0, 4, 1, 2, 3)
    out = xp.empty((n, f, out_h, out_w), dtype=out_t.dtype)
    xp.add(grid, b.reshape(1, -1, 1, 1, 1), out=out.reshape(n, f, out_h, out_w // s, s))
    return out, phases


def _phases_dw(xp, grad, phases, w, x_shape):
    """dw (F, C, HH, WW) of _conv_forward_phases from dout on the phases' grid, grad (N, rows, W/s, s*F) with rows
    >= H' (_dout_on_phases), and the phases of x (N, C, H, W) it cached. Only the output rows of grad are read."""
    c, s, _ = phases.shape
    n, _, h, width = x_shape
    f, _, hh, ww = w.shape
    row, q = _phase_geometry(width, ww, s)
    out_h = h - hh + 1
    blocks = _image_blocks(n, out_h * row, c * hh * q * s, s * f)

    def contract(share):  # (block's first image, its part of the spread filters' gradient) pairs
        buffer, parts = xp.empty(c * hh * q * s * blocks[0][1] * out_h * row, dtype=phases.dtype), []
        for first, stop in share:
            cols = _phase_columns(xp, buffer, phases, hh, q, row, h, first, stop)
            # grad's output rows: a view when it has no other rows
            parts.append((first, cols @ grad[first:stop, :out_h].reshape(-1, s * f)))
        return parts
    dspread = _sum_in_block_order(map_blocks(xp, contract, blocks))
    # filter f's column j gathers from every shifted copy r: dspread row (c, i, j + r), column r*F + f
    dspread = dspread.reshape(c, hh, q * s, s, f)
    dw = sum(dspread[:, :, r:r + ww, r] for r in range(s))  # (C, HH, WW, F)
    return xp.ascontiguousarray(dw.transpose(3, 0, 1, 2))


def _dout_on_phases(xp, dout, rows, row, s):
    """dout (N, F, H', W') on a grid of rows >= H' rows of row columns an image, zeros where no output is:
    (N, rows, row, s*F), [n, y, k, r*F + f] = dout[n, f, y, s*k + r]. With rows = H' these are the columns of
    _conv_forward_phases; with rows = H, every position of x's phases (what _phases_dx adds back)."""
    n, f, out_h, out_w = dout.shape
    grad = xp.zeros((n, rows, row, s, f), dtype=dout.dtype)
    grad[:, :out_h, :out_w // s] = dout.reshape(n, f, out_h, out_w // s, s).transpose(0, 2, 3, 4, 1)
    return grad.reshape(n, rows, row, s * f)


def _phases_dx(xp, grad, x_shape, w, s):
    """dx (N, C, H, W) of a stride-1 convolution without padding, from dout on every position of x's phases, s
    grid positions each: grad (N, H, W/s, s*F) (_dout_on_phases with rows = H). Each block's column gradients (the
    spread filters times dout at their s positions) are added back to the union of the s windows, offset by
    offset, in the phases of x. For fewer input than output channels: the products are s times deeper and there
    are HH*q additions of s-row slices instead of HH*WW of single rows. (Every row, unlike the forward pass: the
    additions then run over contiguous columns. Skipping the rows without output made them strided, and LeNet-5's
    first layer's backward pass 23 % slower, measured.)"""
    n, c, h, width = x_shape
    f, _, hh, ww = w.shape
    row, q = _phase_geometry(width, ww, s)
    positions = n * h * row
    grad = grad.reshape(positions, -1)
    spread = _spread_filters(xp, w, s, q)  # (C*HH*q*s, s*F)
    dx_phases = xp.zeros((c, s, positions + (hh - 1) * row + q), dtype=xp.result_type(w, grad))

    def add_back(share):
        for start, stop in share:
            dcols = (spread @ grad[start:stop].T).reshape(c, hh, q, s, stop - start)
            for i in range(hh):
                for k in range(q):
                    dx_phases[:, :, start + i * row + k:stop + i * row + k] += dcols[:, i, k]
    _add_in_two_rounds(xp, add_back, _blocks(positions, spread.shape[0], spread.shape[1]), (hh - 1) * row + q - 1)
    # dx[n, c, y, s*k + r] = dx_phases[c, r, (n*H + y)*row + k]; the columns past the last image get no gradient
    grid = dx_phases[:, :, :positions].reshape(c, s, n, h, row).transpose(2, 0, 3, 4, 1)
    return xp.ascontiguousarray(grid).reshape(n, c, h, width)


def _col2im(xp, dout3, w, x_shape, stride, pad, out_h, out_w):
    """dx (N, C, H, W) from dout (N, F, H'*W'): the column gradients, ordered (offset i, offset j, channel) so
    that each offset's block is contiguous, then one strided add per filter offset."""
    n, c, h, width = x_shape
    f, _, hh, ww = w.shape
    w_offsets = xp.ascontiguousarray(w.transpose(2, 3, 1, 0)).reshape(hh * ww * c, f)
    dcols = _shared_matmul(xp, w_offsets, dout3, "images", IMAGES_A_SHARE).reshape(n, hh, ww, c, out_h, out_w)
    dx_padded = xp.zeros((n, c, h + 2 * pad, width + 2 * pad), dtype=dcols.dtype)
    for i in range(hh):
        for j in range(ww):
            dx_padded[:, :, i:i + stride * out_h:stride, j:j + stride * out_w:stride] += dcols[:, i, j]
    return dx_padded[:, :, pad:pad + h, pad:pad + width] if pad else dx_padded


def pool_output_shape(x_shape, size, stride):
    """(H', W') of a pooling layer, after checking the arguments (ValueError naming the rule broken)."""
    if len(x_shape) != 4:
        raise ValueError(f"x must be (N, C, H, W); got shape {x_shape}")
    if size < 1 or stride < 1:
        raise ValueError(f"size and stride must be at least 1, got size={size}, stride={stride}")
    if size > x_shape[2] or size > x_shape[3]:
        raise ValueError(f"the pooling region ({size}x{size}) is larger than the input ({x_shape[2]}x{x_shape[3]})")
    return (x_shape[2] - size) // stride + 1, (x_shape[3] - size) // stride + 1


def _offset_slices(out_h, out_w, size, stride):
    """For each offset (i, j) of a size x size region, in row-major order, the (rows, cols) slices that pick
    element (i, j) of every region: x[:, :, rows, cols] has shape (N, C, H', W')."""
    return [(slice(i, i + stride * (out_h - 1) + 1, stride), slice(j, j + stride * (out_w - 1) + 1, stride))
            for i in range(size) for j in range(size)]


# Numbers of one batch block in the memory-bound layers (pooling, batch norm): 1 MB in float32, so that the several
# passes a layer makes over a block find it in the processor's cache instead of reading memory again. Measured here
# (AMD EPYC, 2 cores, medians of 15): max pooling forward at (128, 32, 32, 32) 40 ms in one block, 7 ms in blocks of
# 8 images (2^18 numbers), 14 ms with 4 or 16 on a busier minute; its backward 9.4 -> 5.0 ms.
CACHE_NUMBERS = 2 ** 18


def _block_rows(shape):
    """Examples in one batch block of an array of ``shape``: about CACHE_NUMBERS numbers, at least one, at most
    the batch."""
    return min(shape[0], max(1, CACHE_NUMBERS // math.prod(shape[1:])))


def _batch_blocks(xp, shape):
    """Slices of the batch axis covering range(shape[0]), each _block_rows(shape) examples (the last may have
    fewer). On the GPU one slice holds the whole batch: it has no such cache to fit, and every block is a kernel
    launch."""
    if xp is not np:
        return [slice(None)]
    size = _block_rows(shape)
    return [slice(start, start + size) for start in range(0, shape[0], size)]


def _each_batch_block(xp, shape, work):
    """[work(block) for block in _batch_blocks(xp, shape)], in that order, the blocks shared among the workers
    (helpers.workers): work must only write its own block."""
    shares = map_blocks(xp, lambda share: [(block.start or 0, work(block)) for block in share],
                        _batch_blocks(xp, shape))
    return _in_block_order(shares)


def _in_block_order(shares):
    """The results of the workers' (block's start, result) pairs, in the blocks' order."""
    return [result for _, result in sorted((pair for share in shares for pair in share), key=lambda pair: pair[0])]


def _sum_in_block_order(shares):
    """The sum of the workers' partial results, added in the blocks' order whichever worker made each: the same
    numbers in every run (a training run with a seed gives the same losses)."""
    return sum(_in_block_order(shares))


def max_pool_forward(x, size=2, stride=2):
    """Max pooling over size x size regions.

    Works one block of images at a time (small enough to stay in cache) and, in a block, offset by offset: for each
    of the size * size positions inside a region, one strided slice holds that position of every region; a running
    maximum over the slices (strictly greater replaces) keeps the first maximum in row-major order, whose offset is
    remembered for the backward pass.

    Args:
        x: (N, C, H, W); size: region side; stride: step between regions.

    Returns:
        out (N, C, H', W') with H' = (H - size) // stride + 1; cache for max_pool_backward.
    """
    xp = array_module(x)
    out_h, out_w = pool_output_shape(x.shape, size, stride)
    slices = _offset_slices(out_h, out_w, size, stride)
    out = xp.empty((*x.shape[:2], out_h, out_w), dtype=x.dtype)
    first_max = xp.zeros(out.shape, dtype=xp.uint8 if size * size < 256 else xp.int32)
    _each_batch_block(xp, x.shape, lambda block: _running_max(xp, x[block], slices, out[block], first_max[block]))
    return out, (x.shape, first_max, size, stride)


def _running_max(xp, x, slices, out, first_max):
    """Writes the maximum of each region of x into out (N, C, H', W') and the offset of its first maximum into
    first_max (zeros on entry)."""
    (rows, cols), *rest = slices
    out[...] = x[:, :, rows, cols]
    for k, (rows, cols) in enumerate(rest, start=1):
        candidate = x[:, :, rows, cols]
        greater = candidate > out  # strictly: on a tie the earlier offset stays
        # first_max = k where greater: k is above every earlier offset, so a maximum does it (np.where is 30x slower)
        xp.maximum(first_max, xp.multiply(greater, k, dtype=first_max.dtype), out=first_max)
        xp.maximum(out, candidate, out=out)


def _pool_gradient_array(xp, x_shape, dout, size, stride):
    """The array a pooling layer's backward pass fills: uninitialised when its regions tile the input exactly
    (stride = size dividing H and W: the offsets' slices then write every input once), zeros otherwise. Zeroing
    16.8 MB, (128, 32, 32, 32) in float32, costs 1.2 ms here, a tenth of the max-pool backward pass."""
    out_h, out_w = dout.shape[2:]
    tiled = stride == size and x_shape[2] == out_h * size and x_shape[3] == out_w * size
    return (xp.empty if tiled else xp.zeros)(x_shape, dtype=dout.dtype)


def max_pool_backward(dout, cache):
    """dx (N, C, H, W) of max_pool_forward: each region's gradient to its first maximum (summed where
    overlapping regions share an input), one block of images at a time."""
    xp = array_module(dout)
    x_shape, first_max, size, stride = cache
    dx = _pool_gradient_array(xp, x_shape, dout, size, stride)
    slices = _offset_slices(*dout.shape[2:], size, stride)

    def route(block):
        for k, (rows, cols) in enumerate(slices):
            # dout where the region's first maximum sits at offset k, 0 elsewhere
            if stride >= size:  # regions do not overlap: each input gets at most one gradient, written in place
                xp.multiply(dout[block], first_max[block] == k, out=dx[block, :, rows, cols])
            else:
                dx[block, :, rows, cols] += dout[block] * (first_max[block] == k)
    _each_batch_block(xp, x_shape, route)
    return dx


def avg_pool_forward(x, size=2, stride=2):
    """Average pooling over size x size regions, one block of images at a time; same shapes as max_pool_forward."""
    xp = array_module(x)
    out_h, out_w = pool_output_shape(x.shape, size, stride)
    slices = _offset_slices(out_h, out_w, size, stride)
    out = xp.empty((*x.shape[:2], out_h, out_w), dtype=x.dtype)

    def average(block):
        total = out[block]
        (rows, cols), *rest = slices
        total[...] = x[block, :, rows, cols]
        for rows, cols in rest:
            total += x[block, :, rows, cols]
        total /= size * size
    _each_batch_block(xp, x.shape, average)
    return out, (x.shape, size, stride)


def avg_pool_backward(dout, cache):
    """dx (N, C, H, W) of avg_pool_forward: each region's gradient shared equally by its size * size inputs."""
    xp = array_module(dout)
    x_shape, size, stride = cache
    dx = _pool_gradient_array(xp, x_shape, dout, size, stride)
    slices = _offset_slices(*dout.shape[2:], size, stride)

    def spread(block):
        share = dout[block] / (size * size)
        for rows, cols in slices:
            if stride >= size:  # regions do not overlap: each input gets one share at most
                dx[block, :, rows, cols] = share
            else:
                dx[block, :, rows, cols] += share
    _each_batch_block(xp, x_shape, spread)
    return dx


def relu_forward(x):
    """ReLU: out = max(x, 0), same shape as x; cache for relu_backward."""
    return array_module(x).maximum(x, 0), x


def relu_backward(dout, cache):
    """dx of relu_forward: dout where the input was positive, 0 elsewhere (also at exactly 0)."""
    return dout * (cache > 0)


@one_blas_thread
def affine_forward(x, w, b):
    """Fully connected layer.

    Args:
        x: (N, d_1, ..., d_k), flattened row-major to (N, D) with D = d_1 * ... * d_k; w: (D, M); b: (M,).

    Returns:
        out (N, M) = x.reshape(N, D) @ w + b; cache for affine_backward.
    """
    x2 = x.reshape(x.shape[0], -1)
    if x2.shape[1] != w.shape[0]:
        raise ValueError(f"x has {x2.shape[1]} features per example but w expects {w.shape[0]}")
    return _affine_matmul(array_module(x, w), x2, w) + b, (x, w)


@one_blas_thread
def affine_backward(dout, cache):
    """Gradients of affine_forward: dx (x's shape), dw (D, M), db (M,)."""
    x, w = cache
    xp = array_module(dout, w)
    x2 = x.reshape(x.shape[0], -1)
    return _affine_matmul(xp, dout, w.T).reshape(x.shape), _affine_matmul(xp, x2.T, dout), dout.sum(axis=0)


SHARED_PRODUCT = 2 ** 24  # multiply-adds: smaller products are not worth handing to another thread


def _affine_matmul(xp, a, b):
    """a @ b (2-D), b's columns shared among the workers when the product is large (sharing a's rows instead made
    each worker pack all of b, and the affine layer no faster). LeNet-5's small layers (128 x 400 by 400 x 120 and
    less) took 2 ms more a step when shared."""
    if a.shape[0] * a.shape[1] * b.shape[1] < SHARED_PRODUCT:
        return a @ b
    return _shared_matmul(xp, a, b, "columns")


def _bn_shape(x):
    """The shape that broadcasts a per-channel (C,) array against x: (1, C, 1, 1) for (N, C, H, W), (1, D) for
    (N, D)."""
    if x.ndim == 4:
        return (1, -1, 1, 1)
    if x.ndim == 2:
        return (1, -1)
    raise ValueError(f"batch norm takes x of shape (N, C, H, W) or (N, D); got {x.shape}")


def _per_channel_block(xp, values, like):
    """values (C,), one per channel of ``like`` (N, C, H, W) or feature of ``like`` (N, D), laid out to operate
    with any batch block of ``like``: ``_per_channel_block(...)[:len(block)]``.

    On the CPU a contiguous array of a whole block's shape, (_block_rows, C, H, W) or (_block_rows, D): NumPy runs
    an operation between arrays of the same shape as one long loop, but an operation with a broadcast
    (1, C, 1, 1) array as one loop per example and channel, only H*W long. Measured here (medians of 201):
    adding to an (8, 32, 32, 32) block takes 38 us against 66, to a (32, 128, 8, 8) one 20 against 55. On the
    GPU values reshaped to broadcast, (1, C, 1, 1) or (1, D), over the single block.
    """
    spread = values.reshape(_bn_shape(like)).astype(like.dtype, copy=False)
    if xp is not np:
        return spread
    return np.broadcast_to(spread, (_block_rows(like.shape),) + like.shape[1:]).copy()


def _per_channel_sum(xp, a):
    """a summed over every axis but axis 1 (the channel's or feature's), (C,): as a.sum(axis=(0, 2, 3)) for
    (N, C, H, W), with the same accuracy. Each (example, channel) row is summed by a matrix-vector product with
    ones, the rows shared among the workers: measured here on (128, 32, 32, 32) in float32 with BLAS on both cores,
    0.34-0.38 ms against 1.3 for einsum("ncp->c") and 1.8 for NumPy's sum over axes 0, 2 and 3 (several passes)."""
    n, c = a.shape[:2]
    rows = a.reshape(n * c, -1)
    return _shared_matmul(xp, rows, xp.ones(rows.shape[1], dtype=a.dtype), "rows").reshape(n, c).sum(axis=0)


def _per_channel_dot(xp, a, b):
    """sum(a * b) over every axis but axis 1 (the channel's or feature's), without an a * b temporary. On the CPU
    one dot product per (example, channel) row, np.vecdot: measured here 1.2x faster than einsum("ncp,ncp->c")
    on whole arrays of 16 x 16 images or larger, 1.7-2.5x on batch blocks, the same within 8 % for 8 x 8 (CuPy
    has no vecdot)."""
    n, c = a.shape[:2]
    a, b = a.reshape(n, c, -1), b.reshape(n, c, -1)
    if xp is np:
        return np.vecdot(a, b).sum(axis=0)
    return xp.einsum("ncp,ncp->c", a, b)


@one_blas_thread
def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalisation, per channel over (N, H, W) for images or per feature over N for vectors.

    Args:
        x: (N, C, H, W) or (N, D); gamma, beta: (C,) or (D,);
        bn_param: dict with "mode" ("train" or "test"), optional "eps" (1e-5) and "momentum" (0.9), and the
            running statistics "running_mean" / "running_var" (zeros / ones when absent). In train mode the
            batch statistics normalise and the running ones are updated in the dict:
            running = momentum * running + (1 - momentum) * batch (biased batch variance).
            In test mode the running statistics normalise and nothing changes.

    Returns:
        out (x's shape); cache for batchnorm_backward.
    """
    xp = array_module(x)
    mode = bn_param.get("mode", "train")
    if mode not in ("train", "test"):
        raise ValueError(f'bn_param["mode"] must be "train" or "test"; got {mode!r}')
    _bn_shape(x)  # raises for other shapes
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    channels = x.shape[1]
    running_mean = bn_param.setdefault("running_mean", xp.zeros(channels, dtype=x.dtype))
    running_var = bn_param.setdefault("running_var", xp.ones(channels, dtype=x.dtype))
    if mode == "test":
        # out = x * scale + shift, with the running statistics folded into scale and shift (as PyTorch's inference
        # kernel does): one pass over x, and the cache keeps x itself
        inv_std = (1 / xp.sqrt(running_var + eps)).astype(x.dtype, copy=False)
        scale = gamma * inv_std
        out = _scale_and_shift(xp, x, scale, beta - running_mean * scale)
        return out, (x, running_mean, gamma, inv_std, mode)
    m = x.size // channels
    mean = _per_channel_sum(xp, x) / m
    # centred = x - mean and the sum of its squares in one pass, block by block while the block is in cache
    centred, batch_mean = xp.empty_like(x), _per_channel_block(xp, mean, x)

    def centre(block):
        part = centred[block]
        xp.subtract(x[block], batch_mean[:len(part)], out=part)
        return _per_channel_dot(xp, part, part)
    var = sum(_each_batch_block(xp, x.shape, centre)) / m  # biased: divide by m; in the blocks' order
    bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
    bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    inv_std = (1 / xp.sqrt(var + eps)).astype(x.dtype, copy=False)
    # out = gamma * x_hat + beta with x_hat = centred * inv_std, which is never stored: the cache keeps centred
    out = _scale_and_shift(xp, centred, gamma * inv_std, beta)
    return out, (centred, None, gamma, inv_std, mode)


def _scale_and_shift(xp, a, scale, shift=None):
    """a * scale (+ shift) per channel (scale, shift: (C,)), in a's dtype, one block of the batch at a time."""
    scale = _per_channel_block(xp, scale, a)
    shift = None if shift is None else _per_channel_block(xp, shift, a)
    out = xp.empty_like(a)

    def scale_block(block):
        part = out[block]
        xp.multiply(a[block], scale[:len(part)], out=part)
        if shift is not None:
            part += shift[:len(part)]
    _each_batch_block(xp, a.shape, scale_block)
    return out


@one_blas_thread
def batchnorm_backward(dout, cache):
    """Gradients of batchnorm_forward: dx (x's shape), dgamma and dbeta (C,) or (D,).

    In train mode dx accounts for the batch mean and variance depending on x; in test mode they are constants.
    """
    values, mean, gamma, inv_std, mode = cache
    xp = array_module(dout)
    dbeta = _per_channel_sum(xp, dout)
    dot = sum(_each_batch_block(xp, dout.shape, lambda block: _per_channel_dot(xp, dout[block], values[block])))
    if mode == "test":  # values is x: sum(dout * x_hat) = (sum(dout * x) - mean * sum(dout)) * inv_std
        dgamma = (dot - mean * dbeta) * inv_std
        return _scale_and_shift(xp, dout, gamma * inv_std), dgamma.astype(dout.dtype, copy=False), dbeta
    centred = values
    dgamma = dot * inv_std  # sum of dout * x_hat, x_hat = centred * inv_std
    m = dout.size // dout.shape[1]
    # dx = scale * (dout - mean(dout) - x_hat * mean(dout * x_hat)), one block of the batch at a time
    k_centred, k_mean, scale = (_per_channel_block(xp, v, dout) for v in (dgamma * inv_std / m, dbeta / m,
                                                                          gamma * inv_std))
    dx = xp.empty_like(dout)

    def dx_block(block):
        part = dx[block]
        rows = len(part)
        xp.multiply(centred[block], k_centred[:rows], out=part)
        part += k_mean[:rows]
        xp.subtract(dout[block], part, out=part)
        part *= scale[:rows]
    _each_batch_block(xp, dout.shape, dx_block)
    return dx, dgamma, dbeta


def softmax_cross_entropy(scores, y):
    """Mean softmax cross-entropy loss of a batch and its gradient.

    Args:
        scores: (N, K) class scores; y: (N,) integer labels in [0, K).

    Returns:
        loss: float, -mean_i log softmax(scores_i)[y_i] (scores shifted by their row maximum first, so large
            scores never overflow); dscores: (N, K), the gradient of that mean loss.
    """
    xp = array_module(scores)
    if scores.ndim != 2 or y.shape != (scores.shape[0],):
        raise ValueError(f"scores must be (N, K) and y (N,); got {scores.shape} and {y.shape}")
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
    n = scores.shape[0]
    rows = xp.arange(n)
    loss = -log_probs[rows, y].mean()
    dscores = xp.exp(log_probs)
    dscores[rows, y] -= 1
    return float(loss), dscores / n
