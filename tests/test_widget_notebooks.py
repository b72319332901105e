"""Every solution notebook that shows an explorer runs top to bottom headless (nbclient) and emits widget views."""
import shutil

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.course import SOLUTIONS

VIEW = "application/vnd.jupyter.widget-view+json"
STATE = "application/vnd.jupyter.widget-state+json"
EXPECTED = {"01_conv_arithmetic": "convnets-sliding-filter", "02_convolution": "convnets-sliding-filter",
            "03_pooling": "convnets-pooling"}


def widget_notebooks():
    """{assignment: notebook path} of the solution notebooks whose code imports helpers.widgets."""
    found = {}
    for path in sorted(SOLUTIONS.glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if any("helpers.widgets" in c.source for c in nb.cells if c.cell_type == "code"):
            found[path.parent.name] = path
    return found


def test_the_explorers_are_in_their_notebooks():
    assert EXPECTED.keys() <= widget_notebooks().keys()


@pytest.mark.parametrize("assignment", sorted(widget_notebooks()))
def test_notebook_runs_headless_and_shows_its_explorer(assignment, tmp_path):
    folder = tmp_path / assignment
    shutil.copytree(SOLUTIONS / assignment, folder)
    path = folder / widget_notebooks()[assignment].name
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()

    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{assignment}: {errors[0].ename}: {errors[0].evalue}"
    views = [o.data[VIEW]["model_id"] for c in nb.cells if c.cell_type == "code" for o in c.outputs
             if o.output_type == "execute_result" and VIEW in o.get("data", {})]
    assert views, f"{assignment}: no cell displayed a widget"
    models = nb.metadata["widgets"][STATE]["state"]
    classes = {css for model_id in views for css in models[model_id]["state"].get("_dom_classes", [])}
    expected = EXPECTED.get(assignment, "convnets-architecture")
    assert expected in classes, f"{assignment}: the displayed widgets have classes {sorted(classes)}"
    images = [m for m in models.values() if m["model_name"] == "ImageModel"]
    assert images and all(m["state"].get("format") == "png" for m in images)
