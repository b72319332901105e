"""The degradation experiment at mini scale: plain and residual CIFAR nets of two depths, trained the same way.

He et al. (2015), the notes' "simply stacking layers?" slide: on CIFAR-10 a 56-layer plain net has a higher
training error than a 20-layer one, while the 56-layer ResNet trains better than the 20-layer ResNet. This script
trains ``helpers.models.resnet(n, plain=...)`` for each depth 6n + 2 and both families with ``helpers.train.fit``
(same data, seed, schedule and augmentation for all four) and records the error curves per epoch.

    python bench/degradation.py [--data PATH] [--train 5000] [--test 1000] [--epochs 25] [--depths 20 56]
                                [--batch-size 128] [--lr 0.05] [--weight-decay 1e-4] [--out FILE]

The data is CIFAR-10 from ``--data`` or ``CIFAR10_PATH`` (the official tarball, or any copy in its layout); the
training error is the one ``fit`` measures during each epoch (augmented batches, batch norm in train mode), as
in the paper's curves. It runs on the GPU when CuPy and a CUDA device are there (``helpers.backend``), else on
the CPU (slow: hours for the defaults). Writes ``bench/results/degradation.json``:

    {"config": {...}, "machine": "GPU: ...", "runs": {"plain-20": {"epoch": [...], "train_error": [...],
     "test_error": [...], "train_loss": [...], "test_loss": [...], "params": 269722, "seconds": 61.0}, ...}}

and prints one line per net. The notebook of assignment 04 plots that file.
"""
import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers import backend, data, models, train  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "degradation.json"


def run(name, n, plain, cifar, args):
    """Trains one net; its curves as a dict of lists (errors as fractions), its size and its time."""
    model = models.resnet(n, widths=tuple(args.widths), plain=plain, seed=args.seed)
    start = time.perf_counter()
    history = train.fit(model, cifar, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                        weight_decay=args.weight_decay, seed=args.seed, progress=args.progress)
    seconds = time.perf_counter() - start
    result = {"epoch": history["epoch"], "train_error": [1 - a for a in history["train_acc"]],
              "test_error": [1 - a for a in history["test_acc"]], "train_loss": history["train_loss"],
              "test_loss": history["test_loss"], "params": model.num_params(), "seconds": round(seconds, 1)}
    print(f"{name:10s} {result['params']:9,d} params  final train error {100 * result['train_error'][-1]:5.1f} %"
          f"  test error {100 * result['test_error'][-1]:5.1f} %  ({seconds:6.1f} s)", flush=True)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None, help="CIFAR-10 tarball or folder (default: CIFAR10_PATH)")
    parser.add_argument("--train", type=int, default=5000, help="training images (stratified subset)")
    parser.add_argument("--test", type=int, default=1000, help="test images (stratified subset)")
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--depths", type=int, nargs="+", default=[20, 56], help="depths 6n + 2")
    parser.add_argument("--widths", type=int, nargs=3, default=[16, 32, 64])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--progress", action="store_true", help="show a progress bar per net")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    for depth in args.depths:
        if depth < 8 or (depth - 2) % 6:
            parser.error(f"every depth must be 6n + 2 with n >= 1 (20, 32, 44, 56, ...); got {depth}")

    cifar = data.load_cifar10(args.data, subset=args.train, test_subset=args.test)
    print(f"{backend.describe()}; {len(cifar.x_train)} training and {len(cifar.x_test)} test images, "
          f"{args.epochs} epochs", flush=True)
    config = {k: v for k, v in vars(args).items() if k not in ("data", "out", "progress")}
    result = {"config": config, "machine": backend.describe(), "runs": {}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for depth in args.depths:
        for plain in (True, False):
            name = f"{'plain' if plain else 'resnet'}-{depth}"
            result["runs"][name] = run(name, (depth - 2) // 6, plain, cifar, args)
            args.out.write_text(json.dumps(result, indent=1) + "\n")   # after every net: a cut run keeps its nets
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
