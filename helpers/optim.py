"""Stochastic gradient descent with momentum and weight decay, and learning-rate schedules.

``SGD(model, lr)`` updates every parameter of a ``helpers.models.Model`` in place from the gradients its
last ``backward`` left in ``layer.grads``:

    v <- momentum * v - lr * (grad + weight_decay * w)        w <- w + v

Weight decay applies to weights only (not to biases or batch norm's gamma and beta), as is usual.
Schedules are functions step -> learning rate.
"""
import math

from .backend import xp


NO_DECAY = ("b", "gamma", "beta")


class SGD:
    """SGD with (heavy-ball) momentum and L2 weight decay over a model's parameters."""

    def __init__(self, model, lr, momentum=0.9, weight_decay=5e-4):
        if lr <= 0 or not 0 <= momentum < 1 or weight_decay < 0:
            raise ValueError(f"need lr > 0, 0 <= momentum < 1, weight_decay >= 0; got {lr}, {momentum}, {weight_decay}")
        self.model, self.lr, self.momentum, self.weight_decay = model, lr, momentum, weight_decay
        self.velocity = {}

    def step(self):
        """One update of every parameter from its current gradient, in place (v and w keep their buffers)."""
        for name, layer, key in self.model.parameters():
            w, grad = layer.params[key], layer.grads[key]
            v = self.velocity.get(name)
            if v is None:
                v = self.velocity[name] = xp.zeros_like(w)  # a first step from v = 0 is plain gradient descent
            v *= self.momentum
            v -= self.lr * grad
            if self.weight_decay and key not in NO_DECAY:
                v -= (self.lr * self.weight_decay) * w
            w += v


def constant_schedule(base_lr):
    return lambda step: base_lr


def cosine_schedule(base_lr, total_steps, warmup=0):
    """Linear warm-up over ``warmup`` steps, then half a cosine from base_lr down to 0 at ``total_steps``."""
    def lr(step):
        if step < warmup:
            return base_lr * (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return 0.5 * base_lr * (1 + math.cos(math.pi * progress))
    return lr


def step_schedule(base_lr, milestones, gamma=0.1):
    """base_lr, multiplied by ``gamma`` at each step in ``milestones`` (e.g. [50 epochs, 75 epochs] in steps)."""
    milestones = sorted(milestones)
    return lambda step: base_lr * gamma ** sum(step >= m for m in milestones)
