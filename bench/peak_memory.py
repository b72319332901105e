"""Peak resident memory of training steps of one model, ours or its PyTorch twin, in this (fresh) process.

    python bench/peak_memory.py lenet|vgg|resnet20 ours|torch [--batch 128] [--steps 3]

Builds the model (and, for ``torch``, its twin from ``bench/torch_twins.py``; ``ours`` never imports torch),
draws one random float32 batch, then runs ``--steps`` training steps (forward, loss, backward, SGD with momentum
and weight decay). Prints one JSON line: ``before_mb``, the resident set once everything is imported and built;
``peak_mb``, the peak resident set during the steps (Linux's VmHWM, reset just before them, so that the imports'
own peak does not count; ``ru_maxrss`` where it cannot be reset); ``ru_maxrss_mb``, the process's peak since it
started. ``bench/engine_vs_torch.py`` runs it in a fresh subprocess per model and side.
"""
import argparse
import json
import resource
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from helpers import kernels as K, models, optim  # noqa: E402


def status_mb(field):
    """VmRSS (resident now) or VmHWM (peak resident) of this process, from /proc/self/status, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB
    raise KeyError(field)


def reset_peak():
    """Sets VmHWM back to the current resident set; False where the kernel does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def ru_maxrss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("side", choices=["ours", "torch"])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, 3, 32, 32), dtype=np.float32)
    y = rng.integers(0, 10, size=args.batch)
    model = models.build(args.model)
    if args.side == "ours":
        sgd = optim.SGD(model, lr=0.01, momentum=0.9, weight_decay=5e-4)

        def step():
            _, dscores = K.softmax_cross_entropy(model.forward(x, train=True), y)
            model.backward(dscores)
            sgd.step()
    else:
        import torch
        import torch.nn.functional as F
        from torch_twins import torch_twin
        twin = torch_twin(model).train()
        del model
        tsgd = torch.optim.SGD(twin.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        tx, ty = torch.tensor(x), torch.tensor(y)

        def step():
            tsgd.zero_grad()
            F.cross_entropy(twin(tx), ty).backward()
            tsgd.step()
    before, reset = status_mb("VmRSS"), reset_peak()
    for _ in range(args.steps):
        step()
    peak = status_mb("VmHWM") if reset else ru_maxrss_mb()
    print(json.dumps({"model": args.model, "side": args.side, "batch": args.batch, "before_mb": before,
                      "peak_mb": peak, "peak_since": "steps" if reset else "start", "ru_maxrss_mb": ru_maxrss_mb()}))


if __name__ == "__main__":
    main()
