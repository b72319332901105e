"""Full-mode training figures for the README: each model trained on CIFAR-10 with helpers.train.fit.

    CIFAR10_PATH=... python bench/train_models.py --model lenet [--epochs 20] [--save lenet5.npz]

Trains with SGD + momentum 0.9, weight decay 5e-4, a cosine schedule, random crops and flips (the defaults of
``helpers.train.fit``), evaluates on the 10,000 test images after every epoch, and writes
``bench/results/train_<model>.json``: the command, the machine (processor, BLAS kernel: ``bench/machine.py``) and
its sgemm GFLOP/s before and after (a shared machine's speed varies), the per-epoch curves (train/test loss and
accuracy, learning rate, seconds), the final test accuracy and the wall time. ``--save`` also writes the trained
weights as a checkpoint that assignment 05's grader reads: the model's weights plus ``mean`` and ``std`` (3,),
the per-channel statistics the images were normalised with. ``--crop-pad`` sets the crops' padding (4; 2 suits
LeNet-5, which underfits with 4).

Run with NumPy's BLAS at its best: when OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE is set, the script re-runs itself
without them and records it (``bench/forced_blas.py``).
"""
import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from forced_blas import rerun_without_forced_blas, unset_note  # this folder is on sys.path

if __name__ == "__main__":
    rerun_without_forced_blas()  # before NumPy loads OpenBLAS

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers import backend, data as cifar, models, train  # noqa: E402
from machine import blas_info, code_version, cpu, describe  # noqa: E402
from timing import peak_gflops  # noqa: E402

DEFAULT_EPOCHS = {"lenet": 20, "vgg": 30, "resnet8": 30, "resnet9": 15, "resnet20": 30}


def save_checkpoint(model, data, path):
    """The model's weights and the normalisation statistics, as one .npz."""
    model.save(path, mean=np.asarray(data.mean, np.float64), std=np.asarray(data.std, np.float64))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lenet",
                        help="lenet, vgg, resnet9 (assignment 05's three) or any helpers.models.build name")
    parser.add_argument("--epochs", type=int, help=f"default per model: {DEFAULT_EPOCHS}")
    parser.add_argument("--data", help="CIFAR-10 tarball or folder (default: CIFAR10_PATH)")
    parser.add_argument("--widths",
                        help="channels: vgg's or a CIFAR ResNet's three stages, e.g. 32,64,128; resnet9's four")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--crop-pad", type=int, default=4, help="random crops' padding; 0: flips only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", help="write a checkpoint (weights + mean + std) to this .npz")
    parser.add_argument("--out", help="result JSON (default bench/results/train_<model>.json)")
    args = parser.parse_args(argv)
    epochs = args.epochs or DEFAULT_EPOCHS.get(args.model, 20)
    out = Path(args.out or ROOT / "bench" / "results" / f"train_{args.model}.json")

    code = code_version()  # before the run: later commits must not be credited with it
    sgemm_before = peak_gflops(3)  # the machine's speed at the start and at the end: a shared one varies
    start = time.perf_counter()
    data = cifar.load_cifar10(args.data)
    widths = tuple(int(w) for w in args.widths.split(",")) if args.widths else None
    model = models.build(args.model, seed=args.seed, widths=widths)
    print(f"{model.name}: {model.num_params():,} parameters, {epochs} epochs on {backend.describe()}", flush=True)

    def log(history):
        print(f"epoch {history['epoch'][-1]:>3}: train loss {history['train_loss'][-1]:.3f} acc "
              f"{history['train_acc'][-1]:.3f}  test acc {history['test_acc'][-1]:.4f}  "
              f"{history['seconds'][-1]:.0f} s", flush=True)

    history = train.fit(model, data, epochs=epochs, batch_size=args.batch_size, lr=args.lr, crop_pad=args.crop_pad,
                        seed=args.seed, progress=False, on_epoch=log)
    wall = time.perf_counter() - start
    sgemm_after = peak_gflops(3)
    if args.save:
        save_checkpoint(model, data, args.save)
    result = {
        "command": "python bench/train_models.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "model": model.name, "params": model.num_params(), "device": backend.describe(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.python_implementation()} "
                   f"{platform.python_version()}",
        "code": code, "processor": cpu(), "numpy_blas": blas_info(), "forced_blas_unset": unset_note(),
        "sgemm_gflops": {"before": round(sgemm_before), "after": round(sgemm_after)},
        "epochs": epochs, "batch_size": args.batch_size, "lr": args.lr, "momentum": 0.9, "weight_decay": 5e-4,
        "schedule": "cosine",
        "augment": (f"random crop (pad {args.crop_pad}) + " if args.crop_pad else "") + "horizontal flip",
        "final_test_acc": history["test_acc"][-1], "best_test_acc": max(history["test_acc"]),
        "train_seconds": sum(history["seconds"]), "wall_seconds": wall, "load_average_at_end": os.getloadavg(),
        "history": {k: v for k, v in history.items() if k != "step_loss"},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"test accuracy {result['final_test_acc']:.4f}; {result['train_seconds']:.0f} s training, "
          f"{wall:.0f} s in all on {describe(result['processor'])}, BLAS kernel {result['numpy_blas']['kernel']} "
          f"(sgemm {sgemm_before:.0f} GFLOP/s before, {sgemm_after:.0f} after) -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
