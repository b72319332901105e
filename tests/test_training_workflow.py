"""Assignment 05 with QUICK = False (on a tiny CIFAR-format copy the test writes itself): LeNet-5 trains first and
lenet5.npz is written right after it, before the mini VGG and ResNet-9, which only run when switched on."""
import shutil

import nbformat
import numpy as np
from nbclient import NotebookClient

from autograder.course import SOLUTIONS
from cifar_fixture import make_tiny_cifar


def test_full_mode_saves_the_checkpoint_first_and_skips_the_long_runs(tmp_path, monkeypatch):
    tiny = make_tiny_cifar(tmp_path / "cifar", per_class_train=12, per_class_test=5)   # 120 + 50 images
    monkeypatch.setenv("CIFAR10_PATH", str(tiny.tarball))
    monkeypatch.setenv("CONVNETS_DEVICE", "cpu")
    folder = tmp_path / "05_training"
    shutil.copytree(SOLUTIONS / "05_training", folder, ignore=shutil.ignore_patterns("*.npz"))
    nb = nbformat.read(folder / "training.ipynb", as_version=4)
    assert "QUICK = True " in nb.cells[1].source and "TRAIN_VGG = False" in nb.cells[1].source
    nb.cells[1].source = nb.cells[1].source.replace("QUICK = True ", "QUICK = False")
    resnet_cell = next(i for i, c in enumerate(nb.cells)
                       if c.cell_type == "code" and "build_mini_resnet(SMALL" in c.source)
    nb.cells = nb.cells[:resnet_cell + 1]                       # up to the last training run
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()

    def printed(cell):
        return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    lenet_cell = next(i for i, c in enumerate(nb.cells)
                      if c.cell_type == "code" and "lenet = build_lenet5()" in c.source)
    assert "saved lenet5.npz" in printed(nb.cells[lenet_cell])
    assert all("full run skipped" in printed(c) for c in nb.cells[lenet_cell + 1:] if "build_mini_" in c.source)
    with np.load(folder / "lenet5.npz") as saved:
        assert {"0.w", "11.b", "mean", "std"} <= set(saved.files) and saved["mean"].shape == (3,)
