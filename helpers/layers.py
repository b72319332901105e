"""Layers that hold their parameters and gradients, built on forward/backward function pairs (NCHW).

Every layer has ``params`` and ``grads`` (dicts name -> array, same keys), ``forward(x, train=True) -> out``
and ``backward(dout) -> dx``; ``backward`` uses what the last ``forward`` cached. By default a layer calls the
fast kernels of ``helpers.kernels``; pass your own pair to use your code instead, e.g.
``Conv2d(3, 6, 5, forward=conv_forward, backward=conv_backward)`` with the functions you wrote in
assignment 02: they have the same signatures.

Parameters are created on the chosen device (``helpers.backend``) in float32, with He initialisation for
layers followed by ReLU.
"""
import numpy as np

from . import kernels
from .backend import to_device, xp


def _he(shape, fan_in, rng):
    return to_device(rng.standard_normal(shape) * np.sqrt(2.0 / fan_in), dtype=np.float32)


class Layer:
    """Base class: no parameters; subclasses set ``params``/``grads`` and implement forward/backward."""

    def __init__(self):
        self.params, self.grads, self.buffers = {}, {}, {}

    def children(self):
        """The layers inside this one (none for a plain layer)."""
        return ()

    def forward(self, x, train=True):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    def __repr__(self):
        return type(self).__name__ + "()"


class Conv2d(Layer):
    """Convolution: x (N, in_ch, H, W) -> (N, out_ch, H', W'); w (out_ch, in_ch, size, size), b (out_ch,).

    ``bias=False`` for a convolution followed by batch norm (whose beta does the bias's job).
    ``input_grad=False`` (set by ``helpers.models.Model`` on its first layer, whose input is the images):
    ``backward`` computes only the parameters' gradients and returns None.
    """

    def __init__(self, in_ch, out_ch, size, stride=1, pad=0, bias=True, rng=None, forward=None, backward=None,
                 input_grad=True):
        super().__init__()
        rng = rng or np.random.default_rng()
        self.stride, self.pad, self.bias, self.input_grad = stride, pad, bias, input_grad
        self.params["w"] = _he((out_ch, in_ch, size, size), in_ch * size * size, rng)
        if bias:
            self.params["b"] = xp.zeros(out_ch, dtype=np.float32)
        self._forward, self._backward = forward or kernels.conv_forward, backward or kernels.conv_backward

    def forward(self, x, train=True):
        w = self.params["w"]
        b = self.params["b"] if self.bias else xp.zeros(w.shape[0], dtype=w.dtype)
        out, self._cache = self._forward(x, w, b, stride=self.stride, pad=self.pad)
        return out

    def backward(self, dout):
        if self.input_grad or self._backward is not kernels.conv_backward:
            dx, self.grads["w"], db = self._backward(dout, self._cache)
        else:
            dx, (self.grads["w"], db) = None, kernels.conv_param_grads(dout, self._cache)
        if self.bias:
            self.grads["b"] = db
        return dx if self.input_grad else None

    def __repr__(self):
        f, c, k, _ = self.params["w"].shape
        extra = "" if self.input_grad else ", input_grad=False"
        return f"Conv2d({c}, {f}, {k}, stride={self.stride}, pad={self.pad}, bias={self.bias}{extra})"


class Linear(Layer):
    """Fully connected: x (N, D) (or (N, C, H, W), flattened) -> (N, M); w (D, M), b (M,).

    ``std``: the weights' initial standard deviation (default He's sqrt(2 / D)); a classifier gets a small one
    so that the first loss is close to ln(classes).
    """

    def __init__(self, in_features, out_features, std=None, rng=None, forward=None, backward=None):
        super().__init__()
        rng = rng or np.random.default_rng()
        std = np.sqrt(2.0 / in_features) if std is None else std
        self.params["w"] = to_device(rng.standard_normal((in_features, out_features)) * std, dtype=np.float32)
        self.params["b"] = xp.zeros(out_features, dtype=np.float32)
        self._forward, self._backward = forward or kernels.affine_forward, backward or kernels.affine_backward

    def forward(self, x, train=True):
        out, self._cache = self._forward(x, self.params["w"], self.params["b"])
        return out

    def backward(self, dout):
        dx, self.grads["w"], self.grads["b"] = self._backward(dout, self._cache)
        return dx

    def __repr__(self):
        return "Linear({}, {})".format(*self.params["w"].shape)


class _Stateless(Layer):
    """A layer made of one forward/backward pair with fixed keyword arguments and no parameters."""

    def __init__(self, forward, backward, **kwargs):
        super().__init__()
        self._forward, self._backward, self.kwargs = forward, backward, kwargs

    def forward(self, x, train=True):
        out, self._cache = self._forward(x, **self.kwargs)
        return out

    def backward(self, dout):
        return self._backward(dout, self._cache)

    def __repr__(self):
        return type(self).__name__ + "(" + ", ".join(f"{k}={v}" for k, v in self.kwargs.items()) + ")"


class ReLU(_Stateless):
    def __init__(self, forward=None, backward=None):
        super().__init__(forward or kernels.relu_forward, backward or kernels.relu_backward)


class MaxPool(_Stateless):
    """Max pooling over size x size regions moved by stride."""

    def __init__(self, size=2, stride=2, forward=None, backward=None):
        super().__init__(forward or kernels.max_pool_forward, backward or kernels.max_pool_backward,
                         size=size, stride=stride)


class AvgPool(_Stateless):
    """Average pooling over size x size regions moved by stride."""

    def __init__(self, size=2, stride=2, forward=None, backward=None):
        super().__init__(forward or kernels.avg_pool_forward, backward or kernels.avg_pool_backward,
                         size=size, stride=stride)


class Tanh(Layer):
    """tanh, as in the original LeNet-5."""

    def forward(self, x, train=True):
        self._out = xp.tanh(x)
        return self._out

    def backward(self, dout):
        return dout * (1 - self._out ** 2)


class GlobalAvgPool(Layer):
    """(N, C, H, W) -> (N, C): the mean of each channel, as ResNet uses before its classifier."""

    def forward(self, x, train=True):
        self._shape = x.shape
        return x.mean(axis=(2, 3))

    def backward(self, dout):
        n, c, h, w = self._shape
        return xp.broadcast_to((dout / (h * w))[:, :, None, None], self._shape).copy()


class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W), row-major."""

    def forward(self, x, train=True):
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(self._shape)


class BatchNorm(Layer):
    """Batch normalisation per channel (N, C, H, W) or per feature (N, D): gamma, beta (C,); running statistics
    in ``buffers`` (saved with the weights). ``train=False`` in forward normalises with the running ones."""

    def __init__(self, channels, momentum=0.9, eps=1e-5, forward=None, backward=None):
        super().__init__()
        self.params["gamma"] = xp.ones(channels, dtype=np.float32)
        self.params["beta"] = xp.zeros(channels, dtype=np.float32)
        self.buffers = {"running_mean": xp.zeros(channels, dtype=np.float32),
                        "running_var": xp.ones(channels, dtype=np.float32)}
        self.momentum, self.eps = momentum, eps
        self._forward = forward or kernels.batchnorm_forward
        self._backward = backward or kernels.batchnorm_backward

    def forward(self, x, train=True):
        # Computed in x's dtype: the running statistics are handed to the kernel in that dtype, so a float64 input
        # is normalised in float64 on every pass (with float32 buffers the first test-mode pass would otherwise
        # take 1/sqrt(var + eps) in float32). They are kept in the parameters' dtype: float32 normally, float64
        # after a switch for gradient checks.
        bn_param = {"mode": "train" if train else "test", "eps": self.eps, "momentum": self.momentum,
                    **{k: v.astype(x.dtype, copy=False) for k, v in self.buffers.items()}}
        out, self._cache = self._forward(x, self.params["gamma"], self.params["beta"], bn_param)
        dtype = self.params["gamma"].dtype
        self.buffers = {k: bn_param[k].astype(dtype, copy=False) for k in ("running_mean", "running_var")}
        return out

    def backward(self, dout):
        dx, self.grads["gamma"], self.grads["beta"] = self._backward(dout, self._cache)
        return dx

    def __repr__(self):
        return f"BatchNorm({self.params['gamma'].shape[0]})"


class Sequential(Layer):
    """Layers applied one after another; backward runs them in reverse."""

    def __init__(self, *layers):
        super().__init__()
        self.layers = list(layers)

    def children(self):
        return self.layers

    def forward(self, x, train=True):
        for layer in self.layers:
            x = layer.forward(x, train)
        return x

    def backward(self, dout):
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def __repr__(self):
        inner = "\n".join("  " + line for layer in self.layers for line in repr(layer).splitlines())
        return f"{type(self).__name__}(\n{inner}\n)"


class BasicBlock(Layer):
    """ResNet's basic block: relu(F(x) + shortcut(x)), F = conv3x3-BN-ReLU-conv3x3-BN.

    The shortcut is the identity when the shape is kept, else a 1x1 convolution with the block's stride
    followed by BN (the projection shortcut). ``residual=False`` drops the shortcut: the plain block of the same
    depth, for the degradation experiment.

    Shapes: x (N, in_ch, H, W) -> (N, out_ch, H / stride, W / stride).
    """

    def __init__(self, in_ch, out_ch, stride=1, residual=True, rng=None):
        super().__init__()
        rng = rng or np.random.default_rng()
        self.residual = residual
        self.body = Sequential(Conv2d(in_ch, out_ch, 3, stride, 1, bias=False, rng=rng), BatchNorm(out_ch), ReLU(),
                               Conv2d(out_ch, out_ch, 3, 1, 1, bias=False, rng=rng), BatchNorm(out_ch))
        self.shortcut = None
        if residual and (stride != 1 or in_ch != out_ch):
            self.shortcut = Sequential(Conv2d(in_ch, out_ch, 1, stride, 0, bias=False, rng=rng), BatchNorm(out_ch))
        self.relu = ReLU()

    def children(self):
        return [self.body] + ([self.shortcut] if self.shortcut else [])

    def forward(self, x, train=True):
        out = self.body.forward(x, train)
        if self.residual:
            out += self.shortcut.forward(x, train) if self.shortcut else x  # in place: out is the body's own
        return self.relu.forward(out, train)

    def backward(self, dout):
        dsum = self.relu.backward(dout)
        dx = self.body.backward(dsum)
        if self.residual:
            dx += self.shortcut.backward(dsum) if self.shortcut else dsum  # in place: dx is the body's own
        return dx

    def __repr__(self):
        conv = self.body.layers[0]
        f, c = conv.params["w"].shape[:2]
        kind = "projection" if self.shortcut else ("identity" if self.residual else "none")
        return f"BasicBlock({c}, {f}, stride={conv.stride}, shortcut={kind})"
