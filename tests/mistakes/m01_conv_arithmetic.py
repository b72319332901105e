"""Typical student mistakes for assignment 01; each must score below full marks with its message.

Each ``code`` replaces the whole solution cell ``cell`` (so it keeps the correct version's validation and makes
one mistake only); ``test_cell`` must then give less than its points and print a ``[FAIL]`` line containing
``message``.
"""
ASSIGNMENT = "01_conv_arithmetic"
NOTEBOOK = "conv_arithmetic"


def _conv_output_size(result, fit_check=True):
    """conv_output_size with the correct validation and ``result`` (an expression in w, f, stride, pad)."""
    check = ("    if f > w + 2 * pad:\n"
             "        raise ValueError(f\"filter size f={f} is larger than the padded input\")\n") if fit_check else ""
    return ("def conv_output_size(w, f, stride=1, pad=0):\n"
            "    require_int(\"w\", w, 1)\n"
            "    require_int(\"f\", f, 1)\n"
            "    require_int(\"stride\", stride, 1)\n"
            "    require_int(\"pad\", pad, 0)\n"
            + check +
            f"    return {result}\n")


def _conv_params(result):
    """conv_params with the correct validation and ``result`` (an expression in n_filters, f, depth, bias)."""
    return ("def conv_params(n_filters, f, depth, bias=True):\n"
            "    require_int(\"n_filters\", n_filters, 1)\n"
            "    require_int(\"f\", f, 1)\n"
            "    require_int(\"depth\", depth, 1)\n"
            f"    return {result}\n")


def _pool_shape(result):
    """pool_shape with the correct validation and ``result`` (an expression in c, h, w, r, s)."""
    return ("def pool_shape(in_shape, r, s):\n"
            "    c, h, w = in_shape\n"
            "    require_int(\"C (channels of in_shape)\", c, 1)\n"
            f"    return {result}\n")


def _layer_table(fc_in_features, fc_params):
    """layer_table whose fc layer uses the given in_features and params expressions."""
    return f'''def layer_table(in_shape, layers):
    rows = []
    shape = tuple(in_shape)
    for layer in layers:
        kind = layer["type"]
        if kind == "conv":
            params = conv_params(layer["filters"], layer["f"], shape[0])
            shape = conv_shape(shape, layer["filters"], layer["f"], layer["stride"], layer["pad"])
        elif kind == "pool":
            params = 0
            shape = pool_shape(shape, layer["r"], layer["s"])
        elif kind == "fc":
            require_int("units", layer["units"], 1)
            in_features = {fc_in_features}
            params = {fc_params}
            shape = (layer["units"], 1, 1)
        else:
            raise ValueError(f"unknown layer type {{kind!r}}")
        rows.append({{"type": kind, "shape": tuple(shape),
                     "activations": shape[0] * shape[1] * shape[2], "params": params}})
    return rows
'''


def _receptive_field(body):
    """receptive_field with the correct validation around ``body`` (the loop over f, stride that sets r)."""
    return ("def receptive_field(layers):\n"
            "    pairs = []\n"
            "    for layer in layers:\n"
            "        if not isinstance(layer, (tuple, list)) or len(layer) != 2:\n"
            "            raise TypeError(f\"each layer is an (f, stride) pair, got {layer!r}\")\n"
            "        require_int(\"f\", layer[0], 1)\n"
            "        require_int(\"stride\", layer[1], 1)\n"
            "        pairs.append(tuple(layer))\n"
            + body)


MISTAKES = [
    # -- exercise 1: conv_output_size ------------------------------------------------------------------------------
    {
        "id": "forgot_plus_one",
        "cell": "conv_output_size",
        "code": _conv_output_size("(w - f + 2 * pad) // stride"),
        "test_cell": "test_conv_output_size",
        "message": "did you forget the +1",
    },
    {
        "id": "pad_once_not_twice",
        "cell": "conv_output_size",
        "code": _conv_output_size("(w - f + pad) // stride + 1"),
        "test_cell": "test_conv_output_size",
        "message": "use 2*pad, not pad",
    },
    {
        "id": "padding_subtracted",  # the lecture notes' printed slip: (w - 2P - f)/S + 1
        "cell": "conv_output_size",
        "code": _conv_output_size("(w - 2 * pad - f) // stride + 1"),
        "test_cell": "test_conv_output_size",
        "message": "you subtracted the padding",
    },
    {
        "id": "ceil_instead_of_floor",
        "cell": "conv_output_size",
        "code": "import math\n" + _conv_output_size("math.ceil((w - f + 2 * pad) / stride) + 1"),
        "test_cell": "test_conv_output_size",
        "message": "you rounded up",
    },
    {
        "id": "true_division",
        "cell": "conv_output_size",
        "code": _conv_output_size("(w - f + 2 * pad) / stride + 1"),
        "test_cell": "test_conv_output_size",
        "message": "use floor division //, not true division /",
    },
    {
        "id": "filter_larger_than_input_accepted",
        "cell": "conv_output_size",
        "code": _conv_output_size("(w - f + 2 * pad) // stride + 1", fit_check=False),
        "test_cell": "test_conv_output_size",
        "message": "the filter is larger than the padded input",
    },
    # -- exercise 2: uncovered_positions -----------------------------------------------------------------------------
    {
        "id": "uncovered_in_padded_coordinates",
        "cell": "uncovered_positions",
        "code": '''def uncovered_positions(w, f, stride, pad=0):
    n_windows = conv_output_size(w, f, stride, pad)
    covered = set()
    for k in range(n_windows):
        covered.update(range(k * stride, k * stride + f))
    return [j for j in range(w + 2 * pad) if j not in covered]
''',
        "test_cell": "test_uncovered_positions",
        "message": "these look like padded coordinates",
    },
    # -- exercise 3: same_padding ------------------------------------------------------------------------------------
    {
        "id": "same_padding_accepts_even_f",
        "cell": "same_padding",
        "code": '''def same_padding(f):
    require_int("f", f, 1)
    return f // 2
''',
        "test_cell": "test_same_padding",
        "message": "an even filter would need more zeros on one side",
    },
    # -- exercise 4: conv_params -------------------------------------------------------------------------------------
    {
        "id": "params_bias_forgotten",
        "cell": "conv_params",
        "code": _conv_params("n_filters * f * f * depth"),
        "test_cell": "test_conv_params",
        "message": "you forgot the biases",
    },
    {
        "id": "params_one_bias_per_layer",
        "cell": "conv_params",
        "code": _conv_params("n_filters * f * f * depth + (1 if bias else 0)"),
        "test_cell": "test_conv_params",
        "message": "there is one bias per filter",
    },
    {
        "id": "params_depth_ignored",
        "cell": "conv_params",
        "code": _conv_params("n_filters * (f * f + (1 if bias else 0))"),
        "test_cell": "test_conv_params",
        "message": "a filter spans all the input channels",
    },
    # -- exercise 5a: conv_shape -------------------------------------------------------------------------------------
    {
        "id": "conv_shape_keeps_input_channels",
        "cell": "conv_shape",
        "code": '''def conv_shape(in_shape, n_filters, f, stride=1, pad=0):
    c, h, w = in_shape
    require_int("C (channels of in_shape)", c, 1)
    require_int("n_filters", n_filters, 1)
    return (int(c), conv_output_size(h, f, stride, pad), conv_output_size(w, f, stride, pad))
''',
        "test_cell": "test_conv_shape",
        "message": "C becomes n_filters",
    },
    # -- exercise 5b: pool_shape -------------------------------------------------------------------------------------
    {
        "id": "pool_with_same_padding",  # the conv formula with padding (r - 1) // 2
        "cell": "pool_shape",
        "code": _pool_shape("(c, conv_output_size(h, r, s, (r - 1) // 2), conv_output_size(w, r, s, (r - 1) // 2))"),
        "test_cell": "test_pool_shape",
        "message": "pooling uses no padding",
    },
    {
        "id": "pool_across_channels",  # pools over the depth too: one channel left
        "cell": "pool_shape",
        "code": _pool_shape("(1, conv_output_size(h, r, s, 0), conv_output_size(w, r, s, 0))"),
        "test_cell": "test_pool_shape",
        "message": "the channel count stays C",
    },
    {
        "id": "pool_channels_last",  # (H, W, C) as in the lecture notes' tables
        "cell": "pool_shape",
        "code": _pool_shape("(conv_output_size(h, r, s, 0), conv_output_size(w, r, s, 0), c)"),
        "test_cell": "test_pool_shape",
        "message": "keep the order (C, H, W)",
    },
    # -- exercise 6: layer_table -------------------------------------------------------------------------------------
    {
        "id": "fc_params_without_bias",
        "cell": "layer_table",
        "code": _layer_table('shape[0] * shape[1] * shape[2]', 'in_features * layer["units"]'),
        "test_cell": "test_layer_table",
        "message": "the fc layer has a bias per unit",
    },
    {
        "id": "fc_input_not_flattened",
        "cell": "layer_table",
        "code": _layer_table('shape[0]', 'in_features * layer["units"] + layer["units"]'),
        "test_cell": "test_layer_table",
        "message": "in_features = C * H * W",
    },
    # -- exercise 7: table_totals ------------------------------------------------------------------------------------
    {
        "id": "total_activations_without_input",
        "cell": "table_totals",
        "code": '''def table_totals(rows, in_shape):
    total_params = sum(row["params"] for row in rows)
    total_activations = sum(row["activations"] for row in rows)
    return int(total_params), int(total_activations)
''',
        "test_cell": "test_table_totals",
        "message": "the input image's values are stored too",
    },
    # -- exercise 8: vgg16_memory_mb ---------------------------------------------------------------------------------
    {
        "id": "memory_in_decimal_megabytes",
        "cell": "vgg16_memory_mb",
        "code": '''def vgg16_memory_mb(total_activations, bytes_per_value=4):
    require_int("total_activations", total_activations, 0)
    require_int("bytes_per_value", bytes_per_value, 1)
    return total_activations * bytes_per_value / 1e6
''',
        "test_cell": "test_vgg16_memory_mb",
        "message": "divide by 2**20 for MiB",
    },
    # -- exercise 9: receptive_field --------------------------------------------------------------------------------
    {
        "id": "receptive_field_ignores_strides",  # adds f - 1 per layer as if every stride were 1
        "cell": "receptive_field",
        "code": _receptive_field("    return 1 + sum(f - 1 for f, stride in pairs)\n"),
        "test_cell": "test_receptive_field",
        "message": "the strides are missing",
    },
    {
        "id": "receptive_field_jump_updated_first",  # multiplies the jump by the layer's own stride before adding
        "cell": "receptive_field",
        "code": _receptive_field("    r, jump = 1, 1\n"
                                 "    for f, stride in pairs:\n"
                                 "        jump *= stride\n"
                                 "        r += (f - 1) * jump\n"
                                 "    return r\n"),
        "test_cell": "test_receptive_field",
        "message": "only the strides of the layers below count",
    },
    {
        "id": "receptive_field_adds_f",  # 3x3 + 3x3 = 6: the shared positions counted twice
        "cell": "receptive_field",
        "code": _receptive_field("    r, jump = 0, 1\n"
                                 "    for f, stride in pairs:\n"
                                 "        r += f * jump\n"
                                 "        jump *= stride\n"
                                 "    return r\n"),
        "test_cell": "test_receptive_field",
        "message": "counts the shared positions twice",
    },
    {
        "id": "receptive_field_starts_at_zero",
        "cell": "receptive_field",
        "code": _receptive_field("    r, jump = 0, 1\n"
                                 "    for f, stride in pairs:\n"
                                 "        r += (f - 1) * jump\n"
                                 "        jump *= stride\n"
                                 "    return r\n"),
        "test_cell": "test_receptive_field",
        "message": "start from r = 1",
    },
    {
        "id": "receptive_field_backward_recursion_from_the_input",  # r = (r - 1) * s + f, first layer first
        "cell": "receptive_field",
        "code": _receptive_field("    r = 1\n"
                                 "    for f, stride in pairs:\n"
                                 "        r = (r - 1) * stride + f\n"
                                 "    return r\n"),
        "test_cell": "test_receptive_field",
        "message": "go from the last layer to the first with it",
    },
]
