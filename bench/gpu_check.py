"""The engine on an NVIDIA GPU through CuPy: correctness against NumPy, and images per second for each model.

    CONVNETS_DEVICE=gpu python bench/gpu_check.py [--data cifar-10-subset-python.tar.gz] [--out result.json]

1. Every kernel (convolution on random shapes, strides and paddings; pooling; batch norm; ReLU; affine;
   softmax cross-entropy), forward and backward, on CuPy arrays against the same call on NumPy arrays:
   the largest relative difference, float32 and float64.
2. One training step (forward, loss, backward, SGD) of LeNet-5, the mini VGG and ResNet-20 at batch 128 on the
   GPU: median images/s, with PyTorch CUDA on the same net for reference when torch sees the GPU.
3. With --data: a short ResNet-20 training run on the GPU (helpers.train.fit), its per-epoch test accuracy and
   seconds, to show the whole loop runs there.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import cupy as cp  # noqa: E402

from helpers import backend, kernels as K, models, optim, train  # noqa: E402
from timing import median_time  # noqa: E402

assert backend.DEVICE == "gpu", "run with CONVNETS_DEVICE=gpu on a machine with CuPy and a CUDA GPU"


def rel_diff(gpu, cpu):
    gpu = cp.asnumpy(gpu) if isinstance(gpu, cp.ndarray) else np.asarray(gpu)
    return float(np.abs(gpu - cpu).max() / max(1e-30, np.abs(cpu).max()))


def both(fn, *arrays):
    """fn on NumPy inputs and on the same inputs copied to the GPU; the largest relative difference of outputs."""
    cpu = fn(*arrays)
    gpu = fn(*[cp.asarray(a) if isinstance(a, np.ndarray) else a for a in arrays])
    cpu, gpu = (c if isinstance(c, tuple) else (c,) for c in (cpu, gpu))
    return max(rel_diff(g, c) for g, c in zip(gpu, cpu))


def check_kernels(dtype, rng, configs=30):
    worst = {}

    def note(name, value):
        worst[name] = max(worst.get(name, 0.0), value)

    for _ in range(configs):
        k, stride, pad = int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(0, 3))
        n, c, f = int(rng.integers(1, 9)), int(rng.integers(1, 33)), int(rng.integers(1, 33))
        h, w = int(rng.integers(k, 20)), int(rng.integers(k, 20))
        x = rng.standard_normal((n, c, h, w)).astype(dtype)
        wt, b = rng.standard_normal((f, c, k, k)).astype(dtype), rng.standard_normal(f).astype(dtype)
        out, _ = K.conv_forward(x, wt, b, stride, pad)
        dout = rng.standard_normal(out.shape).astype(dtype)
        note("conv forward", both(lambda *a: K.conv_forward(*a[:3], stride, pad)[0], x, wt, b))
        note("conv backward", both(lambda x_, w_, b_, d_: K.conv_backward(d_, K.conv_forward(
            x_, w_, b_, stride, pad)[1]), x, wt, b, dout))
    x = rng.standard_normal((16, 8, 12, 10)).astype(dtype)
    for size, stride in ((2, 2), (3, 2), (2, 1)):
        for kind, fwd, bwd in (("max", K.max_pool_forward, K.max_pool_backward),
                               ("avg", K.avg_pool_forward, K.avg_pool_backward)):
            d = rng.standard_normal(fwd(x, size, stride)[0].shape).astype(dtype)
            note(f"{kind} pool forward+backward", both(lambda x_, d_: (fwd(x_, size, stride)[0], bwd(
                d_, fwd(x_, size, stride)[1])), x, d))
    gamma, beta = rng.standard_normal(8).astype(dtype), rng.standard_normal(8).astype(dtype)
    d = rng.standard_normal(x.shape).astype(dtype)
    note("batch norm forward+backward", both(lambda x_, g_, b_, d_: (lambda o: (o[0],) + K.batchnorm_backward(
        d_, o[1]))(K.batchnorm_forward(x_, g_, b_, {"mode": "train"})), x, gamma, beta, d))
    note("relu forward+backward", both(lambda x_, d_: (K.relu_forward(x_)[0], K.relu_backward(
        d_, K.relu_forward(x_)[1])), x, d))
    flat, wfc, bfc = (rng.standard_normal(s).astype(dtype) for s in ((16, 960), (960, 10), (10,)))
    dfc = rng.standard_normal((16, 10)).astype(dtype)
    note("affine forward+backward", both(lambda a, w_, b_, d_: (K.affine_forward(a, w_, b_)[0],) +
                                         K.affine_backward(d_, K.affine_forward(a, w_, b_)[1]), flat, wfc, bfc, dfc))
    y = rng.integers(0, 10, size=16)
    note("softmax cross-entropy", both(lambda s, y_: K.softmax_cross_entropy(s, y_), flat[:, :10] * 30, y))
    return worst


def images_per_second(batch, repeat, rng):
    rows = []
    x = cp.asarray(rng.standard_normal((batch, 3, 32, 32)).astype(np.float32))
    y = cp.asarray(rng.integers(0, 10, size=batch))
    for name in ("lenet", "vgg", "resnet20"):
        model = models.build(name)
        sgd = optim.SGD(model, lr=0.01)

        def step():
            train.train_step(model, sgd, x, y)
            cp.cuda.Device().synchronize()
        row = {"model": model.name, "ours_images_per_s": batch / median_time(step, repeat)}
        row.update(torch_images_per_second(model, cp.asnumpy(x), cp.asnumpy(y), repeat))
        rows.append(row)
    return rows


def torch_images_per_second(model, x, y, repeat):
    try:
        import torch
        from torch_twins import torch_twin
    except ImportError:
        return {}
    if not torch.cuda.is_available():
        return {}
    twin = torch_twin(model).cuda().train()
    opt = torch.optim.SGD(twin.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    tx, ty = torch.tensor(x).cuda(), torch.tensor(y).cuda()

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(twin(tx), ty).backward()
        opt.step()
        torch.cuda.synchronize()
    return {"torch_cuda_images_per_s": len(x) / median_time(step, repeat)}



def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="a CIFAR-10 tarball for the short training run")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--out", default="gpu_check.json")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    result = {"device": backend.describe(), "cupy": cp.__version__, "numpy": np.__version__}
    result["max_relative_difference_vs_numpy"] = {
        "float32": check_kernels(np.float32, rng), "float64": check_kernels(np.float64, rng)}
    print(json.dumps(result, indent=1), flush=True)
    result["training_step_batch_128"] = images_per_second(128, args.repeat, rng)
    print(json.dumps(result["training_step_batch_128"], indent=1), flush=True)
    if args.data:
        from helpers.data import load_cifar10
        data = load_cifar10(args.data)
        model = models.build("resnet20")
        history = train.fit(model, data, epochs=args.epochs, batch_size=128, lr=0.1, progress=False)
        result["resnet20_short_run"] = {"train_images": len(data.x_train), "test_images": len(data.x_test),
                                        **{k: history[k] for k in ("epoch", "train_acc", "test_acc", "seconds")}}
        print(json.dumps(result["resnet20_short_run"], indent=1), flush=True)
    Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
