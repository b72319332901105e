"""PyTorch CPU training a model's twin with bench/train_models.py's recipe: how long the same epochs take PyTorch.

    CIFAR10_PATH=... python bench/train_torch_twin.py --model vgg --epochs 1 --crop-pad 2 --lr 0.1

A time target for our engine means little if PyTorch itself misses it on the machine. This trains
``bench/torch_twins.torch_twin(helpers.models.build(model))`` (same layers, same initial weights) with the same
pipeline as ``helpers.train.fit``: the same shuffles, crops and flips (``helpers.train.augment_batch``, in NumPy,
from the same seed), batch 128, SGD with momentum 0.9 and weight decay 5e-4 on the weights only, the cosine
schedule step by step, the 10,000 test images evaluated after every epoch in batches of 100, and counts the same
seconds. PyTorch runs on as many threads as the machine has cores. PyTorch's SGD puts the learning rate after the
momentum (ours before), so accuracies may differ slightly; the times are what it is for. Writes
``bench/results/train_torch_<model>.json``, as train_models.py does (needs ``pip install torch``, which the course
never does).
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

from forced_blas import rerun_without_forced_blas, unset_note  # this folder is on sys.path

if __name__ == "__main__":
    rerun_without_forced_blas()  # as train_models.py does, so that both run under the same conditions

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers import data as cifar, models  # noqa: E402
from helpers.optim import cosine_schedule  # noqa: E402
from helpers.train import augment_batch  # noqa: E402
from machine import code_version, cpu  # noqa: E402
from torch_twins import torch_twin  # noqa: E402


def evaluate(twin, x, y, batch_size=100):
    """Test accuracy of ``twin`` in evaluation mode, as helpers.train.evaluate batches it."""
    twin.eval()
    with torch.no_grad():
        scores = torch.cat([twin(torch.from_numpy(x[i:i + batch_size])) for i in range(0, len(x), batch_size)])
    twin.train()
    return float((scores.argmax(dim=1).numpy() == y).mean())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vgg", help="any helpers.models.build name")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--data", help="CIFAR-10 tarball or folder (default: CIFAR10_PATH)")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--crop-pad", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="result JSON (default bench/results/train_torch_<model>.json)")
    args = parser.parse_args(argv)
    torch.set_num_threads(os.cpu_count())
    code = code_version()  # before the run: later commits must not be credited with it
    data = cifar.load_cifar10(args.data)
    model = models.build(args.model, seed=args.seed)
    twin = torch_twin(model).train()
    decay = [p for p in twin.parameters() if p.ndim > 1]
    others = [p for p in twin.parameters() if p.ndim <= 1]
    sgd = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4}, {"params": others, "weight_decay": 0.0}],
                          lr=args.lr, momentum=0.9)
    rng = np.random.default_rng(args.seed)
    n = len(data.x_train)
    lr_at = cosine_schedule(args.lr, args.epochs * -(-n // args.batch_size))
    seconds, test_acc, step = [], [], 0
    for epoch in range(1, args.epochs + 1):
        start, order = time.perf_counter(), rng.permutation(n)
        for i in range(0, n, args.batch_size):
            idx = order[i:i + args.batch_size]
            xb = augment_batch(data.x_train[idx], rng, args.crop_pad)
            for group in sgd.param_groups:
                group["lr"] = lr_at(step)
            sgd.zero_grad()
            F.cross_entropy(twin(torch.from_numpy(xb)), torch.from_numpy(data.y_train[idx])).backward()
            sgd.step()
            step += 1
        test_acc.append(evaluate(twin, data.x_test, data.y_test))
        seconds.append(time.perf_counter() - start)
        print(f"epoch {epoch}: test acc {test_acc[-1]:.4f}  {seconds[-1]:.0f} s", flush=True)
    result = {"command": "python bench/train_torch_twin.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "model": model.name, "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
              "processor": cpu(), "code": code, "forced_blas_unset": unset_note(), "epochs": args.epochs,
              "batch_size": args.batch_size, "lr": args.lr, "crop_pad": args.crop_pad, "seconds": seconds,
              "test_acc": test_acc, "load_average_at_end": os.getloadavg()}
    out = Path(args.out or ROOT / "bench" / "results" / f"train_torch_{args.model}.json")
    out.write_text(json.dumps(result, indent=1))
    print(f"{model.name} on PyTorch {torch.__version__}: {sum(seconds):.0f} s for {args.epochs} epochs -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
