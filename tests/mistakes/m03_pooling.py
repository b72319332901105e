"""Typical student mistakes for assignment 03; each must score below full marks with its message.

Each ``code`` replaces the whole solution cell ``cell`` (so it keeps the correct version's validation and makes
one mistake only); ``test_cell`` must then give less than its points and print a ``[FAIL]`` line containing
``message``.
"""
ASSIGNMENT = "03_pooling"
NOTEBOOK = "pooling"


def _max_pool_backward(route="p, q = np.unravel_index(np.argmax(window), window.shape)\n"
                             "                    dx[n, c, top + p, left + q] += dout[n, c, i, j]"):
    return f'''def max_pool_backward(dout, cache):
    x, size, stride = cache
    N, C, H_out, W_out = dout.shape
    dx = np.zeros_like(x, dtype=float)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    top, left = i * stride, j * stride
                    window = x[n, c, top:top + size, left:left + size]
                    {route}
    return dx
'''


_AVG_FORWARD = '''def avg_pool_forward(x, size=2, stride=2):
    N, C, H, W = x.shape
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    if size > H or size > W:
        raise ValueError("the window is larger than the map")
    H_out = (H - size) // stride + 1
    W_out = (W - size) // stride + 1
    out = np.zeros((N, C, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            top, left = i * stride, j * stride
            out[:, :, i, j] = x[:, :, top:top + size, left:left + size].mean(axis=(-2, -1))
    return out, (x, size, stride)

'''


_AVG_BACKWARD = '''def avg_pool_backward(dout, cache):
    x, size, stride = cache
    _, _, H_out, W_out = dout.shape
    dx = np.zeros_like(x, dtype=float)
    for i in range(H_out):
        for j in range(W_out):
            top, left = i * stride, j * stride
            dx[:, :, top:top + size, left:left + size] += dout[:, :, i:i + 1, j:j + 1] / (size * size)
    return dx
'''


def _max_pool_matrix(row="i * w_out + j", column="(i * s + p) * w + (j * s + q)", shape="(h_out * w_out, h * w)"):
    return f'''def max_pool_matrix(H, r, s):
    h, w = H.shape
    if r < 1 or s < 1:
        raise ValueError("r and s must be >= 1")
    if r > h or r > w:
        raise ValueError("the window is larger than the map")
    h_out, w_out = (h - r) // s + 1, (w - r) // s + 1
    A = np.zeros({shape})
    for i in range(h_out):
        for j in range(w_out):
            window = H[i * s:i * s + r, j * s:j * s + r]
            p, q = np.unravel_index(np.argmax(window), window.shape)
            A[{row}, {column}] = 1.0
    return A
'''


MISTAKES = [
    # -- exercise 1a: max_pool_forward -------------------------------------------------------------------------------
    {
        "id": "pool_stride_forgotten_in_window_start",
        "cell": "max_pool_forward",
        "code": '''def max_pool_forward(x, size=2, stride=2):
    N, C, H, W = x.shape
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    if size > H or size > W:
        raise ValueError("the window is larger than the map")
    H_out = (H - size) // stride + 1
    W_out = (W - size) // stride + 1
    out = np.zeros((N, C, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            out[:, :, i, j] = x[:, :, i:i + size, j:j + size].max(axis=(-2, -1))
    return out, (x, size, stride)
''',
        "test_cell": "test_max_pool_forward",
        "message": "did you forget the stride?",
    },
    {
        "id": "max_pool_cache_without_size_and_stride",
        "cell": "max_pool_forward",
        "code": _AVG_FORWARD.replace("avg_pool_forward", "max_pool_forward").replace(".mean(", ".max(")
                            .replace("return out, (x, size, stride)", "return out, x"),
        "test_cell": "test_max_pool_forward",
        "message": "the cache must carry what max_pool_backward needs",
    },
    {
        "id": "max_pool_default_stride_one",
        "cell": "max_pool_forward",
        "code": _AVG_FORWARD.replace("avg_pool_forward(x, size=2, stride=2)", "max_pool_forward(x, size=2, stride=1)")
                            .replace(".mean(", ".max("),
        "test_cell": "test_max_pool_forward",
        "message": "the defaults are size=2, stride=2",
    },
    # -- exercise 1b: max_pool_backward ------------------------------------------------------------------------------
    {
        "id": "max_pool_dx_assigned_not_accumulated",
        "cell": "max_pool_backward",
        "code": _max_pool_backward(route="p, q = np.unravel_index(np.argmax(window), window.shape)\n"
                                         "                    dx[n, c, top + p, left + q] = dout[n, c, i, j]"),
        "test_cell": "test_max_pool_backward",
        "message": "accumulate with += instead of =",
    },
    {
        "id": "max_pool_gradient_to_every_tied_maximum",
        "cell": "max_pool_backward",
        "code": _max_pool_backward(route="mask = window == window.max()\n"
                                         "                    dx[n, c, top:top + size, left:left + size] += "
                                         "mask * dout[n, c, i, j]"),
        "test_cell": "test_max_pool_backward",
        "message": "the gradient went to every tied maximum",
    },
    # -- exercise 2: avg_pool ----------------------------------------------------------------------------------------
    {
        "id": "avg_pool_backward_not_divided",
        "cell": "avg_pool",
        "code": _AVG_FORWARD + _AVG_BACKWARD.replace(" / (size * size)", ""),
        "test_cell": "test_avg_pool",
        "message": "you forgot to divide by size*size",
    },
    {
        "id": "avg_pool_divided_by_size",
        "cell": "avg_pool",
        "code": _AVG_FORWARD.replace(".mean(axis=(-2, -1))", ".sum(axis=(-2, -1)) / size") + _AVG_BACKWARD,
        "test_cell": "test_avg_pool",
        "message": "not by size",
    },
    {
        "id": "avg_pool_cache_without_size_and_stride",
        "cell": "avg_pool",
        "code": _AVG_FORWARD.replace("return out, (x, size, stride)", "return out, (x,)") + _AVG_BACKWARD,
        "test_cell": "test_avg_pool",
        "message": "the cache must carry what avg_pool_backward needs",
    },
    # -- exercise 3: the pooling matrices ----------------------------------------------------------------------------
    {
        "id": "max_pool_matrix_column_major",
        "cell": "max_pool_matrix",
        "code": _max_pool_matrix(row="j * h_out + i", column="(j * s + q) * h + (i * s + p)"),
        "test_cell": "test_max_pool_matrix",
        "message": "vec() is row-major",
    },
    {
        "id": "max_pool_matrix_transposed",
        "cell": "max_pool_matrix",
        "code": _max_pool_matrix(row="(i * s + p) * w + (j * s + q)", column="i * w_out + j",
                                 shape="(h * w, h_out * w_out)"),
        "test_cell": "test_max_pool_matrix",
        "message": "you built its transpose",
    },
    {
        "id": "avg_pool_matrix_not_divided",
        "cell": "avg_pool_matrix",
        "code": '''def avg_pool_matrix(h, w, r, s):
    if r < 1 or s < 1:
        raise ValueError("r and s must be >= 1")
    if r > h or r > w:
        raise ValueError("the window is larger than the map")
    h_out, w_out = (h - r) // s + 1, (w - r) // s + 1
    A = np.zeros((h_out * w_out, h * w))
    for i in range(h_out):
        for j in range(w_out):
            for p in range(r):
                for q in range(r):
                    A[i * w_out + j, (i * s + p) * w + (j * s + q)] = 1.0
    return A
''',
        "test_cell": "test_avg_pool_matrix",
        "message": "not 1",
    },
    # -- exercise 4: pool_backward_via_matrix ------------------------------------------------------------------------
    {
        "id": "via_matrix_reshaped_column_major",
        "cell": "pool_backward_via_matrix",
        "code": '''def pool_backward_via_matrix(A, g, shape):
    return (A.T @ g.ravel()).reshape(shape, order="F")
''',
        "test_cell": "test_pool_backward_via_matrix",
        "message": "reshape row-major",
    },
    # -- exercise 5: tie_split_gradient ------------------------------------------------------------------------------
    {
        "id": "tie_split_not_divided",
        "cell": "tie_split_gradient",
        "code": '''def tie_split_gradient(window, g):
    return np.where(window == window.max(), g, 0.0)
''',
        "test_cell": "test_tie_split_gradient",
        "message": "each of the k tied maxima gets g / k",
    },
    # -- exercise 6: matrix_sparsity, avg_pool_as_conv ---------------------------------------------------------------
    {
        "id": "sparsity_axes_swapped",
        "cell": "matrix_sparsity",
        "code": '''def matrix_sparsity(A):
    nonzero = A != 0
    return nonzero.sum(axis=0), nonzero.sum(axis=1)
''',
        "test_cell": "test_matrix_sparsity",
        "message": "counts per ROW (axis=1)",
    },
    {
        "id": "avg_as_conv_filter_not_divided",
        "cell": "avg_pool_as_conv",
        "code": '''from helpers.kernels import conv_forward


def avg_pool_as_conv(x, size, stride):
    N, C, H, W = x.shape
    w = np.ones((1, 1, size, size))
    out, _ = conv_forward(x.reshape(N * C, 1, H, W), w, np.zeros(1), stride=stride, pad=0)
    return out.reshape(N, C, out.shape[2], out.shape[3])
''',
        "test_cell": "test_avg_pool_as_conv",
        "message": "1/size**2",
    },
]
