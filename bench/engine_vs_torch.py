"""The helpers engine against PyTorch CPU and against naive code, side by side in one process.

    python bench/engine_vs_torch.py [--repeat 7] [--batch 128] [--naive-batch 4] [--no-naive] [--no-memory]

For every convolution shape of the course's networks (batch 128, float32): our forward+backward time, PyTorch's
(torch.nn.functional, same threads), the ratio ours/torch, our GFLOP/s; the course's naive loops (assignment 02's
reference solution, timed on a small batch and scaled to the full one) and how many times faster ours is. Then
pooling, batch norm (train and test), ReLU, affine and softmax loss, and one whole training step (forward, loss,
backward, SGD with momentum and weight decay) of LeNet-5, the mini VGG and ResNet-20 against their PyTorch twins.
Ours and torch's are timed in alternation (one timed call each per round, so both see the same load on a shared
machine), each with the cores to itself: ``bench/timing.paired_median_times`` lets the other library's threads
fall asleep and wakes its own with an untimed call first. Times are medians of ``--repeat`` rounds after a
warm-up. Then the peak resident memory of each model's training step, ours and torch's, each in a fresh process
(``bench/peak_memory.py``).

Prints which BLAS library and kernel NumPy uses, the sgemm peak measured in the same run, the tables, and one
table of the issue's targets (measured, target, met or not); writes bench/results/engine_vs_torch.json.

OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, when set, make OpenBLAS use an older, slower kernel than the processor
supports: this benchmark then re-runs itself with both removed from its own environment (and says so), so that
NumPy's BLAS is measured at its best, as PyTorch's is. Nothing else is changed. Needs ``pip install torch``
(never a course dependency); ``pip install threadpoolctl`` shows the BLAS kernel in use.
"""
import os
import sys

from forced_blas import rerun_without_forced_blas, unset_note  # this folder is on sys.path

if __name__ == "__main__":
    rerun_without_forced_blas()  # before NumPy loads OpenBLAS, which reads them once

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from helpers import kernels as K, models, optim  # noqa: E402
from machine import blas_info, code_version, cpu, describe  # noqa: E402
from timing import median_time, paired_median_times, peak_gflops  # noqa: E402
from torch_twins import torch_twin  # noqa: E402

MODELS = ("lenet", "vgg", "resnet20")
# The targets: ours / torch at most this much
TARGET_STEP, TARGET_CONV_GEOMEAN, TARGET_CONV_WORST, TARGET_LAYER, TARGET_MEMORY = 1.5, 1.3, 2.0, 1.2, 1.5

# (name, C, H, F, k, stride, pad): the convolutions of LeNet-5, the mini VGG and ResNet-20
CONVS = [("LeNet conv1 3>6 5x5 @32", 3, 32, 6, 5, 1, 0), ("LeNet conv2 6>16 5x5 @14", 6, 14, 16, 5, 1, 0),
         ("VGG 3>32 3x3 @32", 3, 32, 32, 3, 1, 1), ("VGG 32>32 3x3 @32", 32, 32, 32, 3, 1, 1),
         ("VGG 32>64 3x3 @16", 32, 16, 64, 3, 1, 1), ("VGG 64>64 3x3 @16", 64, 16, 64, 3, 1, 1),
         ("VGG 64>128 3x3 @8", 64, 8, 128, 3, 1, 1), ("VGG 128>128 3x3 @8", 128, 8, 128, 3, 1, 1),
         ("ResNet 16>16 3x3 @32", 16, 32, 16, 3, 1, 1), ("ResNet 32>32 3x3 @16", 32, 16, 32, 3, 1, 1),
         ("ResNet 64>64 3x3 @8", 64, 8, 64, 3, 1, 1), ("ResNet 16>32 3x3 stride 2 @32", 16, 32, 32, 3, 2, 1),
         ("ResNet 16>32 1x1 stride 2 @32 (projection)", 16, 32, 32, 1, 2, 0)]


def naive_conv():
    """The reference solution's conv_forward / conv_backward (assignment 02), as a student writes them."""
    from test_solutions_vs_kernels import CONVOLUTION, solution_namespace
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):  # its demo cells print
        ns = solution_namespace(CONVOLUTION)
    return ns["conv_forward"], ns["conv_backward"]


def bench_convs(batch, naive_batch, repeat, rng):
    naive_forward, naive_backward = naive_conv() if naive_batch else (None, None)
    rows = []
    for name, c, h, f, k, stride, pad in CONVS:
        x = rng.standard_normal((batch, c, h, h), dtype=np.float32)
        w = rng.standard_normal((f, c, k, k), dtype=np.float32) * 0.1
        b = np.zeros(f, np.float32)
        out, cache = K.conv_forward(x, w, b, stride, pad)
        dout = rng.standard_normal(out.shape, dtype=np.float32)
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        tdout = torch.tensor(dout)
        ours, theirs = paired_median_times(lambda: K.conv_backward(dout, K.conv_forward(x, w, b, stride, pad)[1]),
                                           lambda: F.conv2d(tx, tw, tb, stride, pad).backward(tdout), repeat)
        flops = 3 * 2 * out.size * c * k * k  # forward, dx and dw each one multiply-add per weight and output
        row = {"layer": name, "ours_ms": ours * 1e3, "torch_ms": theirs * 1e3, "ratio": ours / theirs,
               "gflops": flops / ours / 1e9, "torch_gflops": flops / theirs / 1e9}
        if naive_batch:
            xs, ds = x[:naive_batch], dout[:naive_batch]
            naive = median_time(lambda: naive_backward(ds, naive_forward(xs, w, b, stride, pad)[1]), 1)
            naive *= batch / naive_batch
            row.update(naive_ms=naive * 1e3, naive_over_ours=naive / ours)
        rows.append(row)
    return rows


def bench_other_layers(batch, repeat, rng):
    x = rng.standard_normal((batch, 32, 32, 32), dtype=np.float32)
    d_half = rng.standard_normal((batch, 32, 16, 16), dtype=np.float32)
    d_full = rng.standard_normal(x.shape, dtype=np.float32)
    gamma, beta = np.ones(32, np.float32), np.zeros(32, np.float32)
    mean, var = rng.standard_normal(32).astype(np.float32), rng.uniform(0.5, 2, 32).astype(np.float32)
    flat = rng.standard_normal((batch, 2048), dtype=np.float32)
    wfc, bfc = rng.standard_normal((2048, 512), dtype=np.float32), np.zeros(512, np.float32)
    dfc = rng.standard_normal((batch, 512), dtype=np.float32)
    scores, labels = rng.standard_normal((batch, 10), dtype=np.float32), rng.integers(0, 10, size=batch)
    tx = torch.tensor(x, requires_grad=True)
    tg, tb = torch.tensor(gamma, requires_grad=True), torch.tensor(beta, requires_grad=True)
    tmean, tvar = torch.tensor(mean), torch.tensor(var)
    tflat, tw, tbias = (torch.tensor(a, requires_grad=True) for a in (flat, wfc.T.copy(), bfc))
    tscores, tlabels = torch.tensor(scores, requires_grad=True), torch.tensor(labels)
    shape = f"({batch}, 32, 32, 32)"
    cases = {
        f"max pool 2x2, {shape}": (
            lambda: K.max_pool_backward(d_half, K.max_pool_forward(x, 2, 2)[1]),
            lambda: F.max_pool2d(tx, 2, 2).backward(torch.tensor(d_half))),
        "average pool 2x2": (
            lambda: K.avg_pool_backward(d_half, K.avg_pool_forward(x, 2, 2)[1]),
            lambda: F.avg_pool2d(tx, 2, 2).backward(torch.tensor(d_half))),
        "batch norm, train": (
            lambda: K.batchnorm_backward(d_full, K.batchnorm_forward(x, gamma, beta, {"mode": "train"})[1]),
            lambda: F.batch_norm(tx, None, None, tg, tb, training=True).backward(torch.tensor(d_full))),
        "batch norm, test": (
            lambda: K.batchnorm_backward(d_full, K.batchnorm_forward(
                x, gamma, beta, {"mode": "test", "running_mean": mean, "running_var": var})[1]),
            lambda: F.batch_norm(tx, tmean, tvar, tg, tb, training=False).backward(torch.tensor(d_full))),
        "ReLU": (
            lambda: K.relu_backward(d_full, K.relu_forward(x)[1]),
            lambda: torch.relu(tx).backward(torch.tensor(d_full))),
        f"affine ({batch}, 2048) x (2048, 512)": (
            lambda: K.affine_backward(dfc, K.affine_forward(flat, wfc, bfc)[1]),
            lambda: F.linear(tflat, tw, tbias).backward(torch.tensor(dfc))),
        f"softmax loss ({batch}, 10)": (
            lambda: K.softmax_cross_entropy(scores, labels),
            lambda: F.cross_entropy(tscores, tlabels).backward()),
    }
    rows = []
    for name, (ours_fn, torch_fn) in cases.items():
        ours, theirs = paired_median_times(ours_fn, torch_fn, repeat)
        rows.append({"layer": name, "ours_ms": ours * 1e3, "torch_ms": theirs * 1e3, "ratio": ours / theirs})
    return rows


def bench_training_steps(batch, repeat, rng):
    rows = []
    x = rng.standard_normal((batch, 3, 32, 32), dtype=np.float32)
    y = rng.integers(0, 10, size=batch)
    tx, ty = torch.tensor(x), torch.tensor(y)
    for name in MODELS:
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

        ours, theirs = paired_median_times(ours_step, torch_step, repeat)
        rows.append({"model": model.name, "params": model.num_params(), "ours_ms": ours * 1e3,
                     "torch_ms": theirs * 1e3, "ratio": ours / theirs, "ours_images_per_s": batch / ours,
                     "torch_images_per_s": batch / theirs})
    return rows


def bench_memory(batch):
    """Peak resident memory during 3 training steps, each model and side in a fresh process (bench/peak_memory.py):
    the whole process's resident set (ratio, the target) and its growth over the set before the steps."""
    rows = []
    for name in MODELS:
        row = {"model": models.build(name).name}
        for side in ("ours", "torch"):
            done = subprocess.run([sys.executable, str(ROOT / "bench" / "peak_memory.py"), name, side,
                                   "--batch", str(batch)], capture_output=True, text=True, check=True)
            measured = json.loads(done.stdout.strip().splitlines()[-1])
            row[f"{side}_mb"], row[f"{side}_before_mb"] = measured["peak_mb"], measured["before_mb"]
            row[f"{side}_ru_maxrss_mb"] = measured["ru_maxrss_mb"]
        row["ratio"] = row["ours_mb"] / row["torch_mb"]
        row["step_ratio"] = (row["ours_mb"] - row["ours_before_mb"]) / (row["torch_mb"] - row["torch_before_mb"])
        rows.append(row)
    return rows


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values))


def targets(r):
    """[(what, measured ours/torch, target, met)] for every target of the issue."""
    rows = [(f"training step, {row['model']}", row["ratio"], TARGET_STEP) for row in r["training_step"]]
    rows += [("convolutions, geometric mean", r["conv_geomean_ratio"], TARGET_CONV_GEOMEAN),
             ("convolutions, worst layer", r["conv_worst_ratio"], TARGET_CONV_WORST)]
    rows += [(row["layer"], row["ratio"], TARGET_LAYER) for row in r["other"]]
    rows += [(f"peak memory, {row['model']} step", row["ratio"], TARGET_MEMORY) for row in r.get("memory", [])]
    return [{"target": what, "measured": value, "limit": limit, "met": value <= limit} for what, value, limit in rows]


def machine():
    processor = cpu()
    return {"cpu": describe(processor), "processor": processor, "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
            "numpy_blas": blas_info(), "unset_for_this_run": unset_note(),
            "load_average_at_start": os.getloadavg(), "code": code_version()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--naive-batch", type=int, default=4)
    parser.add_argument("--no-naive", action="store_true", help="skip the naive loops (the slowest part)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "engine_vs_torch.json"))
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    result = {"machine": machine(), "batch": args.batch, "repeat": args.repeat,
              "peak_sgemm_gflops": peak_gflops(args.repeat)}
    result["conv"] = bench_convs(args.batch, 0 if args.no_naive else args.naive_batch, args.repeat, rng)
    result["other"] = bench_other_layers(args.batch, args.repeat, rng)
    result["training_step"] = bench_training_steps(args.batch, args.repeat, rng)
    ratios = [r["ratio"] for r in result["conv"]]
    result["conv_geomean_ratio"], result["conv_worst_ratio"] = geomean(ratios), max(ratios)
    if not args.no_memory:
        result["memory"] = bench_memory(args.batch)
    result["machine"]["load_average_at_end"] = os.getloadavg()
    result["targets"] = targets(result)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print_tables(result)


def print_tables(r):
    m, blas = r["machine"], r["machine"]["numpy_blas"]
    print(f"{m['cpu']}, {m['cores']} cores (load average {m['load_average_at_start'][0]:.1f} at the start, "
          f"{m['load_average_at_end'][0]:.1f} at the end); torch {m['torch']} on {m['torch_threads']} threads; "
          f"NumPy {m['numpy']} with {blas['library']} {blas['version']}, kernel {blas['kernel']}, "
          f"{blas['threads']} threads" + (f" (this run without {m['unset_for_this_run']})"
                                         if m["unset_for_this_run"] else "")
          + f"; sgemm peak {r['peak_sgemm_gflops']:.0f} GFLOP/s; batch {r['batch']}, medians of {r['repeat']}\n")
    naive = "naive_ms" in r["conv"][0]
    peak = r["peak_sgemm_gflops"]
    print("| convolution, forward + backward | ours (ms) | torch (ms) | ours / torch | ours GFLOP/s (% of sgemm peak) |"
          " torch GFLOP/s (%) |" + (" naive (ms) | naive / ours |" if naive else ""))
    print("|---|---:|---:|---:|---:|---:|" + ("---:|---:|" if naive else ""))
    for row in r["conv"]:
        print(f"| {row['layer']} | {row['ours_ms']:.1f} | {row['torch_ms']:.1f} | {row['ratio']:.2f} | "
              f"{row['gflops']:.0f} ({100 * row['gflops'] / peak:.0f} %) | "
              f"{row['torch_gflops']:.0f} ({100 * row['torch_gflops'] / peak:.0f} %) |"
              + (f" {row['naive_ms']:,.0f} | {row['naive_over_ours']:.0f} |" if naive else ""))
    print(f"\ngeometric mean ours/torch {r['conv_geomean_ratio']:.2f}, worst {r['conv_worst_ratio']:.2f}\n")
    print("| layer, forward + backward | ours (ms) | torch (ms) | ours / torch |")
    print("|---|---:|---:|---:|")
    for row in r["other"]:
        print(f"| {row['layer']} | {row['ours_ms']:.2f} | {row['torch_ms']:.2f} | {row['ratio']:.2f} |")
    print(f"\n| training step, batch {r['batch']} | params | ours (ms) | torch (ms) | ours / torch | ours images/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in r["training_step"]:
        print(f"| {row['model']} | {row['params']:,} | {row['ours_ms']:.0f} | {row['torch_ms']:.0f} | "
              f"{row['ratio']:.2f} | {row['ours_images_per_s']:,.0f} |")
    if "memory" in r:
        print(f"\n| peak resident memory, training step at batch {r['batch']} (fresh process) | ours (MB) | "
              "torch (MB) | ours / torch | growth in the steps, ours / torch (MB) |")
        print("|---|---:|---:|---:|---:|")
        for row in r["memory"]:
            print(f"| {row['model']} | {row['ours_mb']:.0f} | {row['torch_mb']:.0f} | {row['ratio']:.2f} | "
                  f"{row['ours_mb'] - row['ours_before_mb']:.0f} / {row['torch_mb'] - row['torch_before_mb']:.0f}"
                  f" ({row['step_ratio']:.2f}) |")
    print("\n| target (ours / torch) | measured | at most | met |")
    print("|---|---:|---:|---|")
    for t in r["targets"]:
        print(f"| {t['target']} | {t['measured']:.2f} | {t['limit']} | {'yes' if t['met'] else 'NO'} |")


if __name__ == "__main__":
    main()
