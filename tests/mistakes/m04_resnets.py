"""Typical student mistakes for assignment 04; each must score below full marks with its message.

Each ``code`` replaces the whole solution cell ``cell`` (so it keeps the correct version's validation and makes
one mistake only); ``test_cell`` must then give less than its points and print a ``[FAIL]`` line containing
``message``. The correct functions are written once below; ``_wrong`` makes one mistake in a copy of one (and
fails at import if the text to change is not there, so the corpus cannot silently drift from the code).
"""
ASSIGNMENT = "04_resnets"
NOTEBOOK = "resnets"

_BN_FORWARD = '''def batchnorm_forward(x, gamma, beta, bn_param):
    if x.ndim != 4:
        raise ValueError("x must have shape (N, C, H, W)")
    N, C, H, W = x.shape
    if gamma.shape != (C,) or beta.shape != (C,):
        raise ValueError("gamma and beta must have shape (C,)")
    mode = bn_param.get("mode", "train")
    if mode not in ("train", "test"):
        raise ValueError("mode must be train or test")
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    running_mean = bn_param.get("running_mean", np.zeros(C))
    running_var = bn_param.get("running_var", np.ones(C))
    if mode == "train":
        mean = x.mean(axis=(0, 2, 3))
        var = x.var(axis=(0, 2, 3))
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mean, var = running_mean, running_var
    std = np.sqrt(var + eps)
    x_hat = (x - mean.reshape(1, C, 1, 1)) / std.reshape(1, C, 1, 1)
    out = gamma.reshape(1, C, 1, 1) * x_hat + beta.reshape(1, C, 1, 1)
    return out, (x_hat, gamma, std, mode)
'''

_BN_BACKWARD = '''def batchnorm_backward(dout, cache):
    x_hat, gamma, std, mode = cache
    C = dout.shape[1]
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = (dout * x_hat).sum(axis=(0, 2, 3))
    scale = (gamma / std).reshape(1, C, 1, 1)
    if mode == "test":
        return dout * scale, dgamma, dbeta
    mean_g = dout.mean(axis=(0, 2, 3), keepdims=True)
    mean_gx = (dout * x_hat).mean(axis=(0, 2, 3), keepdims=True)
    dx = scale * (dout - mean_g - x_hat * mean_gx)
    return dx, dgamma, dbeta
'''

_BLOCK_FORWARD = '''def residual_block_forward(x, params, bn_params, stride=1, residual=True):
    C = x.shape[1]
    F = params["w1"].shape[0]
    project = residual and (stride != 1 or F != C)
    if project and "ws" not in params:
        raise ValueError("the projection shortcut needs ws, gammas, betas")
    zeros = np.zeros(F)
    a, conv1 = kernels.conv_forward(x, params["w1"], zeros, stride=stride, pad=1)
    b, bn1 = batchnorm_forward(a, params["gamma1"], params["beta1"], bn_params["bn1"])
    c, relu1 = relu_forward(b)
    d, conv2 = kernels.conv_forward(c, params["w2"], zeros, stride=1, pad=1)
    f, bn2 = batchnorm_forward(d, params["gamma2"], params["beta2"], bn_params["bn2"])
    short = None
    if project:
        p, conv_s = kernels.conv_forward(x, params["ws"], zeros, stride=stride, pad=0)
        s, bn_s = batchnorm_forward(p, params["gammas"], params["betas"], bn_params["bns"])
        short = (conv_s, bn_s)
        f = f + s
    elif residual:
        f = f + x
    out, relu2 = relu_forward(f)
    return out, (conv1, bn1, relu1, conv2, bn2, relu2, short, residual)
'''

_BLOCK_BACKWARD = '''def residual_block_backward(dout, cache):
    conv1, bn1, relu1, conv2, bn2, relu2, short, residual = cache
    g = relu_backward(dout, relu2)
    grads = {}
    dd, grads["gamma2"], grads["beta2"] = batchnorm_backward(g, bn2)
    dc, grads["w2"], _ = kernels.conv_backward(dd, conv2)
    db = relu_backward(dc, relu1)
    da, grads["gamma1"], grads["beta1"] = batchnorm_backward(db, bn1)
    dx, grads["w1"], _ = kernels.conv_backward(da, conv1)
    if short is not None:
        conv_s, bn_s = short
        dp, grads["gammas"], grads["betas"] = batchnorm_backward(g, bn_s)
        dx_s, grads["ws"], _ = kernels.conv_backward(dp, conv_s)
        dx = dx + dx_s
    elif residual:
        dx = dx + g
    return dx, grads
'''

_CONV_COUNTS = '''def conv_counts(in_shape, filters, size, stride=1, pad=0, bias=True, bn=False):
    if not (isinstance(in_shape, tuple) and len(in_shape) == 3):
        raise ValueError("in_shape must be (C, H, W)")
    C, H, W = in_shape
    if size > H + 2 * pad or size > W + 2 * pad:
        raise ValueError("the filter is larger than the padded input")
    H_out = (H - size + 2 * pad) // stride + 1
    W_out = (W - size + 2 * pad) // stride + 1
    weights = size * size * C * filters
    params = weights + (filters if bias else 0) + (2 * filters if bn else 0)
    return (filters, H_out, W_out), params, H_out * W_out * weights
'''

_POOL_FC_COUNTS = '''def pool_counts(in_shape, size, stride=None, pad=0, mode="max"):
    C, H, W = in_shape
    if size is None:
        return (C, 1, 1), 0, 0
    stride = size if stride is None else stride
    return (C, (H - size + 2 * pad) // stride + 1, (W - size + 2 * pad) // stride + 1), 0, 0


def fc_counts(in_shape, units, bias=True):
    D = int(np.prod(in_shape))
    return (units,), D * units + (units if bias else 0), D * units
'''

_BLOCK_COUNTS = '''def basic_block_counts(in_shape, filters, stride=1):
    shape, p1, m1 = conv_counts(in_shape, filters, 3, stride=stride, pad=1, bias=False, bn=True)
    out, p2, m2 = conv_counts(shape, filters, 3, pad=1, bias=False, bn=True)
    params, macs = p1 + p2, m1 + m2
    if out != in_shape:
        _, ps, ms = conv_counts(in_shape, filters, 1, stride=stride, bias=False, bn=True)
        params, macs = params + ps, macs + ms
    return out, params, macs


def bottleneck_counts(in_shape, width, stride=1, expansion=4):
    shape, p1, m1 = conv_counts(in_shape, width, 1, bias=False, bn=True)
    shape, p2, m2 = conv_counts(shape, width, 3, stride=stride, pad=1, bias=False, bn=True)
    out, p3, m3 = conv_counts(shape, expansion * width, 1, bias=False, bn=True)
    params, macs = p1 + p2 + p3, m1 + m2 + m3
    if out != in_shape:
        _, ps, ms = conv_counts(in_shape, expansion * width, 1, stride=stride, bias=False, bn=True)
        params, macs = params + ps, macs + ms
    return out, params, macs
'''

_INCEPTION_COUNTS = '''def inception_counts(in_shape, c1, c3_reduce, c3, c5_reduce, c5, pool_proj, reduce=True,
                     bias=True):
    C, H, W = in_shape
    if reduce:
        layers = [(in_shape, c1, 1, 0), (in_shape, c3_reduce, 1, 0), ((c3_reduce, H, W), c3, 3, 1),
                  (in_shape, c5_reduce, 1, 0), ((c5_reduce, H, W), c5, 5, 2), (in_shape, pool_proj, 1, 0)]
        depth = c1 + c3 + c5 + pool_proj
    else:
        layers = [(in_shape, c1, 1, 0), (in_shape, c3, 3, 1), (in_shape, c5, 5, 2)]
        depth = c1 + c3 + c5 + C
    params = macs = 0
    for shape, filters, size, pad in layers:
        _, p, m = conv_counts(shape, filters, size, pad=pad, bias=bias)
        params, macs = params + p, macs + m
    return (depth, H, W), params, macs
'''


def _wrong(code, *changes):
    """``code`` with each (old, new) replacement made exactly once."""
    for old, new in changes:
        assert code.count(old) == 1, f"the corpus no longer matches the solution: {old!r}"
        code = code.replace(old, new)
    return code


def _mistake(id_, cell, test_cell, message, code):
    return {"id": id_, "cell": cell, "code": code, "test_cell": test_cell, "message": message}


def _bn(id_, message, *changes):
    return _mistake(id_, "batchnorm_forward", "test_batchnorm_forward", message, _wrong(_BN_FORWARD, *changes))


def _bn_back(id_, message, *changes):
    return _mistake(id_, "batchnorm_backward", "test_batchnorm_backward", message, _wrong(_BN_BACKWARD, *changes))


def _block(id_, message, *changes):
    return _mistake(id_, "residual_block_forward", "test_residual_block_forward", message,
                    _wrong(_BLOCK_FORWARD, *changes))


def _block_back(id_, message, *changes):
    return _mistake(id_, "residual_block_backward", "test_residual_block_backward", message,
                    _wrong(_BLOCK_BACKWARD, *changes))


MISTAKES = [
    # -- exercise 1a: relu -------------------------------------------------------------------------------------------
    _mistake("relu_backward_returns_the_mask", "relu", "test_relu", "not the mask itself", '''def relu_forward(x):
    return np.maximum(x, 0.0), x


def relu_backward(dout, cache):
    return (cache > 0).astype(float)
'''),
    _mistake("relu_gradient_at_zero_is_one", "relu", "test_relu", "use the mask x > 0, not x >= 0",
             '''def relu_forward(x):
    return np.maximum(x, 0.0), x


def relu_backward(dout, cache):
    return dout * (cache >= 0)
'''),
    # -- exercise 1b: batchnorm_forward ------------------------------------------------------------------------------
    _bn("bn_normalises_over_the_wrong_axes", "normalise each channel over (N, H, W)",
        ("mean = x.mean(axis=(0, 2, 3))\n        var = x.var(axis=(0, 2, 3))",
         "mean = x.mean(axis=0)\n        var = x.var(axis=0)"),
        ('np.zeros(C))\n    running_var = bn_param.get("running_var", np.ones(C))',
         'np.zeros((C, H, W)))\n    running_var = bn_param.get("running_var", np.ones((C, H, W)))'),
        ("x_hat = (x - mean.reshape(1, C, 1, 1)) / std.reshape(1, C, 1, 1)", "x_hat = (x - mean) / std")),
    _bn("bn_batch_statistics_at_test_time", "batch statistics at test time",
        ('''    if mode == "train":
        mean = x.mean(axis=(0, 2, 3))
        var = x.var(axis=(0, 2, 3))''', '''    mean = x.mean(axis=(0, 2, 3))
    var = x.var(axis=(0, 2, 3))
    if mode == "train":'''),
        ("    else:\n        mean, var = running_mean, running_var\n", "")),
    _bn("bn_running_average_not_updated", "the running averages were not updated",
        ('''        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var''',
         '''        running_mean = momentum * running_mean + (1 - momentum) * mean
        running_var = momentum * running_var + (1 - momentum) * var''')),
    _bn("bn_unbiased_variance", "use the biased variance",
        ("var = x.var(axis=(0, 2, 3))", "var = x.var(axis=(0, 2, 3), ddof=1)")),
    _bn("bn_eps_forgotten", "add eps inside the square root", ("std = np.sqrt(var + eps)", "std = np.sqrt(var)")),
    _bn("bn_eps_outside_the_square_root", "not sqrt(var) + eps",
        ("std = np.sqrt(var + eps)", "std = np.sqrt(var) + eps")),
    _bn("bn_momentum_swapped", "keeps momentum * running and adds (1 - momentum)",
        ("momentum * running_mean + (1 - momentum) * mean", "(1 - momentum) * running_mean + momentum * mean"),
        ("momentum * running_var + (1 - momentum) * var", "(1 - momentum) * running_var + momentum * var")),
    _bn("bn_momentum_hard_coded", "read the momentum from bn_param",
        ('momentum = bn_param.get("momentum", 0.9)', "momentum = 0.9")),
    _bn("bn_eps_hard_coded", "read eps from bn_param", ('eps = bn_param.get("eps", 1e-5)', "eps = 1e-5")),
    _bn("bn_running_var_starts_at_zero", "running_var = ONES(C)",
        ('bn_param.get("running_var", np.ones(C))', 'bn_param.get("running_var", np.zeros(C))')),
    _bn("bn_running_averages_updated_in_test_mode", "update them in train mode only",
        ('''    if mode == "train":
        mean = x.mean(axis=(0, 2, 3))
        var = x.var(axis=(0, 2, 3))
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mean, var = running_mean, running_var''', '''    batch_mean = x.mean(axis=(0, 2, 3))
    batch_var = x.var(axis=(0, 2, 3))
    bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * batch_mean
    bn_param["running_var"] = momentum * running_var + (1 - momentum) * batch_var
    if mode == "train":
        mean, var = batch_mean, batch_var
    else:
        mean, var = running_mean, running_var''')),
    # -- exercise 1c: batchnorm_backward -----------------------------------------------------------------------------
    _bn_back("bn_dgamma_summed_over_the_wrong_axes", "dgamma has one value per channel",
             ("dbeta = dout.sum(axis=(0, 2, 3))", "dbeta = dout.sum(axis=0)"),
             ("dgamma = (dout * x_hat).sum(axis=(0, 2, 3))", "dgamma = (dout * x_hat).sum(axis=0)")),
    _bn_back("bn_backward_treats_batch_statistics_as_constants", "the batch mean and variance depend on x",
             ('if mode == "test":\n        return dout * scale, dgamma, dbeta\n',
              "return dout * scale, dgamma, dbeta\n")),
    _bn_back("bn_backward_without_the_variance_path", "missing the path through the variance",
             ("dx = scale * (dout - mean_g - x_hat * mean_gx)", "dx = scale * (dout - mean_g)")),
    _bn_back("bn_backward_dbeta_averaged", "dbeta is the SUM of dout",
             ("dbeta = dout.sum(axis=(0, 2, 3))", "dbeta = dout.mean(axis=(0, 2, 3))")),
    _bn_back("bn_backward_without_gamma", "dx is missing the factor gamma",
             ("scale = (gamma / std).reshape(1, C, 1, 1)", "scale = (1 / std).reshape(1, C, 1, 1)")),
    # -- exercise 2a: residual_block_forward -------------------------------------------------------------------------
    _block("shortcut_added_after_the_final_relu", "the shortcut is added after the final ReLU",
           ('''        f = f + s
    elif residual:
        f = f + x
    out, relu2 = relu_forward(f)''', '''    out, relu2 = relu_forward(f)
    if project:
        out = out + s
    elif residual:
        out = out + x''')),
    _block("projection_shortcut_missing", "projection shortcut missing",
           ("project = residual and (stride != 1 or F != C)", "project = False")),
    _block("zero_padded_identity_instead_of_projection", "not the subsampled input padded with zero channels",
           ('''        p, conv_s = kernels.conv_forward(x, params["ws"], zeros, stride=stride, pad=0)
        s, bn_s = batchnorm_forward(p, params["gammas"], params["betas"], bn_params["bns"])
        short = (conv_s, bn_s)''', '''        s = x[:, :, ::stride, ::stride]
        s = np.concatenate([s, np.zeros((s.shape[0], F - C) + s.shape[2:])], axis=1)''')),
    _block("stride_on_the_second_conv", "belongs to the FIRST 3x3 conv",
           ('params["w1"], zeros, stride=stride, pad=1)', 'params["w1"], zeros, stride=1, pad=1)'),
           ('params["w2"], zeros, stride=1, pad=1)', 'params["w2"], zeros, stride=stride, pad=1)')),
    _block("projection_only_at_stride_2", "or more filters even at stride 1",
           ("project = residual and (stride != 1 or F != C)", "project = residual and stride != 1")),
    _block("missing_projection_weights_not_rejected", "raise ValueError when they are missing",
           ('''    if project and "ws" not in params:
        raise ValueError("the projection shortcut needs ws, gammas, betas")
''', "")),
    _block("projection_without_batch_norm", "the BN is missing",
           ('s, bn_s = batchnorm_forward(p, params["gammas"], params["betas"], bn_params["bns"])',
            "s, bn_s = p, None")),
    # -- exercise 2b: residual_block_backward ------------------------------------------------------------------------
    _block_back("shortcut_gradient_forgotten", "gradient of the shortcut forgotten",
                ("    elif residual:\n        dx = dx + g\n", "")),
    _block_back("shortcut_gradient_skips_the_last_relu", "must pass the last ReLU's backward first",
                ("        dx = dx + g\n", "        dx = dx + dout\n")),
    _block_back("projection_weights_gradient_not_returned", "grads has no 'ws'",
                ('dx_s, grads["ws"], _ = kernels.conv_backward(dp, conv_s)',
                 "dx_s, _, _ = kernels.conv_backward(dp, conv_s)")),
    # -- exercise 3: stack_gradient_norms ----------------------------------------------------------------------------
    _mistake("stack_norms_listed_from_the_output_down", "stack_gradient_norms", "test_stack_gradient_norms",
             "the list runs from the input up", '''def stack_gradient_norms(x, blocks, dout, residual=True):
    caches = []
    for params in blocks:
        fresh = {"bn1": {"mode": "train"}, "bn2": {"mode": "train"}}
        x, cache = residual_block_forward(x, params, fresh, residual=residual)
        caches.append(cache)
    norms = [float(np.linalg.norm(dout))]
    grad = dout
    for cache in reversed(caches):
        grad, _ = residual_block_backward(grad, cache)
        norms.append(float(np.linalg.norm(grad)))
    return norms
'''),
    # -- exercise 5: counting layers ---------------------------------------------------------------------------------
    _mistake("conv_bias_counted_when_followed_by_bn", "conv_counts", "test_conv_counts",
             "bias counted for a layer followed by BN when the table says otherwise",
             _wrong(_CONV_COUNTS, ("(filters if bias else 0)", "filters"))),
    _mistake("conv_bn_parameters_forgotten", "conv_counts", "test_conv_counts", "the batch norm that follows brings 2",
             _wrong(_CONV_COUNTS, (" + (2 * filters if bn else 0)", ""))),
    _mistake("conv_macs_from_the_input_size", "conv_counts", "test_conv_counts", "per OUTPUT value",
             _wrong(_CONV_COUNTS, ("return (filters, H_out, W_out), params, H_out * W_out * weights",
                                   "return (filters, H_out, W_out), params, H * W * weights"))),
    _mistake("conv_output_size_rounded_up", "conv_counts", "test_conv_counts", "round down",
             _wrong(_CONV_COUNTS,
                    ("H_out = (H - size + 2 * pad) // stride + 1", "H_out = -(-(H - size + 2 * pad) // stride) + 1"),
                    ("W_out = (W - size + 2 * pad) // stride + 1", "W_out = -(-(W - size + 2 * pad) // stride) + 1"))),
    _mistake("conv_padding_ignored", "conv_counts", "test_conv_counts", "the padding enlarges the input",
             _wrong(_CONV_COUNTS,
                    ("H_out = (H - size + 2 * pad) // stride + 1", "H_out = (H - size) // stride + 1"),
                    ("W_out = (W - size + 2 * pad) // stride + 1", "W_out = (W - size) // stride + 1"))),
    _mistake("conv_macs_count_the_bias_additions", "conv_counts", "test_conv_counts", "not the bias additions",
             _wrong(_CONV_COUNTS, ("params, H_out * W_out * weights", "params, H_out * W_out * (weights + filters)"))),
    _mistake("pool_stride_defaults_to_one", "pool_fc_counts", "test_pool_fc_counts", "stride=None means stride = size",
             _wrong(_POOL_FC_COUNTS,
                    ("stride = size if stride is None else stride", "stride = 1 if stride is None else stride"))),
    _mistake("fc_bias_counted_always", "pool_fc_counts", "test_pool_fc_counts", "bias=False: no biases",
             _wrong(_POOL_FC_COUNTS, ("D * units + (units if bias else 0)", "D * units + units"))),
    _mistake("global_pool_not_handled", "pool_fc_counts", "test_pool_fc_counts", "size=None is global pooling",
             _wrong(_POOL_FC_COUNTS, ("    if size is None:\n        return (C, 1, 1), 0, 0\n",
                                      "    size = size or 1\n"))),
    _mistake("fc_input_not_flattened", "pool_fc_counts", "test_pool_fc_counts", "flatten the whole input",
             _wrong(_POOL_FC_COUNTS, ("D = int(np.prod(in_shape))", "D = in_shape[0]"))),
    # -- exercise 6: blocks and Inception ----------------------------------------------------------------------------
    _mistake("block_bias_counted_before_bn", "block_counts", "test_block_counts",
             "bias counted for convs followed by BN",
             _BLOCK_COUNTS.replace("bias=False, bn=True", "bias=True, bn=True")),
    _mistake("projection_counted_only_for_stride_2", "block_counts", "test_block_counts", "projection shortcut missing",
             _wrong(_BLOCK_COUNTS, ("    if out != in_shape:\n        _, ps, ms = conv_counts(in_shape, expansion",
                                    "    if stride != 1:\n        _, ps, ms = conv_counts(in_shape, expansion"))),
    _mistake("bottleneck_stride_on_the_first_1x1", "block_counts", "test_block_counts",
             "the bottleneck's stride is on its 3x3 conv",
             _wrong(_BLOCK_COUNTS, ("shape, p1, m1 = conv_counts(in_shape, width, 1, bias=False, bn=True)",
                                    "shape, p1, m1 = conv_counts(in_shape, width, 1, stride=stride, bias=False, "
                                    "bn=True)"),
                    ("conv_counts(shape, width, 3, stride=stride, pad=1, bias=False, bn=True)",
                     "conv_counts(shape, width, 3, pad=1, bias=False, bn=True)"))),
    _mistake("bottleneck_expansion_hard_coded", "block_counts", "test_block_counts",
             "read expansion from the arguments", _BLOCK_COUNTS.replace("expansion * width", "4 * width")),
    _mistake("projection_counted_for_every_block", "block_counts", "test_block_counts",
             "the shapes match: the shortcut is the identity",
             _wrong(_BLOCK_COUNTS, ("    if out != in_shape:\n        _, ps, ms = conv_counts(in_shape, filters",
                                    "    if True:\n        _, ps, ms = conv_counts(in_shape, filters"))),
    _mistake("inception_output_depth_counts_the_reductions", "inception_counts", "test_inception_counts",
             "the reduce convs feed the 3x3 and 5x5 convs",
             _wrong(_INCEPTION_COUNTS, ("depth = c1 + c3 + c5 + pool_proj",
                                        "depth = c1 + c3_reduce + c3 + c5_reduce + c5 + pool_proj"))),
    _mistake("naive_inception_with_reductions", "inception_counts", "test_inception_counts",
             "reduce=False: no 1x1 reductions",
             _wrong(_INCEPTION_COUNTS, ("    if reduce:\n        layers", "    if True:\n        layers"))),
    _mistake("inception_pool_projection_forgotten", "inception_counts", "test_inception_counts",
             "the pool branch has its 1x1 projection conv",
             _wrong(_INCEPTION_COUNTS, (", (in_shape, pool_proj, 1, 0)]", "]"))),
    _mistake("naive_inception_without_the_pooled_input", "inception_counts", "test_inception_counts",
             "concatenates the pooled input too",
             _wrong(_INCEPTION_COUNTS, ("depth = c1 + c3 + c5 + C", "depth = c1 + c3 + c5"))),
    _mistake("inception_bias_ignored", "inception_counts", "test_inception_counts", "bias=True: every conv",
             _wrong(_INCEPTION_COUNTS, ("pad=pad, bias=bias)", "pad=pad)"))),
]
