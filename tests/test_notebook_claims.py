"""The numbers the notebooks quote from measured runs are the ones in bench/results (one source of truth)."""
import json
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def text_of(assignment, notebook):
    nb = nbformat.read(ROOT / "solutions" / assignment / f"{notebook}.ipynb", as_version=4)
    return "\n".join(" ".join(c.source.split()) for c in nb.cells)   # one space between words, across lines


def test_degradation_text_quotes_the_full_run():
    runs = json.loads((RESULTS / "degradation.json").read_text())["runs"]
    text = text_of("04_resnets", "resnets")
    final = {name: (f"{100 * run['train_error'][-1]:.1f}%", f"{100 * run['test_error'][-1]:.1f}%")
             for name, run in runs.items()}
    assert f"({final['plain-56'][0]} against {final['plain-20'][0]} after 25 epochs)" in text
    assert f"its test error is just as bad ({final['plain-56'][1]})" in text
    assert f"({final['resnet-56'][0]} training error against {final['plain-56'][0]})" in text
    assert f"worse than ResNet-20 ({final['resnet-20'][0]}) and even than plain-20 ({final['plain-20'][0]})" in text
    assert runs["resnet-56"]["train_error"][-1] > runs["resnet-20"]["train_error"][-1]   # "still trains worse"
    assert "almost as well" not in text


def test_training_times_are_the_measured_ones():
    """Each full run's recipe (epochs, padding, learning rate) and its time and accuracy, as bench/train_models.py
    measured them."""
    lenet, vgg, resnet = (json.loads((RESULTS / f"train_{name}.json").read_text())
                          for name in ("lenet", "vgg", "resnet9"))
    text = text_of("05_training", "training")
    assert f"LeNet-5 for {lenet['epochs']} epochs" in text and "crop (pad 2)" in lenet["augment"]
    assert f"{lenet['train_seconds']:,.0f} s (under 5 minutes)" in text and lenet["train_seconds"] < 300
    assert f"{lenet['train_seconds']:,.0f} s on 2 CPU cores" in text
    assert f"{100 * lenet['final_test_acc']:.1f}% on the test set" in text
    assert f"epochs=2 if QUICK else {lenet['epochs']}, batch_size=64 if QUICK else 128, crop_pad=2)" in text
    assert f"--model lenet --epochs {lenet['epochs']} --crop-pad 2 --save" in text
    for run, name in ((vgg, "mini VGG"), (resnet, "ResNet-9")):
        minutes = f"{run['train_seconds'] / 60:.0f}"
        assert (f"{name}, {run['epochs']} epochs: {run['train_seconds']:,.0f} s ({minutes} min) on 2 CPU cores, "
                f"{100 * run['final_test_acc']:.1f}%") in text
        assert f"{run['epochs']} epochs take about {minutes} minutes on 2 CPU cores" in text
        assert f"epochs=1 if QUICK else {run['epochs']}, batch_size=32 if QUICK else 128" in text
    assert "crop (pad 2)" in vgg["augment"] and f"crop_pad=2, lr={vgg['lr']})" in text
    assert f"lr={resnet['lr']})" in text and "crop (pad 4)" in resnet["augment"]   # run()'s default crop_pad=4
    minutes = [f"{run['train_seconds'] / 60:.0f}" for run in (vgg, resnet)]
    assert text.count(f"about {minutes[0]} and {minutes[1]} minutes on 2 CPU cores") == 2   # intro and section 10
    assert "hours on a CPU" not in text
