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
    lenet = json.loads((RESULTS / "train_lenet.json").read_text())
    vgg = json.loads((RESULTS / "train_vgg.json").read_text())
    text = text_of("05_training", "training")
    assert lenet["epochs"] == 20 and vgg["epochs"] == 12
    assert f"{lenet['train_seconds']:,.0f} s on 2 CPU cores" in text
    assert f"{100 * lenet['final_test_acc']:.1f}% on the test set" in text
    assert f"12 epochs took {vgg['train_seconds']:,.0f} s ({vgg['train_seconds'] / 60:.0f} min)" in text
    assert f"30 take about {vgg['train_seconds'] / vgg['epochs'] * 30 / 3600:.1f} hours" in text
    assert f"(about {lenet['train_seconds'] / 60:.0f} minutes)" in text
    assert "about 10 minutes" not in text
