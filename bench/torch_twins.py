"""PyTorch twins of the helpers' models, with the same weights, for benchmarks and agreement tests.

``torch_twin(model)`` walks a ``helpers.models.Model`` and builds the equivalent ``torch.nn`` module, copying
every parameter and running statistic (Linear weights transposed: ours are (D, M), torch's (M, D)). PyTorch is
needed only here, never by the course.
"""
import torch
from torch import nn

from helpers import layers as L
from helpers.backend import to_numpy


def _tensor(a):
    return torch.tensor(to_numpy(a))


class _Block(nn.Module):
    """torch version of helpers.layers.BasicBlock."""

    def __init__(self, block):
        super().__init__()
        self.body = _convert(block.body)
        self.shortcut = _convert(block.shortcut) if block.shortcut else None
        self.residual = block.residual

    def forward(self, x):
        out = self.body(x)
        if self.residual:
            out = out + (self.shortcut(x) if self.shortcut is not None else x)
        return torch.relu(out)


def _convert(layer):
    if isinstance(layer, L.Sequential):
        return nn.Sequential(*[_convert(child) for child in layer.layers])
    if isinstance(layer, L.BasicBlock):
        return _Block(layer)
    if isinstance(layer, L.Conv2d):
        w = layer.params["w"]
        conv = nn.Conv2d(w.shape[1], w.shape[0], w.shape[2], layer.stride, layer.pad, bias=layer.bias)
        conv.weight.data = _tensor(w)
        if layer.bias:
            conv.bias.data = _tensor(layer.params["b"])
        return conv
    if isinstance(layer, L.Linear):
        w = layer.params["w"]
        linear = nn.Linear(*w.shape)
        linear.weight.data, linear.bias.data = _tensor(w).T.contiguous(), _tensor(layer.params["b"])
        return linear
    if isinstance(layer, L.BatchNorm):
        bn = nn.BatchNorm2d(layer.params["gamma"].shape[0], eps=layer.eps, momentum=1 - layer.momentum)
        bn.weight.data, bn.bias.data = _tensor(layer.params["gamma"]), _tensor(layer.params["beta"])
        bn.running_mean.data = _tensor(layer.buffers["running_mean"])
        bn.running_var.data = _tensor(layer.buffers["running_var"])
        return bn
    if isinstance(layer, L.MaxPool):
        return nn.MaxPool2d(layer.kwargs["size"], layer.kwargs["stride"])
    if isinstance(layer, L.AvgPool):
        return nn.AvgPool2d(layer.kwargs["size"], layer.kwargs["stride"])
    simple = {L.ReLU: nn.ReLU, L.Tanh: nn.Tanh, L.Flatten: nn.Flatten}
    if type(layer) in simple:
        return simple[type(layer)]()
    if isinstance(layer, L.GlobalAvgPool):
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    raise TypeError(f"no torch twin for {layer!r}")


def torch_twin(model):
    """An ``nn.Sequential`` computing what ``model`` computes, with copies of its weights."""
    return _convert(model)
