"""Layers, models, optimiser and training loop of the helpers engine (CPU, NumPy)."""
import importlib.util
import json
import math
import platform
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from cifar_fixture import make_tiny_cifar
from helpers import kernels, layers as L, models, optim, train
from helpers.backend import CHOICES, _choose

ROOT = Path(__file__).resolve().parent.parent


def as_float64(model):
    for _, layer in model.named_layers():
        for group in (layer.params, layer.buffers):
            for key in group:
                group[key] = group[key].astype(np.float64)
    return model


def gradient_errors(model, x, y, rng, per_param=2, eps=1e-6):
    """Relative errors of the analytic parameter gradients of the mean cross-entropy against central differences
    (float64), for a few random entries of every parameter; gradients below 1e-7 are compared absolutely."""
    def loss():
        return kernels.softmax_cross_entropy(model.forward(x, True), y)[0]
    _, dscores = kernels.softmax_cross_entropy(model.forward(x, True), y)
    model.backward(dscores)
    errors = {}
    for name, layer, key in model.parameters():
        p, g = layer.params[key], layer.grads[key]
        for _ in range(per_param):
            idx = tuple(int(rng.integers(0, s)) for s in p.shape)
            old = p[idx]
            p[idx] = old + eps
            plus = loss()
            p[idx] = old - eps
            minus = loss()
            p[idx] = old
            numeric = (plus - minus) / (2 * eps)
            errors[f"{name}{list(idx)}"] = abs(numeric - g[idx]) / max(1e-7, abs(numeric) + abs(g[idx]))
    return errors


@pytest.mark.parametrize("name", ["lenet", "lenet-tanh", "vgg", "resnet8", "plain8", "resnet9"])
def test_model_gradients_match_numerical_ones(name):
    rng = np.random.default_rng(0)
    model = as_float64(models.build(name, seed=1))
    # a classifier initialised as for training has tiny gradients below it: check with a normal-sized one
    model.layers[-1].params["w"] = rng.normal(size=model.layers[-1].params["w"].shape) * 0.3
    x, y = rng.normal(size=(3, 3, 32, 32)), rng.integers(0, 10, size=3)
    errors = gradient_errors(model, x, y, rng)
    worst = max(errors, key=errors.get)
    assert errors[worst] < 1e-4, f"{name}: gradient of {worst} is off by {errors[worst]:.2e}"


def test_published_parameter_counts_and_output_shapes():
    assert models.build("lenet").num_params() == 62006  # LeNet-5 on 3 x 32 x 32 with biases
    assert models.build("resnet20").num_params() == 272474  # He et al. 2016: "0.27M"
    assert models.build("resnet56").num_params() == 855770  # "0.85M"
    rows = models.build("resnet20").summary()
    assert rows[-1][1] == (10,) and rows[3][1] == (16, 32, 32) and rows[-3][1] == (64, 8, 8)
    assert sum(r[2] for r in rows) == 272474
    assert models.build("plain20").num_params() < 272474  # no projection shortcuts
    # ResNet-8 with stages of 32, 64, 128: stem 3*32*9 + 64; block 1 two 32*32*9 + 128; block 2 32*64*9 + 64*64*9 +
    # 256, projection 32*64 + 128; block 3 the same at 64 -> 128; FC 128*10 + 10
    wide = models.build("resnet8", widths=(32, 64, 128))
    assert wide.name == "ResNet-8 32-64-128" and wide.num_params() == 308650
    assert models.build("vgg", widths=(8, 16, 32)).name == "mini VGG 8-16-32"
    # ResNet-9 16-32-64-128: convolutions 3*16*9, 16*32*9, 32*64*9, 64*128*9 with BN (2 per channel); a block at 32
    # channels (two 32*32*9 + 128) and one at 128 (two 128*128*9 + 512); FC 128*10 + 10
    resnet9 = models.build("resnet9")
    assert resnet9.name == "ResNet-9 16-32-64-128" and resnet9.num_params() == 412954
    rows = resnet9.summary()
    assert [rows[i][1] for i in (5, 7, 11, 16, 18)] == [(32, 32, 32), (32, 16, 16), (64, 8, 8), (128, 4, 4), (10,)]


def test_unknown_model_names_and_activations_are_explained():
    with pytest.raises(ValueError, match="unknown model 'resnet21'.*lenet"):
        models.build("resnet21")
    with pytest.raises(ValueError, match="activation"):
        models.lenet5("sigmoid")
    with pytest.raises(ValueError, match="three positive channel counts"):
        models.build("resnet8", widths=(16, 32))
    with pytest.raises(ValueError, match="four positive channel counts"):
        models.build("resnet9", widths=(16, 32, 64))
    with pytest.raises(ValueError, match="no widths"):
        models.build("lenet", widths=(6, 16, 120))


def test_a_basic_block_with_zero_weights_is_the_identity_on_nonnegative_input_and_plain_is_not():
    x = np.abs(np.random.default_rng(2).normal(size=(2, 4, 6, 6)))
    for residual, expect_identity in ((True, True), (False, False)):
        block = L.BasicBlock(4, 4, residual=residual)
        for layer in block.body.layers:
            if isinstance(layer, L.BatchNorm):
                layer.params["gamma"][:] = 0
        out = block.forward(x, train=True)
        assert np.allclose(out, x) == expect_identity


def test_projection_shortcut_only_when_the_shape_changes():
    assert L.BasicBlock(16, 16, 1).shortcut is None
    assert L.BasicBlock(16, 32, 2).shortcut is not None
    assert L.BasicBlock(16, 32, 2, residual=False).shortcut is None
    out = L.BasicBlock(16, 32, 2).forward(np.zeros((1, 16, 8, 8), np.float32))
    assert out.shape == (1, 32, 4, 4)


def test_students_functions_can_replace_the_kernels():
    calls = []

    def my_conv_forward(x, w, b, stride=1, pad=0):
        calls.append("forward")
        return kernels.conv_forward(x, w, b, stride, pad)

    def my_conv_backward(dout, cache):
        calls.append("backward")
        return kernels.conv_backward(dout, cache)

    conv = L.Conv2d(3, 2, 3, pad=1, forward=my_conv_forward, backward=my_conv_backward)
    conv.backward(conv.forward(np.ones((1, 3, 4, 4), np.float32)))
    assert calls == ["forward", "backward"] and conv.grads["w"].shape == (2, 3, 3, 3)


@pytest.mark.parametrize("name", ["lenet", "vgg", "resnet8"])
def test_the_first_layer_computes_no_gradient_for_the_images(name):
    """Each model's first convolution skips dx (its input is the data) and gets the same parameter gradients as
    a twin that computes it; only the first layer skips it."""
    model, twin = models.build(name, seed=3), models.build(name, seed=3)
    twin.layers[0].input_grad = True
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(4, 3, 32, 32)).astype(np.float32), rng.integers(0, 10, size=4)
    skipping = [layer for _, layer in model.named_layers() if isinstance(layer, L.Conv2d) and not layer.input_grad]
    assert skipping == [model.layers[0]]
    for net in (model, twin):
        _, dscores = kernels.softmax_cross_entropy(net.forward(x, train=True), y)
        dx = net.backward(dscores)
        assert (dx is None) == (net is model)
    for (_, layer, key), (_, twin_layer, _) in zip(model.parameters(), twin.parameters()):
        np.testing.assert_array_equal(layer.grads[key], twin_layer.grads[key])


def test_a_model_built_by_hand_skips_only_a_first_convolutions_input_gradient():
    """As students build theirs in assignment 05: the Model switches it off on its first Conv2d, and only there."""
    rng = np.random.default_rng(4)
    convs = models.Model(L.Conv2d(3, 2, 3, rng=rng), L.ReLU(), L.Conv2d(2, 2, 3, rng=rng), L.Flatten())
    assert [c.input_grad for c in (convs.layers[0], convs.layers[2])] == [False, True]
    dense = models.Model(L.Linear(4, 3, rng=rng), L.ReLU(), L.Linear(3, 2, rng=rng))
    dense.forward(np.ones((5, 4), np.float32))
    assert dense.backward(np.ones((5, 2), np.float32)).shape == (5, 4)  # a first Linear keeps its dx


def test_a_first_layer_with_the_students_backward_still_calls_it():
    calls = []

    def my_conv_backward(dout, cache):
        calls.append("backward")
        return kernels.conv_backward(dout, cache)

    conv = L.Conv2d(3, 2, 3, pad=1, backward=my_conv_backward, input_grad=False)
    assert conv.backward(conv.forward(np.ones((1, 3, 4, 4), np.float32))) is None
    assert calls == ["backward"] and conv.grads["w"].shape == (2, 3, 3, 3)


def test_batchnorm_layer_keeps_running_statistics_and_evaluates_with_them():
    bn = L.BatchNorm(2, momentum=0.5)
    x = np.random.default_rng(3).normal(4.0, 2.0, size=(64, 2, 3, 3)).astype(np.float32)
    bn.forward(x, train=True)
    np.testing.assert_allclose(bn.buffers["running_mean"], 0.5 * x.mean(axis=(0, 2, 3)), rtol=1e-5)
    before = {k: v.copy() for k, v in bn.buffers.items()}
    bn.forward(x, train=False)
    assert all(np.array_equal(before[k], bn.buffers[k]) for k in before)


def test_float64_test_mode_batchnorm_computes_in_float64_on_every_pass():
    # float64 parameters and input, float32 running statistics (as a fresh layer has them): every test-mode pass,
    # the first included, normalises in float64, so the result does not depend on how the images are batched.
    rng = np.random.default_rng(7)
    bn = L.BatchNorm(3)
    bn.params = {"gamma": rng.uniform(0.5, 2, 3), "beta": rng.standard_normal(3)}
    bn.buffers = {"running_mean": rng.standard_normal(3).astype(np.float32),
                  "running_var": rng.uniform(0.1, 3, 3).astype(np.float32)}
    mean, var = (bn.buffers[k].astype(np.float64) for k in ("running_mean", "running_var"))
    x = rng.standard_normal((10, 3, 4, 5))
    expected = ((x - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + bn.eps)
                * bn.params["gamma"][None, :, None, None] + bn.params["beta"][None, :, None, None])
    first = bn.forward(x[:3], train=False)
    assert first.dtype == np.float64
    np.testing.assert_allclose(first, expected[:3], rtol=1e-14, atol=1e-14)
    assert all(bn.buffers[k].dtype == np.float64 for k in bn.buffers)      # the parameters' dtype
    assert np.array_equal(bn.buffers["running_var"], var)                   # test mode changes nothing
    rest = np.concatenate([bn.forward(x[i:i + 3], train=False) for i in range(3, 10, 3)])
    np.testing.assert_allclose(np.concatenate([first, rest]), expected, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(bn.forward(x, train=False), expected, rtol=1e-14, atol=1e-14)


def test_batchnorm_layer_keeps_float32_statistics_for_float32_parameters():
    bn = L.BatchNorm(2)
    x64 = np.random.default_rng(8).standard_normal((6, 2, 3, 3))
    assert bn.forward(x64, train=True).dtype == np.float64
    assert all(v.dtype == np.float32 for v in bn.buffers.values())
    assert bn.forward(x64.astype(np.float32), train=True).dtype == np.float32
    assert all(v.dtype == np.float32 for v in bn.buffers.values())


def test_save_and_load_round_trip_and_mismatches_are_named(tmp_path):
    model = models.build("resnet8", seed=4)
    x = np.random.default_rng(4).normal(size=(2, 3, 32, 32)).astype(np.float32)
    model.forward(x, train=True)  # moves the running statistics away from their start
    model.save(tmp_path / "w.npz")
    clone = models.build("resnet8", seed=5).load(tmp_path / "w.npz")
    np.testing.assert_array_equal(model.forward(x, train=False), clone.forward(x, train=False))
    with pytest.raises(ValueError, match="different model"):
        models.build("lenet").load(tmp_path / "w.npz")


def test_sgd_momentum_and_weight_decay_follow_the_formula():
    model = models.Model(L.Linear(3, 2, rng=np.random.default_rng(0)))
    layer = model.layers[0]
    w0 = layer.params["w"].copy()
    g = np.full_like(w0, 0.5)
    layer.grads.update(w=g, b=np.ones(2, np.float32))
    sgd = optim.SGD(model, lr=0.1, momentum=0.9, weight_decay=0.01)
    sgd.step()
    v1 = -0.1 * (g + 0.01 * w0)
    np.testing.assert_allclose(layer.params["w"], w0 + v1, rtol=1e-6)
    np.testing.assert_allclose(layer.params["b"], -0.1 * np.ones(2), rtol=1e-6)  # no decay on biases
    w1 = layer.params["w"].copy()
    sgd.step()
    np.testing.assert_allclose(layer.params["w"], w1 + 0.9 * v1 - 0.1 * (g + 0.01 * w1), rtol=1e-5)
    with pytest.raises(ValueError, match="momentum"):
        optim.SGD(model, lr=0.1, momentum=1.0)


def test_schedules():
    cosine = optim.cosine_schedule(0.1, 100, warmup=10)
    assert cosine(0) == pytest.approx(0.01) and cosine(10) == pytest.approx(0.1)
    assert cosine(55) == pytest.approx(0.05) and cosine(100) == pytest.approx(0.0, abs=1e-12)
    step = optim.step_schedule(0.1, [50, 75])
    assert [step(0), step(50), step(80)] == pytest.approx([0.1, 0.01, 0.001])


def _window_offsets(out, x, pad):
    """For each image, the (top, left, mirrored) of out[i] in x[i] zero-padded by pad; None where it is no window."""
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    h, w = x.shape[2:]
    return [next(((top, left, mirrored) for top in range(2 * pad + 1) for left in range(2 * pad + 1)
                  for mirrored in (False, True)
                  if np.array_equal(o, padded[i, :, top:top + h, left:left + w][..., ::-1] if mirrored
                                    else padded[i, :, top:top + h, left:left + w])), None)
            for i, o in enumerate(out)]


def test_augmentation_crops_and_flips_without_touching_the_input():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(64, 3, 8, 8)).astype(np.float32)
    original = x.copy()
    out = train.augment_batch(x, np.random.default_rng(0), crop_pad=2)
    assert out.shape == x.shape and out.dtype == x.dtype and np.array_equal(x, original)
    found = _window_offsets(out, x, 2)
    assert None not in found  # every image is a window of its own padded image, mirrored or not
    assert len({(top, left) for top, left, _ in found}) > 10  # offsets drawn for each image
    assert 10 < sum(mirrored for *_, mirrored in found) < 54  # flips decided for each image
    flips_only = train.augment_batch(x, np.random.default_rng(0), crop_pad=0)
    assert {offset[:2] for offset in _window_offsets(flips_only, x, 0)} == {(0, 0)}
    np.testing.assert_array_equal(train.augment_batch(x, np.random.default_rng(0), crop_pad=0, flip=False), x)


def test_fit_crops_with_the_padding_it_is_given(monkeypatch):
    seen, real = [], train.augment_batch

    def augment_batch(x, rng, crop_pad=4):
        seen.append(crop_pad)
        return real(x, rng, crop_pad)
    monkeypatch.setattr(train, "augment_batch", augment_batch)
    train.fit(models.build("lenet"), separable_data(n=32), epochs=1, batch_size=16, crop_pad=1, progress=False)
    assert seen == [1, 1]
    with pytest.raises(ValueError, match="crop_pad"):
        train.fit(models.build("lenet"), separable_data(n=32), epochs=1, crop_pad=-1, progress=False)


def separable_data(n=256, seed=0):
    """Images whose class is written in the mean of channel 0: any of the models can learn it."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, size=n)
    x = rng.normal(size=(n, 3, 32, 32)).astype(np.float32) * 0.5
    x[:, 0] += (y[:, None, None] - 4.5) / 2
    return types.SimpleNamespace(x_train=x, y_train=y, x_test=x[:64], y_test=y[:64])


def test_fit_learns_reports_history_is_deterministic_and_checkpoints(tmp_path):
    data = separable_data()
    runs = []
    for _ in range(2):
        model = models.build("lenet", seed=0)
        seen = []
        history = train.fit(model, data, epochs=4, batch_size=32, lr=0.05, progress=False, seed=3,
                            checkpoint=tmp_path / "lenet.npz", on_epoch=lambda h: seen.append(len(h["epoch"])))
        runs.append(history)
    history = runs[0]
    assert history["epoch"] == [1, 2, 3, 4] and seen == [1, 2, 3, 4]
    assert len(history["step_loss"]) == 4 * 8
    assert history["step_loss"][0] == pytest.approx(math.log(10), abs=0.15)  # small classifier at the start
    assert history["train_loss"][-1] < history["train_loss"][0] - 0.3
    assert history["test_acc"][-1] > 0.25  # chance is 0.1
    assert runs[0]["step_loss"] == runs[1]["step_loss"]
    loaded = models.build("lenet", seed=9).load(tmp_path / "lenet.npz")
    assert train.evaluate(loaded, data.x_test, data.y_test)[1] == pytest.approx(history["test_acc"][-1])


def test_max_steps_stops_early_and_evaluation_uses_test_mode():
    data = separable_data(128)
    model = models.build("resnet8", seed=0)
    history = train.fit(model, data, epochs=5, batch_size=32, max_steps=6, progress=False)
    assert len(history["step_loss"]) == 6 and history["epoch"] == [1, 2]
    before = [b.copy() for _, layer in model.named_layers() for b in layer.buffers.values()]
    train.evaluate(model, data.x_test, data.y_test)
    after = [b for _, layer in model.named_layers() for b in layer.buffers.values()]
    assert all(np.array_equal(a, b) for a, b in zip(before, after))


def test_device_choice():
    assert _choose("cpu") == "cpu" and _choose(None) in ("cpu", "gpu") and "auto" in CHOICES
    with pytest.raises(ValueError, match="CONVNETS_DEVICE"):
        _choose("tpu")
    if importlib.util.find_spec("cupy") is None:
        with pytest.raises(RuntimeError, match="CuPy is not installed"):
            _choose("gpu")


PAGE_FAULTS_OF_REPEATED_ALLOCATIONS = """
import resource, sys
import numpy as np
if sys.argv[1] == "helpers":
    import helpers.backend
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
counts = []
for _ in range(3):  # what a training step does: the same arrays allocated, written and freed again
    before = faults()
    a, b, c = (np.ones(n, np.float32) for n in (2 ** 22, 2 ** 22, 2 ** 20))  # 16, 16 and 4 MB
    del a, b, c
    counts.append(faults() - before)
print(counts[-1])
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="keep_freed_memory tunes glibc only")
def test_freed_host_memory_is_reused_without_page_faults():
    def last_cycle_faults(imports):
        done = subprocess.run([sys.executable, "-c", PAGE_FAULTS_OF_REPEATED_ALLOCATIONS, imports],
                              capture_output=True, text=True, check=True, cwd=str(ROOT),
                              env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
        return int(done.stdout)
    pages = 36 * 2 ** 20 // 4096
    assert last_cycle_faults("numpy") > pages // 20, "glibc's defaults fault again on every cycle"
    assert last_cycle_faults("helpers") < pages // 100, "importing helpers should keep freed memory for reuse"


def run_cli(*args, env_extra=None, tmp_path=None):
    env = {"PATH": "/usr/bin:/bin", "CONVNETS_CACHE": str(tmp_path / "cache"), "CONVNETS_DEVICE": "cpu",
           **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "helpers.train", *args], capture_output=True, text=True,
                          env=env, timeout=300, cwd=str(tmp_path))


def test_command_line_trains_and_reports_test_accuracy(tmp_path):
    tiny = make_tiny_cifar(tmp_path / "cifar", per_class_train=8, per_class_test=4)
    result = run_cli("--model", "lenet", "--epochs", "2", "--data", str(tiny.tarball), "--batch-size", "16",
                     "--save", "w.npz", "--history", "h.json", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "LeNet-5 (relu): 62,006 parameters; 80 training and 40 test images" in result.stdout
    assert "test accuracy" in result.stdout
    history = json.loads((tmp_path / "h.json").read_text())
    assert history["epoch"] == [1, 2]
    with np.load(tmp_path / "w.npz") as saved:  # weights plus the statistics to normalise with: gradable
        assert {"0.w", "11.b", "mean", "std"} <= set(saved.files) and saved["std"].shape == (3,)


def test_command_line_explains_a_bad_data_path(tmp_path):
    result = run_cli("--model", "lenet", "--data", str(tmp_path / "nowhere"), tmp_path=tmp_path)
    assert result.returncode == 2
    assert "nowhere" in result.stderr and "cifar-10-python.tar.gz" in result.stderr
    assert "Traceback" not in result.stderr
    result = run_cli("--model", "alexnet", tmp_path=tmp_path)
    assert result.returncode == 2 and "unknown model" in result.stderr


def test_benchmarks_name_the_processor_and_its_vector_units(tmp_path):
    """bench/machine.py reads the first processor's family, model and AVX-512 flag: the virtual machines all say
    "AMD EPYC", and only these tell a 400-GFLOP/s one from a 190-GFLOP/s one."""
    sys.path.insert(0, str(ROOT / "bench"))
    import machine

    cpuinfo = tmp_path / "cpuinfo"
    processor = "processor\t: {}\nmodel name\t: AMD EPYC\ncpu family\t: 25\nmodel\t\t: {}\nflags\t\t: fpu {}\n"
    cpuinfo.write_text(processor.format(0, 17, "avx2 avx512f avx512bw") + "\n" + processor.format(1, 1, "avx2"))
    assert machine.cpu(cpuinfo) == {"name": "AMD EPYC", "family": "25", "model": "17", "avx512": True}
    cpuinfo.write_text(processor.format(0, 1, "avx2 avx512_bf16_not_f"))
    assert machine.describe(machine.cpu(cpuinfo)) == "AMD EPYC (family 25, model 1, no AVX-512)"
    assert machine.cpu(tmp_path / "absent")["name"]


def test_benchmarks_name_the_commit_they_measured(tmp_path):
    """Results of runs hours apart are compared: each names its commit and whether helpers/ or bench/ had
    uncommitted edits (an edit elsewhere, or a new result, does not count); outside a checkout, None."""
    sys.path.insert(0, str(ROOT / "bench"))
    import machine

    assert machine.code_version(tmp_path) == {"commit": None, "edited": None}
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(git + ["init", "-q"], check=True)
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "kernels.py").write_text("x = 1\n")
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-qm", "one"], check=True)
    head = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    assert machine.code_version(tmp_path) == {"commit": head, "edited": False}
    (tmp_path / "README.md").write_text("notes\n")
    (tmp_path / "bench" / "results").mkdir(parents=True)
    (tmp_path / "bench" / "results" / "run.json").write_text("{}\n")
    assert machine.code_version(tmp_path)["edited"] is False, "a new result is not an edit of the code"
    (tmp_path / "helpers" / "kernels.py").write_text("x = 2\n")
    assert machine.code_version(tmp_path) == {"commit": head, "edited": True}


@pytest.mark.parametrize("name", ["lenet", "vgg", "resnet8", "resnet9"])
def test_models_agree_with_their_torch_twins(name):
    """Whole networks, train-mode forward and backward, ours in float32 against PyTorch with the same weights in
    float64. (PyTorch 2.13's own float32 gradients of the mini VGG's first layers are 1e-4 away from its float64
    ones, 0.8 % of their largest; ours are within 1e-8.)"""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed; the comparison is skipped")
    sys.path.insert(0, str(ROOT / "bench"))
    from torch_twins import torch_twin

    model = models.build(name, seed=6)
    twin = torch_twin(model).train().double()
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(8, 3, 32, 32)).astype(np.float32), rng.integers(0, 10, size=8)
    loss, dscores = kernels.softmax_cross_entropy(model.forward(x, train=True), y)
    model.backward(dscores)
    tloss = torch.nn.functional.cross_entropy(twin(torch.tensor(x, dtype=torch.float64)), torch.tensor(y))
    tloss.backward()
    assert loss == pytest.approx(tloss.item(), rel=1e-5)
    ours = [layer.grads[key] for _, layer, key in model.parameters()]
    theirs = [p.grad.numpy() for p in twin.parameters()]
    assert len(ours) == len(theirs)
    for g, t in zip(ours, theirs):
        t = t.T if g.ndim == 2 else t
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, t, rtol=1e-3, atol=1e-5 * max(1.0, float(np.abs(t).max())))
