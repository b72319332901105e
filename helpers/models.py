"""The networks students train: LeNet-5, a mini VGG, ResNet-(6n+2) and its plain twin, and ResNet-9, for 3 x 32 x 32
input.

``build("lenet" | "vgg" | "resnet20" | "plain20" | "resnet56" | "resnet9" ...)`` makes one by name. Every model is a
``Model``: a ``Sequential`` that also lists its parameters, counts them, prints a layer table, and saves and
loads its weights (with batch norm's running statistics) as ``.npz``.
"""
import re
from pathlib import Path

import numpy as np

from .backend import to_device, to_numpy, xp
from .layers import (BasicBlock, BatchNorm, Conv2d, Flatten, GlobalAvgPool, Linear, MaxPool, ReLU, Sequential,
                     Tanh)

# Initial weight scale of the last layer: small, so the untrained net's loss is close to ln(10)
CLASSIFIER_STD = 0.01
VGG_WIDTHS = (32, 64, 128)    # the mini VGG's three stages
RESNET_WIDTHS = (16, 32, 64)  # the CIFAR ResNets of He et al.
RESNET9_WIDTHS = (16, 32, 64, 128)  # ResNet-9 at a quarter of its DAWNBench widths
NAMES = ("lenet", "lenet-tanh", "vgg", "resnet20", "plain20", "resnetN / plainN with N = 6n + 2", "resnet9")


class Model(Sequential):
    """A network: layers in order, plus bookkeeping over every parameter inside them.

    Its input is data, which needs no gradient: a first Conv2d computes only its parameters' gradients
    (``input_grad=False``; PyTorch skips that gradient too, and in LeNet-5 it was a quarter of a training step),
    and ``backward`` then returns None.
    """

    def __init__(self, *layers, name="model"):
        super().__init__(*layers)
        self.name = name
        if self.layers and isinstance(self.layers[0], Conv2d):
            self.layers[0].input_grad = False

    def named_layers(self, prefix=""):
        """(dotted name, layer) for every layer that holds parameters or buffers, depth first."""
        found = []

        def walk(layer, name):
            if layer.params or layer.buffers:
                found.append((name, layer))
            for i, child in enumerate(layer.children()):
                walk(child, f"{name}.{i}" if name else str(i))
        walk(self, prefix)
        return found

    def parameters(self):
        """[(name, layer, key)]: layer.params[key] is the parameter, layer.grads[key] its latest gradient."""
        return [(f"{name}.{key}", layer, key) for name, layer in self.named_layers() for key in layer.params]

    def num_params(self):
        return _count_params(self)

    def state_dict(self):
        """{name: NumPy array} of every parameter and buffer."""
        state = {}
        for name, layer in self.named_layers():
            for key, value in {**layer.params, **layer.buffers}.items():
                state[f"{name}.{key}"] = to_numpy(value)
        return state

    def save(self, path, **extra):
        """Writes the weights to ``path`` (.npz), with any ``extra`` arrays (e.g. the data's mean and std)."""
        np.savez(path, **self.state_dict(), **{k: to_numpy(v) for k, v in extra.items()})

    def load(self, path):
        """Reads weights saved by ``save``; ValueError naming the first missing or misshapen entry."""
        with np.load(Path(path)) as saved:
            stored = {k: saved[k] for k in saved.files}
        for name, layer in self.named_layers():
            for group in (layer.params, layer.buffers):
                for key, value in group.items():
                    full = f"{name}.{key}"
                    if full not in stored or stored[full].shape != value.shape:
                        found = f"shape {stored[full].shape}" if full in stored else "nothing"
                        raise ValueError(f"{path} has {found} for {full} where {self.name} needs shape {value.shape}: "
                                         "was it saved from a different model?")
                    group[key] = to_device(stored[full], dtype=np.float32)
        return self

    def summary(self, input_shape=(3, 32, 32)):
        """Layer table [(name, output shape without the batch, parameters)] from one forward pass of a zero image."""
        rows, x = [], xp.zeros((1, *input_shape), dtype=np.float32)
        for i, layer in enumerate(self.layers):
            x = layer.forward(x, train=False)
            params = _count_params(layer)
            rows.append((f"{i}: {layer!r}".splitlines()[0], tuple(x.shape[1:]), params))
        return rows

    def print_summary(self, input_shape=(3, 32, 32)):
        rows = self.summary(input_shape)
        width = max(len(r[0]) for r in rows)
        print(f"{self.name}: input {input_shape}")
        for name, shape, params in rows:
            print(f"  {name:<{width}}  {str(shape):<16} {params:>10,}")
        print(f"  {'total':<{width}}  {'':<16} {self.num_params():>10,}")


def _count_params(layer):
    """Number of parameters in ``layer`` and every layer inside it."""
    return sum(int(p.size) for p in layer.params.values()) + sum(_count_params(c) for c in layer.children())


def lenet5(activation="relu", num_classes=10, seed=0):
    """LeNet-5 as in the lecture notes, on 3 x 32 x 32: CONV5(6)-POOL2-CONV5(16)-POOL2-FC120-FC84-FC10.

    ``activation`` is "relu" (today's choice) or "tanh" (the 1998 original); pooling is max pooling.
    """
    if activation not in ("relu", "tanh"):
        raise ValueError(f'activation must be "relu" or "tanh"; got {activation!r}')
    act = ReLU if activation == "relu" else Tanh
    rng = np.random.default_rng(seed)
    return Model(Conv2d(3, 6, 5, rng=rng), act(), MaxPool(2, 2),
                 Conv2d(6, 16, 5, rng=rng), act(), MaxPool(2, 2), Flatten(),
                 Linear(16 * 5 * 5, 120, rng=rng), act(), Linear(120, 84, rng=rng), act(),
                 Linear(84, num_classes, std=CLASSIFIER_STD, rng=rng), name=f"LeNet-5 ({activation})")


def mini_vgg(widths=VGG_WIDTHS, num_classes=10, seed=0):
    """VGG in miniature: for each width two CONV3(pad 1)-BN-ReLU then POOL2; global average pooling; FC.

    32 x 32 -> 16 -> 8 -> 4 with channels doubling, as VGG-16 does over its five stages. The average over the
    last 4 x 4 map stands in for VGG's big FC layers (which would hold most of the parameters and, on 2048
    positive inputs, make SGD diverge at the learning rates the convolutions want).
    """
    rng = np.random.default_rng(seed)
    layers, in_ch = [], 3
    for width in widths:
        for _ in range(2):
            layers += [Conv2d(in_ch, width, 3, 1, 1, bias=False, rng=rng), BatchNorm(width), ReLU()]
            in_ch = width
        layers.append(MaxPool(2, 2))
    layers += [GlobalAvgPool(), Linear(in_ch, num_classes, std=CLASSIFIER_STD, rng=rng)]
    return Model(*layers, name="mini VGG " + "-".join(map(str, widths)))


def resnet(n=3, widths=RESNET_WIDTHS, plain=False, num_classes=10, seed=0):
    """The CIFAR ResNet of He et al. (2016): CONV3(16)-BN-ReLU, then 3 stages of n basic blocks (16, 32, 64
    filters; each later stage halves the size with a stride-2 block and a projection shortcut), global average
    pooling, FC. Depth 6n + 2 (n=3: ResNet-20). ``plain=True`` is the same net without shortcuts."""
    rng = np.random.default_rng(seed)
    layers = [Conv2d(3, widths[0], 3, 1, 1, bias=False, rng=rng), BatchNorm(widths[0]), ReLU()]
    in_ch = widths[0]
    for stage, width in enumerate(widths):
        for block in range(n):
            stride = 2 if stage > 0 and block == 0 else 1
            layers.append(BasicBlock(in_ch, width, stride, residual=not plain, rng=rng))
            in_ch = width
    layers += [GlobalAvgPool(), Linear(in_ch, num_classes, std=CLASSIFIER_STD, rng=rng)]
    name = f"{'plain' if plain else 'ResNet'}-{6 * n + 2}"
    return Model(*layers, name=name if tuple(widths) == RESNET_WIDTHS else name + " " + "-".join(map(str, widths)))


def resnet9(widths=RESNET9_WIDTHS, num_classes=10, seed=0):
    """ResNet-9 (Page, "How to train your ResNet", 2018, the DAWNBench CIFAR-10 net) with the course's blocks:
    CONV3(w1)-BN-ReLU at 32 x 32; CONV3(w2)-BN-ReLU, POOL2 and a BasicBlock(w2) at 16 x 16; CONV3(w3)-BN-ReLU and
    POOL2 to 8 x 8; CONV3(w4)-BN-ReLU, POOL2 and a BasicBlock(w4) at 4 x 4; global average pooling; FC.

    Few convolutions at full resolution, most of its work at 16 x 16 and below: a fast net to train.
    """
    rng = np.random.default_rng(seed)
    w1, w2, w3, w4 = widths

    def conv_bn_relu(in_ch, out_ch):
        return [Conv2d(in_ch, out_ch, 3, 1, 1, bias=False, rng=rng), BatchNorm(out_ch), ReLU()]
    layers = (conv_bn_relu(3, w1) + conv_bn_relu(w1, w2) + [MaxPool(2, 2), BasicBlock(w2, w2, 1, rng=rng)]
              + conv_bn_relu(w2, w3) + [MaxPool(2, 2)]
              + conv_bn_relu(w3, w4) + [MaxPool(2, 2), BasicBlock(w4, w4, 1, rng=rng)]
              + [GlobalAvgPool(), Linear(w4, num_classes, std=CLASSIFIER_STD, rng=rng)])
    return Model(*layers, name="ResNet-9 " + "-".join(map(str, widths)))


def build(name, seed=0, widths=None):
    """A model by name: "lenet", "lenet-tanh", "vgg", "resnet20", "plain20", resnetN / plainN (N = 6n + 2), "resnet9".

    ``widths``: the three stages' channel counts of "vgg" and the ResNets (default VGG_WIDTHS, RESNET_WIDTHS); the
    four convolutions' of "resnet9" (RESNET9_WIDTHS).
    """
    if name in ("lenet", "lenet-tanh"):
        if widths is not None:
            raise ValueError("LeNet-5 has no widths to choose")
        return lenet5("tanh" if name.endswith("tanh") else "relu", seed=seed)
    if name == "resnet9":
        if widths is not None and (len(widths) != 4 or any(int(w) != w or w < 1 for w in widths)):
            raise ValueError(f"ResNet-9's widths are four positive channel counts; got {widths!r}")
        return resnet9(widths or RESNET9_WIDTHS, seed=seed)
    if widths is not None and (len(widths) != 3 or any(int(w) != w or w < 1 for w in widths)):
        raise ValueError(f"widths must be three positive channel counts; got {widths!r}")
    if name == "vgg":
        return mini_vgg(widths or VGG_WIDTHS, seed=seed)
    match = re.fullmatch(r"(resnet|plain)(\d+)", name)
    if match and (int(match[2]) - 2) % 6 == 0 and int(match[2]) >= 8:
        return resnet((int(match[2]) - 2) // 6, widths or RESNET_WIDTHS, plain=match[1] == "plain", seed=seed)
    raise ValueError(f"unknown model {name!r}: choose from {', '.join(NAMES)}")
