"""Typical student mistakes for assignment 02; each must score below full marks with its message.

Each ``code`` replaces the whole solution cell ``cell`` (so it keeps the correct version's validation and makes
one mistake only); ``test_cell`` must then give less than its points and print a ``[FAIL]`` line containing
``message``.
"""
ASSIGNMENT = "02_convolution"
NOTEBOOK = "convolution"


def _conv_forward(size="(H - HH + 2 * pad) // stride + 1", width="(W - WW + 2 * pad) // stride + 1",
                  start="i * stride, j * stride", kernel="w[f]", value="conv_single_step(window, {kernel}, b[f])",
                  after_images="", cache="(x, w, b, stride, pad)"):
    """conv_forward with the correct validation and the given pieces (expressions in the solution's names)."""
    value = value.format(kernel=kernel)
    return f'''def conv_forward(x, w, b, stride=1, pad=0):
    N, C, H, W = x.shape
    F, C_w, HH, WW = w.shape
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {{stride}}")
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {{pad}}")
    if C_w != C:
        raise ValueError("channel mismatch")
    if HH > H + 2 * pad or WW > W + 2 * pad:
        raise ValueError("the filter is larger than the padded input")
    H_out = {size}
    W_out = {width}
    x_pad = zero_pad(x, pad)
    out = np.zeros((N, F, H_out, W_out))
    for f in range(F):
        for n in range(N):
            for i in range(H_out):
                for j in range(W_out):
                    top, left = {start}
                    window = x_pad[n, :, top:top + HH, left:left + WW]
                    out[n, f, i, j] = {value}
{after_images}    return out, {cache}
'''


def _conv_backward(dx_update="+=", dw_update="+=", db="np.sum(dout, axis=(0, 2, 3))",
                   dx="dx_pad[:, :, pad:pad + H, pad:pad + W]"):
    """conv_backward with the given accumulation operators, db expression and dx expression."""
    return f'''def conv_backward(dout, cache):
    x, w, b, stride, pad = cache
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    x_pad = zero_pad(x, pad)
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    db = {db}
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    top, left = i * stride, j * stride
                    g = dout[n, f, i, j]
                    dw[f] {dw_update} g * x_pad[n, :, top:top + HH, left:left + WW]
                    dx_pad[n, :, top:top + HH, left:left + WW] {dx_update} g * w[f]
    return {dx}, dw, db
'''


def _im2col(fill, columns="N * H_out * W_out"):
    """im2col with the correct validation and padding; ``fill`` is the loop body that fills ``cols`` of shape
    (C, HH, WW, N, H_out, W_out) from ``x_pad`` (names of the solution); ``columns`` the final column count."""
    return f'''def im2col(x, HH, WW, stride=1, pad=0):
    N, C, H, W = x.shape
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {{stride}}")
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {{pad}}")
    if HH > H + 2 * pad or WW > W + 2 * pad:
        raise ValueError("the window is larger than the padded input")
    H_out = (H - HH + 2 * pad) // stride + 1
    W_out = (W - WW + 2 * pad) // stride + 1
    x_pad = zero_pad(x, pad)
    cols = np.empty((C, HH, WW, N, H_out, W_out), dtype=x_pad.dtype)
    for p in range(HH):
        for q in range(WW):
{fill}
    return cols.reshape(C * HH * WW, {columns})
'''


_STRIDED = ("            seen = x_pad[:, :, p:p + stride * (H_out - 1) + 1:stride, "
            "q:q + stride * (W_out - 1) + 1:stride]\n")


def _conv_forward_im2col(product, back, cache="(x, w, b, stride, pad)"):
    """conv_forward_im2col with the correct checks; ``product`` and ``back`` give out before and after reshaping."""
    return f'''def conv_forward_im2col(x, w, b, stride=1, pad=0):
    N, C, H, W = x.shape
    F, C_w, HH, WW = w.shape
    if C_w != C:
        raise ValueError("channel mismatch")
    cols = im2col(x, HH, WW, stride, pad)
    H_out = (H - HH + 2 * pad) // stride + 1
    W_out = (W - WW + 2 * pad) // stride + 1
    out = {product}
    out = {back}
    return out, {cache}
'''


MISTAKES = [
    # -- exercise 1: zero_pad ----------------------------------------------------------------------------------------
    {
        "id": "padding_on_one_side_only",
        "cell": "zero_pad",
        "code": '''def zero_pad(x, pad):
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad}")
    return np.pad(x, ((0, 0), (0, 0), (pad, 0), (pad, 0)), mode="constant")
''',
        "test_cell": "test_zero_pad",
        "message": "padding on one side only",
    },
    {
        "id": "padding_every_axis",
        "cell": "zero_pad",
        "code": '''def zero_pad(x, pad):
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad}")
    return np.pad(x, pad, mode="constant")
''',
        "test_cell": "test_zero_pad",
        "message": "pad only H and W",
    },
    # -- exercise 2: conv_single_step --------------------------------------------------------------------------------
    {
        "id": "single_step_bias_on_every_product",
        "cell": "conv_single_step",
        "code": '''def conv_single_step(x_slice, w, b):
    return float(np.sum(x_slice * w + b))
''',
        "test_cell": "test_conv_single_step",
        "message": "not to each of the products",
    },
    # -- exercise 3: conv_forward ------------------------------------------------------------------------------------
    {
        "id": "stride_forgotten_in_window_start",
        "cell": "conv_forward",
        "code": _conv_forward(start="i, j"),
        "test_cell": "test_conv_forward",
        "message": "did you forget the stride?",
    },
    {
        "id": "bias_forgotten",
        "cell": "conv_forward",
        "code": _conv_forward(value="float(np.sum(window * {kernel}))"),
        "test_cell": "test_conv_forward",
        "message": "you forgot the bias",
    },
    {
        # the bias line sits after the loop over the images: it uses the last n only
        "id": "bias_added_once_per_batch",
        "cell": "conv_forward",
        "code": _conv_forward(value="float(np.sum(window * {kernel}))", after_images="        out[n, f] += b[f]\n"),
        "test_cell": "test_conv_forward",
        "message": "the bias reaches only one image of the batch",
    },
    {
        "id": "kernel_flipped",
        "cell": "conv_forward",
        "code": _conv_forward(kernel="w[f, :, ::-1, ::-1]"),
        "test_cell": "test_conv_forward",
        "message": "your filter is flipped",
    },
    {
        "id": "output_size_rounded_up",
        "cell": "conv_forward",
        "code": _conv_forward(size="int(np.ceil((H - HH + 2 * pad) / stride)) + 1",
                              width="int(np.ceil((W - WW + 2 * pad) / stride)) + 1"),
        "test_cell": "test_conv_forward",
        "message": "the output size rounds down",
    },
    # -- exercise 4: conv_backward -----------------------------------------------------------------------------------
    {
        "id": "cache_without_stride_and_pad",
        "cell": "conv_forward",
        "code": _conv_forward(cache="(x, w, b)"),
        "test_cell": "test_conv_forward",
        "message": "the cache must carry what conv_backward needs",
    },
    {
        "id": "cache_holds_the_padded_input",
        "cell": "conv_forward",
        "code": _conv_forward(cache="(x_pad, w, b, stride, pad)"),
        "test_cell": "test_conv_forward",
        "message": "cache the input x as it was given",
    },
    {
        "id": "dx_assigned_not_accumulated",
        "cell": "conv_backward",
        "code": _conv_backward(dx_update="="),
        "test_cell": "test_conv_backward",
        "message": "dx is overwritten",
    },
    {
        "id": "dw_assigned_not_accumulated",
        "cell": "conv_backward",
        "code": _conv_backward(dw_update="="),
        "test_cell": "test_conv_backward",
        "message": "dw is overwritten",
    },
    {
        "id": "dx_returned_padded",
        "cell": "conv_backward",
        "code": _conv_backward(dx="dx_pad"),
        "test_cell": "test_conv_backward",
        "message": "dx still has the padding",
    },
    {
        "id": "db_summed_over_wrong_axes",
        "cell": "conv_backward",
        "code": _conv_backward(db="np.sum(dout, axis=(2, 3))"),
        "test_cell": "test_conv_backward",
        "message": "db is summed over the wrong axes",
    },
    {
        "id": "db_averaged_not_summed",
        "cell": "conv_backward",
        "code": _conv_backward(db="np.mean(dout, axis=(0, 2, 3))"),
        "test_cell": "test_conv_backward",
        "message": "db is the SUM of dout",
    },
    {
        "id": "db_summed_over_batch_only",
        "cell": "conv_backward",
        "code": _conv_backward(db="np.sum(dout, axis=0)"),
        "test_cell": "test_conv_backward",
        "message": "db is summed over the wrong axes",
    },
    # -- exercise 5: conv1x1, conv_mult_adds -------------------------------------------------------------------------
    {
        "id": "conv1x1_channels_last",
        "cell": "conv1x1",
        "code": '''def conv1x1(x, w, b):
    F, C, HH, WW = w.shape
    if (HH, WW) != (1, 1):
        raise ValueError("w must have shape (F, C, 1, 1)")
    if C != x.shape[1]:
        raise ValueError("channel mismatch")
    return x.transpose(0, 2, 3, 1) @ w.reshape(F, C).T + b
''',
        "test_cell": "test_conv1x1",
        "message": "return NCHW",
    },
    {
        "id": "mult_adds_without_depth",
        "cell": "conv_mult_adds",
        "code": '''def conv_mult_adds(h_out, w_out, c_in, f, n_filters):
    return int(h_out * w_out * n_filters * f * f)


def inception_3a_5x5_costs():
    direct = conv_mult_adds(28, 28, 192, 5, 32)
    reduced = conv_mult_adds(28, 28, 192, 1, 16) + conv_mult_adds(28, 28, 16, 5, 32)
    return direct, reduced
''',
        "test_cell": "test_conv_mult_adds",
        "message": "a filter spans all the input channels",
    },
    {
        "id": "reduction_layer_not_counted",
        "cell": "conv_mult_adds",
        "code": '''def conv_mult_adds(h_out, w_out, c_in, f, n_filters):
    return int(h_out * w_out * n_filters * f * f * c_in)


def inception_3a_5x5_costs():
    return conv_mult_adds(28, 28, 192, 5, 32), conv_mult_adds(28, 28, 16, 5, 32)
''',
        "test_cell": "test_conv_mult_adds",
        "message": "also pays for its 1x1 layer",
    },
    # -- exercise 6: fc_as_conv --------------------------------------------------------------------------------------
    {
        "id": "fc_weights_channels_last",
        "cell": "fc_as_conv",
        "code": '''def fc_as_conv(W_fc, b_fc, in_shape):
    C, H, W = in_shape
    units, width = W_fc.shape
    if width != C * H * W:
        raise ValueError("W_fc must have C*H*W columns")
    return W_fc.reshape(units, H, W, C).transpose(0, 3, 1, 2), b_fc.copy()
''',
        "test_cell": "test_fc_as_conv",
        "message": "vec() is row-major over (C, H, W)",
    },
    # -- exercise 7: edge_filter, blur_filter ------------------------------------------------------------------------
    {
        "id": "edge_filter_not_summing_to_zero",
        "cell": "edge_filter",
        "code": '''def edge_filter():
    return np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 2.0], [0.0, 0.0, 1.0]]).reshape(1, 1, 3, 3)
''',
        "test_cell": "test_edge_filter",
        "message": "no vertical edge",
    },
    {
        "id": "blur_not_normalised",
        "cell": "blur_filter",
        "code": '''def blur_filter(k):
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return np.ones((1, 1, k, k))
''',
        "test_cell": "test_blur_filter",
        "message": "the weights must sum to 1",
    },
    # -- exercise 8a: im2col -----------------------------------------------------------------------------------------
    {
        "id": "im2col_transposed",  # one row per window: the matrix the other way round
        "cell": "im2col",
        "code": _im2col(_STRIDED + "            cols[:, p, q] = seen.transpose(1, 0, 2, 3)").replace(
            "return cols.reshape(C * HH * WW, N * H_out * W_out)",
            "return cols.reshape(C * HH * WW, N * H_out * W_out).T"),
        "test_cell": "test_im2col",
        "message": "you returned the transpose",
    },
    {
        "id": "im2col_windows_without_stride",  # the window of (i, j) starts at (i, j)
        "cell": "im2col",
        "code": _im2col("            cols[:, p, q] = x_pad[:, :, p:p + H_out, q:q + W_out].transpose(1, 0, 2, 3)"),
        "test_cell": "test_im2col",
        "message": "did you forget the stride",
    },
    {
        "id": "im2col_channel_last_in_rows",  # rows ordered (p, q, c)
        "cell": "im2col",
        "code": _im2col(_STRIDED + "            cols[:, p, q] = seen.transpose(1, 0, 2, 3)").replace(
            "return cols.reshape(C * HH * WW, N * H_out * W_out)",
            "return cols.transpose(1, 2, 0, 3, 4, 5).reshape(C * HH * WW, N * H_out * W_out)"),
        "test_cell": "test_im2col",
        "message": "you put the channel last",
    },
    {
        "id": "im2col_image_index_last_in_columns",  # columns ordered (i, j, n)
        "cell": "im2col",
        "code": _im2col(_STRIDED + "            cols[:, p, q] = seen.transpose(1, 0, 2, 3)").replace(
            "return cols.reshape(C * HH * WW, N * H_out * W_out)",
            "return cols.transpose(0, 1, 2, 4, 5, 3).reshape(C * HH * WW, N * H_out * W_out)"),
        "test_cell": "test_im2col",
        "message": "columns are ordered n, then i, then j",
    },
    # -- exercise 8b: conv_forward_im2col ----------------------------------------------------------------------------
    {
        "id": "im2col_conv_reshape_without_transpose",  # (F, N*H'*W') reshaped straight to (N, F, H', W')
        "cell": "conv_forward_im2col",
        "code": _conv_forward_im2col("w.reshape(F, -1) @ cols + b.reshape(F, 1)", "out.reshape(N, F, H_out, W_out)"),
        "test_cell": "test_conv_forward_im2col",
        "message": "a reshape alone mixes images and filters",
    },
    {
        "id": "im2col_conv_cache_without_stride_and_pad",
        "cell": "conv_forward_im2col",
        "code": _conv_forward_im2col("w.reshape(F, -1) @ cols + b.reshape(F, 1)",
                                     "out.reshape(F, N, H_out, W_out).transpose(1, 0, 2, 3)", cache="(x, w, b)"),
        "test_cell": "test_conv_forward_im2col",
        "message": "the cache must carry what conv_backward needs",
    },
    {
        "id": "im2col_conv_filters_flipped",  # the kernel flipped before the product (a true convolution)
        "cell": "conv_forward_im2col",
        "code": _conv_forward_im2col("w[:, :, ::-1, ::-1].reshape(F, -1) @ cols + b.reshape(F, 1)",
                                     "out.reshape(F, N, H_out, W_out).transpose(1, 0, 2, 3)"),
        "test_cell": "test_conv_forward_im2col",
        "message": "your filter is flipped",
    },
]
