"""The helpers engine against PyTorch CPU and against naive code, side by side in one process.

    python bench/engine_vs_torch.py [--repeat 7] [--batch 128] [--naive-batch 4] [--quick]

For every layer shape of the course's networks (batch 128, float32): our forward+backward time, PyTorch's
(torch.nn.functional, same threads), the ratio ours/torch, our GFLOP/s; for convolutions also the course's
naive loops (assignment 02's reference solution, timed on a small batch and scaled to the full one) and how many
times faster ours is. Then pooling, batch norm, ReLU and affine layers, and one whole training step (forward,
loss, backward, SGD with momentum and weight decay) of LeNet-5, the mini VGG and ResNet-20 against their PyTorch
twins. Times are medians of ``--repeat`` runs after one warm-up. Prints a table and writes JSON to
bench/results/engine_vs_torch.json. Needs ``pip install torch`` (never a course dependency).
"""
import argparse
import json
import math
import os
import platform
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from helpers import kernels as K, models, optim  # noqa: E402
from timing import median_time  # noqa: E402
from torch_twins import torch_twin  # noqa: E402

# (name, C, H, F, k, stride, pad): the convolutions of LeNet-5, the mini VGG and ResNet-20
CONVS = [("LeNet conv1 3>6 5x5 @32", 3, 32, 6, 5, 1, 0), ("LeNet conv2 6>16 5x5 @14", 6, 14, 16, 5, 1, 0),
         ("VGG 3>32 3x3 @32", 3, 32, 32, 3, 1, 1), ("VGG 32>32 3x3 @32", 32, 32, 32, 3, 1, 1),
         ("VGG 32>64 3x3 @16", 32, 16, 64, 3, 1, 1), ("VGG 64>64 3x3 @16", 64, 16, 64, 3, 1, 1),
         ("VGG 64>128 3x3 @8", 64, 8, 128, 3, 1, 1), ("VGG 128>128 3x3 @8", 128, 8, 128, 3, 1, 1),
         ("ResNet 16>16 3x3 @32", 16, 32, 16, 3, 1, 1), ("ResNet 32>32 3x3 @16", 32, 16, 32, 3, 1, 1),
         ("ResNet 64>64 3x3 @8", 64, 8, 64, 3, 1, 1), ("ResNet 16>32 3x3 stride 2 @32", 16, 32, 32, 3, 2, 1),
         ("ResNet 16>32 1x1 stride 2 @32 (projection)", 16, 32, 32, 1, 2, 0)]



def peak_gflops(repeat):
    a = np.random.default_rng(0).standard_normal((4096, 4096), dtype=np.float32)
    return 2 * 4096 ** 3 / median_time(lambda: a @ a, repeat) / 1e9


def naive_conv():
    """The reference solution's conv_forward / conv_backward (assignment 02), as a student writes them."""
    from test_solutions_vs_kernels import CONVOLUTION, solution_namespace
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):  # its demo cells print
        ns = solution_namespace(CONVOLUTION)
    return ns["conv_forward"], ns["conv_backward"]


def bench_convs(batch, naive_batch, repeat, rng):
    naive_forward, naive_backward = naive_conv()
    rows = []
    for name, c, h, f, k, stride, pad in CONVS:
        x = rng.standard_normal((batch, c, h, h), dtype=np.float32)
        w = rng.standard_normal((f, c, k, k), dtype=np.float32) * 0.1
        b = np.zeros(f, np.float32)
        out, cache = K.conv_forward(x, w, b, stride, pad)
        dout = rng.standard_normal(out.shape, dtype=np.float32)
        ours = median_time(lambda: K.conv_backward(dout, K.conv_forward(x, w, b, stride, pad)[1]), repeat)
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        tdout = torch.tensor(dout)
        theirs = median_time(lambda: F.conv2d(tx, tw, tb, stride, pad).backward(tdout), repeat)
        xs, ds = x[:naive_batch], dout[:naive_batch]
        naive = median_time(lambda: naive_backward(ds, naive_forward(xs, w, b, stride, pad)[1]), 1)
        naive *= batch / naive_batch
        flops = 3 * 2 * out.size * c * k * k  # forward, dx and dw each one multiply-add per weight and output
        rows.append({"layer": name, "ours_ms": ours * 1e3, "torch_ms": theirs * 1e3, "ratio": ours / theirs,
                     "gflops": flops / ours / 1e9, "naive_ms": naive * 1e3, "naive_over_ours": naive / ours})
    return rows


def bench_other_layers(batch, repeat, rng):
    x = rng.standard_normal((batch, 32, 32, 32), dtype=np.float32)
    d_half = rng.standard_normal((batch, 32, 16, 16), dtype=np.float32)
    d_full = rng.standard_normal(x.shape, dtype=np.float32)
    gamma, beta = np.ones(32, np.float32), np.zeros(32, np.float32)
    flat = rng.standard_normal((batch, 2048), dtype=np.float32)
    wfc, bfc = rng.standard_normal((2048, 512), dtype=np.float32), np.zeros(512, np.float32)
    dfc = rng.standard_normal((batch, 512), dtype=np.float32)
    tx = torch.tensor(x, requires_grad=True)
    tg, tb = torch.tensor(gamma, requires_grad=True), torch.tensor(beta, requires_grad=True)
    tflat, tw, tbias = (torch.tensor(a, requires_grad=True) for a in (flat, wfc.T.copy(), bfc))
    cases = {
        "max pool 2x2 (128, 32, 32, 32)": (
            lambda: K.max_pool_backward(d_half, K.max_pool_forward(x, 2, 2)[1]),
            lambda: F.max_pool2d(tx, 2, 2).backward(torch.tensor(d_half))),
        "avg pool 2x2 (128, 32, 32, 32)": (
            lambda: K.avg_pool_backward(d_half, K.avg_pool_forward(x, 2, 2)[1]),
            lambda: F.avg_pool2d(tx, 2, 2).backward(torch.tensor(d_half))),
        "batch norm, train (128, 32, 32, 32)": (
            lambda: K.batchnorm_backward(d_full, K.batchnorm_forward(x, gamma, beta, {"mode": "train"})[1]),
            lambda: F.batch_norm(tx, None, None, tg, tb, training=True).backward(torch.tensor(d_full))),
        "ReLU (128, 32, 32, 32)": (
            lambda: K.relu_backward(d_full, K.relu_forward(x)[1]),
            lambda: torch.relu(tx).backward(torch.tensor(d_full))),
        "affine (128, 2048) x (2048, 512)": (
            lambda: K.affine_backward(dfc, K.affine_forward(flat, wfc, bfc)[1]),
            lambda: F.linear(tflat, tw, tbias).backward(torch.tensor(dfc))),
    }
    rows = []
    for name, (ours_fn, torch_fn) in cases.items():
        ours, theirs = median_time(ours_fn, repeat), median_time(torch_fn, repeat)
        rows.append({"layer": name, "ours_ms": ours * 1e3, "torch_ms": theirs * 1e3, "ratio": ours / theirs})
    return rows


def bench_training_steps(batch, repeat, rng):
    rows = []
    x = rng.standard_normal((batch, 3, 32, 32), dtype=np.float32)
    y = rng.integers(0, 10, size=batch)
    tx, ty = torch.tensor(x), torch.tensor(y)
    for name in ("lenet", "vgg", "resnet20"):
        model = models.build(name)
        twin = torch_twin(model).train()
        sgd = optim.SGD(model, lr=0.01, momentum=0.9, weight_decay=5e-4)
        tsgd = torch.optim.SGD(twin.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

        def ours_step():
            loss, dscores = K.softmax_cross_entropy(model.forward(x, train=True), y)
            model.backward(dscores)
            sgd.step()

        def torch_step():
            tsgd.zero_grad()
            F.cross_entropy(twin(tx), ty).backward()
            tsgd.step()

        ours, theirs = median_time(ours_step, repeat), median_time(torch_step, repeat)
        rows.append({"model": model.name, "params": model.num_params(), "ours_ms": ours * 1e3,
                     "torch_ms": theirs * 1e3, "ratio": ours / theirs, "ours_images_per_s": batch / ours,
                     "torch_images_per_s": batch / theirs})
    return rows


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values))


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--naive-batch", type=int, default=4)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "engine_vs_torch.json"))
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    result = {"machine": machine(), "batch": args.batch, "repeat": args.repeat,
              "peak_sgemm_gflops": peak_gflops(args.repeat)}
    result["conv"] = bench_convs(args.batch, args.naive_batch, args.repeat, rng)
    result["other"] = bench_other_layers(args.batch, args.repeat, rng)
    result["training_step"] = bench_training_steps(args.batch, args.repeat, rng)
    ratios = [r["ratio"] for r in result["conv"]]
    result["conv_geomean_ratio"], result["conv_worst_ratio"] = geomean(ratios), max(ratios)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print_tables(result)


def print_tables(r):
    m = r["machine"]
    print(f"{m['cpu']}, {m['cores']} cores, torch {m['torch']} on {m['torch_threads']} threads, "
          f"NumPy {m['numpy']}; sgemm peak {r['peak_sgemm_gflops']:.0f} GFLOP/s; batch {r['batch']}, "
          f"medians of {r['repeat']}\n")
    print("| convolution, forward + backward | ours (ms) | torch (ms) | ours / torch | ours GFLOP/s | "
          "naive (ms) | naive / ours |")
    print("|---|---|---|---|---|---|---|")
    for row in r["conv"]:
        print(f"| {row['layer']} | {row['ours_ms']:.1f} | {row['torch_ms']:.1f} | {row['ratio']:.2f} | "
              f"{row['gflops']:.0f} | {row['naive_ms']:,.0f} | {row['naive_over_ours']:.0f} |")
    print(f"\ngeometric mean ours/torch {r['conv_geomean_ratio']:.2f}, worst {r['conv_worst_ratio']:.2f}\n")
    print("| layer, forward + backward | ours (ms) | torch (ms) | ours / torch |")
    print("|---|---|---|---|")
    for row in r["other"]:
        print(f"| {row['layer']} | {row['ours_ms']:.2f} | {row['torch_ms']:.2f} | {row['ratio']:.2f} |")
    print("\n| training step, batch 128 | params | ours (ms) | torch (ms) | ours / torch | ours images/s |")
    print("|---|---|---|---|---|---|")
    for row in r["training_step"]:
        print(f"| {row['model']} | {row['params']:,} | {row['ours_ms']:.0f} | {row['torch_ms']:.0f} | "
              f"{row['ratio']:.2f} | {row['ours_images_per_s']:.0f} |")


if __name__ == "__main__":
    main()
