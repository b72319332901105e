"""Layer tables of the classic ConvNets: output size, values stored, parameters and multiply-adds per layer.

A network is described by a small dict: its input shape ``(C, H, W)`` and a list of layers made with the
constructors below (``conv``, ``pool``, ``norm``, ``fc``, ``inception``, ``basic``, ``bottleneck``). Each layer
is a plain dict: ``{"kind": "conv", "name": "conv1_1", "filters": 64, "size": 3, "stride": 1, "pad": 1,
"bias": True, "bn": False}``. ``layer_table`` walks the list and asks one counting function per kind for the
layer's ``(output_shape, params, macs)``:

    rows = layer_table("VGG-16")               # or layer_table(my_description)
    totals(rows)                               # {"params": 138357544, "activations": ..., "macs": ...}

What is counted:

* ``activations``: the values a layer outputs, ``C * H * W`` (the notes' "memory" column; times 4 bytes in
  float32). The first row is the input. A block or an Inception module also stores its inner activations
  while training; only its output is counted here.
* ``params``: weights + biases. A conv followed by batch norm (``bn=True``) has no bias (the BN's beta does its
  job) and the BN adds 2 parameters per channel, gamma and beta, as torchvision counts them (the running mean
  and variance are statistics, not parameters).
* ``macs``: multiply-adds of the conv and fully connected layers, ``H' * W' * F * C * k * k`` for a conv and
  ``D * M`` for an fc layer (biases, pooling, BN and ReLU are not counted). The GoogLeNet table's "ops" column
  counts the same thing.

Shapes: a conv or pooling layer maps ``(C, H, W)`` to ``(F, H', W')`` with ``H' = (H - k + 2P) // S + 1``
(the last rows/columns are dropped when the window does not fit nicely); an fc layer flattens its input
row-major to ``D = C * H * W`` values and outputs ``(M,)``.

``ARCHITECTURES`` holds LeNet-5, AlexNet (the notes' simplified version, no groups), VGG-16, GoogLeNet (as in
its paper: convs with biases, no auxiliary classifiers) and ResNet-18/34/50 (as torchvision builds them: the
stride of a bottleneck is on its 3x3 conv, "ResNet v1.5").
"""
from dataclasses import dataclass

__all__ = ["ARCHITECTURES", "COUNTERS", "GOOGLENET_INCEPTION", "Row", "basic", "basic_block_counts", "bottleneck",
           "bottleneck_counts", "conv", "conv_counts", "fc", "fc_counts", "inception", "inception_counts",
           "layer_table", "norm", "norm_counts", "pool", "pool_counts", "totals"]


@dataclass(frozen=True)
class Row:
    """One layer of a table: its name and kind, output shape (C, H, W) or (D,), values output, params, MACs."""
    name: str
    kind: str
    output_shape: tuple
    activations: int
    params: int
    macs: int


# -- the description format: one constructor per kind ---------------------------------------------------------------


def conv(name, filters, size, stride=1, pad=0, bias=True, bn=False):
    """A conv layer of ``filters`` size x size filters; ``bn=True``: followed by batch norm (counted with it)."""
    return {"kind": "conv", "name": name, "filters": filters, "size": size, "stride": stride, "pad": pad,
            "bias": bias, "bn": bn}


def pool(name, size, stride=None, pad=0, mode="max"):
    """A max (or ``mode="avg"``) pooling layer; ``stride`` defaults to ``size``; ``size=None``: global pooling."""
    return {"kind": "pool", "name": name, "size": size, "stride": stride, "pad": pad, "mode": mode}


def norm(name):
    """A local response normalisation layer (AlexNet's "Norm"): same shape, no parameters."""
    return {"kind": "norm", "name": name}


def fc(name, units, bias=True):
    """A fully connected layer with ``units`` outputs (its input is flattened)."""
    return {"kind": "fc", "name": name, "units": units, "bias": bias}


def inception(name, c1, c3_reduce, c3, c5_reduce, c5, pool_proj, reduce=True, bias=True):
    """GoogLeNet's Inception module: four branches concatenated along the channels.

    Branches: 1x1 conv (c1); 1x1 conv (c3_reduce) then 3x3 conv pad 1 (c3); 1x1 conv (c5_reduce) then 5x5 conv
    pad 2 (c5); 3x3 max pool stride 1 pad 1 then 1x1 conv (pool_proj). ``reduce=False`` is the paper's naive
    module: no 1x1 reductions, the 3x3 and 5x5 convs see the whole input and the pooled input is concatenated
    as it is (the reduce and pool_proj numbers are then unused).
    """
    return {"kind": "inception", "name": name, "c1": c1, "c3_reduce": c3_reduce, "c3": c3,
            "c5_reduce": c5_reduce, "c5": c5, "pool_proj": pool_proj, "reduce": reduce, "bias": bias}


def basic(name, filters, stride=1):
    """ResNet's basic block: conv3x3(stride)-BN-ReLU-conv3x3-BN, plus the shortcut, then ReLU.

    The shortcut is the identity when the shape does not change, else a projection: 1x1 conv (stride) + BN.
    """
    return {"kind": "basic", "name": name, "filters": filters, "stride": stride}


def bottleneck(name, width, stride=1, expansion=4):
    """ResNet's bottleneck block: 1x1 (width) - 3x3 (width, stride) - 1x1 (expansion * width), each with BN,
    plus the shortcut (identity, or 1x1 conv + BN when the shape changes), then ReLU."""
    return {"kind": "bottleneck", "name": name, "width": width, "stride": stride, "expansion": expansion}


# -- the counting functions (the notebook's exercises write their own) ----------------------------------------------


def _check_shape(in_shape, dims, kind):
    if (not isinstance(in_shape, tuple) or len(in_shape) not in dims
            or not all(isinstance(v, int) and v >= 1 for v in in_shape)):
        want = "(C, H, W)" if dims == (3,) else "(C, H, W) or (D,)"
        raise ValueError(f"in_shape of a {kind} layer must be a tuple {want} of positive ints; got {in_shape!r}")


def _window_out(n, size, stride, pad, what):
    if size < 1 or stride < 1 or pad < 0:
        raise ValueError(f"{what}: size and stride must be >= 1 and pad >= 0; got {size}, {stride}, {pad}")
    if size > n + 2 * pad:
        raise ValueError(f"{what}: a {size}x{size} window is larger than the padded input ({n} + 2*{pad})")
    return (n - size + 2 * pad) // stride + 1


def conv_counts(in_shape, filters, size, stride=1, pad=0, bias=True, bn=False):
    """Counts of a conv layer on an input of shape in_shape = (C, H, W).

    Returns:
        (output_shape, params, macs): output (filters, H', W'); params k*k*C*F weights, + F biases when
        ``bias``, + 2F (gamma, beta) when ``bn``; macs H'*W'*F*k*k*C.
    """
    _check_shape(in_shape, (3,), "conv")
    c, h, w = in_shape
    out = (filters, _window_out(h, size, stride, pad, "conv"), _window_out(w, size, stride, pad, "conv"))
    weights = size * size * c * filters
    params = weights + (filters if bias else 0) + (2 * filters if bn else 0)
    return out, params, out[1] * out[2] * weights


def pool_counts(in_shape, size, stride=None, pad=0, mode="max"):
    """Counts of a pooling layer on (C, H, W): output (C, H', W'), no params, no multiply-adds.

    ``size=None`` pools each whole map to one value (global pooling); ``stride`` defaults to ``size``.
    """
    _check_shape(in_shape, (3,), "pool")
    if mode not in ("max", "avg"):
        raise ValueError(f'mode must be "max" or "avg"; got {mode!r}')
    c, h, w = in_shape
    if size is None:
        return (c, 1, 1), 0, 0
    stride = size if stride is None else stride
    return (c, _window_out(h, size, stride, pad, "pool"), _window_out(w, size, stride, pad, "pool")), 0, 0


def norm_counts(in_shape):
    """A normalisation layer without parameters: same shape, no params, no multiply-adds."""
    return tuple(in_shape), 0, 0


def fc_counts(in_shape, units, bias=True):
    """Counts of a fully connected layer: the input (C, H, W) or (D,) is flattened to D values.

    Returns:
        ((units,), D*units + units if bias, D*units).
    """
    _check_shape(in_shape, (1, 3), "fc")
    d = 1
    for v in in_shape:
        d *= v
    return (units,), d * units + (units if bias else 0), d * units


def _chain(in_shape, convs):
    """Runs conv_counts along a list of conv keyword dicts: (output_shape, params, macs)."""
    shape, params, macs = in_shape, 0, 0
    for kwargs in convs:
        shape, p, m = conv_counts(shape, **kwargs)
        params, macs = params + p, macs + m
    return shape, params, macs


def inception_counts(in_shape, c1, c3_reduce, c3, c5_reduce, c5, pool_proj, reduce=True, bias=True):
    """Counts of an Inception module on (C, H, W) (see ``inception``): output (channels, H, W), the params and
    multiply-adds of all its convs (the max pool has none)."""
    _check_shape(in_shape, (3,), "inception")
    c, h, w = in_shape
    if reduce:
        branches = [[dict(filters=c1, size=1, bias=bias)],
                    [dict(filters=c3_reduce, size=1, bias=bias), dict(filters=c3, size=3, pad=1, bias=bias)],
                    [dict(filters=c5_reduce, size=1, bias=bias), dict(filters=c5, size=5, pad=2, bias=bias)],
                    [dict(filters=pool_proj, size=1, bias=bias)]]
        depth = c1 + c3 + c5 + pool_proj
    else:
        branches = [[dict(filters=c1, size=1, bias=bias)], [dict(filters=c3, size=3, pad=1, bias=bias)],
                    [dict(filters=c5, size=5, pad=2, bias=bias)]]
        depth = c1 + c3 + c5 + c
    counts = [_chain(in_shape, branch) for branch in branches]
    return (depth, h, w), sum(p for _, p, _ in counts), sum(m for _, _, m in counts)


def _shortcut(in_shape, out_shape, stride):
    """Params and MACs of a block's shortcut: 0 for the identity, a 1x1 conv (stride) + BN when shapes change."""
    if tuple(in_shape) == tuple(out_shape):
        return 0, 0
    _, params, macs = conv_counts(in_shape, out_shape[0], 1, stride=stride, bias=False, bn=True)
    return params, macs


def basic_block_counts(in_shape, filters, stride=1):
    """Counts of a basic block on (C, H, W): the two 3x3 convs with BN (no biases) and the shortcut."""
    _check_shape(in_shape, (3,), "basic block")
    out, params, macs = _chain(in_shape, [dict(filters=filters, size=3, stride=stride, pad=1, bias=False, bn=True),
                                          dict(filters=filters, size=3, pad=1, bias=False, bn=True)])
    sp, sm = _shortcut(in_shape, out, stride)
    return out, params + sp, macs + sm


def bottleneck_counts(in_shape, width, stride=1, expansion=4):
    """Counts of a bottleneck block on (C, H, W): 1x1 reduce, 3x3 (stride), 1x1 expand, all with BN, and the
    shortcut."""
    _check_shape(in_shape, (3,), "bottleneck block")
    out, params, macs = _chain(in_shape, [dict(filters=width, size=1, bias=False, bn=True),
                                          dict(filters=width, size=3, stride=stride, pad=1, bias=False, bn=True),
                                          dict(filters=expansion * width, size=1, bias=False, bn=True)])
    sp, sm = _shortcut(in_shape, out, stride)
    return out, params + sp, macs + sm


COUNTERS = {"conv": conv_counts, "pool": pool_counts, "norm": norm_counts, "fc": fc_counts,
            "inception": inception_counts, "basic": basic_block_counts, "bottleneck": bottleneck_counts}


# -- tables ----------------------------------------------------------------------------------------------------------


def _product(shape):
    n = 1
    for v in shape:
        n *= v
    return n


def layer_table(name_or_description, input_shape=None, counters=None):
    """The layer-by-layer table of a network.

    Args:
        name_or_description: a key of ``ARCHITECTURES`` ("VGG-16", ...) or a description
            ``{"input": (C, H, W), "layers": [layer dicts]}``.
        input_shape: (C, H, W) to use instead of the description's input (e.g. (3, 32, 32) for CIFAR-10).
        counters: optional {kind: function} replacing the counting functions of some kinds (e.g. your own
            ``conv_counts``); each takes (in_shape, **the layer's arguments) and returns
            (output_shape, params, macs).

    Returns:
        A list of ``Row``: the input first, then one row per layer.

    Raises:
        KeyError: for an unknown network name; ValueError for an unknown layer kind or a layer that does not fit.
    """
    if isinstance(name_or_description, str):
        if name_or_description not in ARCHITECTURES:
            raise KeyError(f"unknown network {name_or_description!r}; known: {', '.join(ARCHITECTURES)}")
        description = ARCHITECTURES[name_or_description]
    else:
        description = name_or_description
    shape = tuple(input_shape if input_shape is not None else description["input"])
    table = {**COUNTERS, **(counters or {})}
    rows = [Row("input", "input", shape, _product(shape), 0, 0)]
    for layer in description["layers"]:
        kind = layer["kind"]
        if kind not in table:
            raise ValueError(f"layer {layer.get('name')!r}: unknown kind {kind!r}; known: {', '.join(table)}")
        args = {k: v for k, v in layer.items() if k not in ("kind", "name")}
        out, params, macs = table[kind](shape, **args)
        shape = tuple(int(v) for v in out)
        rows.append(Row(layer["name"], kind, shape, _product(shape), int(params), int(macs)))
    return rows


def totals(rows):
    """{"params", "activations", "macs"}: the sums over a table's rows (activations include the input)."""
    return {"params": sum(r.params for r in rows), "activations": sum(r.activations for r in rows),
            "macs": sum(r.macs for r in rows)}


# -- the networks -----------------------------------------------------------------------------------------------------


def _lenet5():
    return {"input": (1, 32, 32), "layers": [
        conv("C1", 6, 5), pool("S2", 2), conv("C3", 16, 5), pool("S4", 2), conv("C5", 120, 5),
        fc("F6", 84), fc("output", 10)]}


def _alexnet():
    return {"input": (3, 227, 227), "layers": [
        conv("conv1", 96, 11, stride=4), pool("pool1", 3, 2), norm("norm1"),
        conv("conv2", 256, 5, pad=2), pool("pool2", 3, 2), norm("norm2"),
        conv("conv3", 384, 3, pad=1), conv("conv4", 384, 3, pad=1), conv("conv5", 256, 3, pad=1),
        pool("pool5", 3, 2), fc("fc6", 4096), fc("fc7", 4096), fc("fc8", 1000)]}


def _vgg16():
    layers = []
    for stage, (filters, count) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)], start=1):
        layers += [conv(f"conv{stage}_{i}", filters, 3, pad=1) for i in range(1, count + 1)]
        layers.append(pool(f"pool{stage}", 2))
    return {"input": (3, 224, 224), "layers": layers + [fc("fc6", 4096), fc("fc7", 4096), fc("fc8", 1000)]}


GOOGLENET_INCEPTION = {  # the notes' Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64), "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128)}


def _googlenet():
    def modules(stage):
        return [inception(f"inception ({key})", *spec) for key, spec in GOOGLENET_INCEPTION.items()
                if key.startswith(stage)]
    # The paper's 3x3/2 max pools halve 112 -> 56 -> 28 -> 14 -> 7: pad 1 here (Caffe rounds up instead).
    return {"input": (3, 224, 224), "layers": [
        conv("conv1 7x7/2", 64, 7, stride=2, pad=3), pool("max pool 1", 3, 2, pad=1),
        conv("conv2 3x3 reduce", 64, 1), conv("conv2 3x3", 192, 3, pad=1), pool("max pool 2", 3, 2, pad=1),
        *modules("3"), pool("max pool 3", 3, 2, pad=1), *modules("4"), pool("max pool 4", 3, 2, pad=1),
        *modules("5"), pool("avg pool 7x7", 7, 1, mode="avg"), fc("linear", 1000)]}


def _resnet(block, counts):
    """torchvision's ImageNet ResNets: conv1 7x7/2 + BN, max pool 3x3/2, four stages, global avg pool, fc."""
    layers = [conv("conv1", 64, 7, stride=2, pad=3, bias=False, bn=True), pool("maxpool", 3, 2, pad=1)]
    for stage, (width, count) in enumerate(zip((64, 128, 256, 512), counts), start=1):
        for i in range(count):
            stride = 2 if stage > 1 and i == 0 else 1
            layers.append(block(f"conv{stage + 1}_{i + 1}", width, stride))
    return {"input": (3, 224, 224), "layers": layers + [pool("avgpool", None, mode="avg"), fc("fc", 1000)]}


ARCHITECTURES = {
    "LeNet-5": _lenet5(),
    "AlexNet": _alexnet(),
    "VGG-16": _vgg16(),
    "GoogLeNet": _googlenet(),
    "ResNet-18": _resnet(basic, (2, 2, 2, 2)),
    "ResNet-34": _resnet(basic, (3, 4, 6, 3)),
    "ResNet-50": _resnet(bottleneck, (3, 4, 6, 3)),
}
