"""The Gradescope autograder zip, unpacked in a temporary root and run as Gradescope would run it.

Each case grades one notebook of assignment 01 through the zip's own run_autograder (10-30 s each) and checks
results.json against Gradescope's specification: types, visibility values, test scores summing to the total,
every graded cell present with its points, no hidden-test source in what students see.
"""
import json
import os
import shutil
import subprocess
import sys
import zipfile

import nbformat
import pytest

from autograder.course import NOTEBOOKS, SOLUTIONS
from autograder.feedback import secret_lines
from autograder.gradescope import build_zip

ASSIGNMENT = "01_conv_arithmetic"
NOTEBOOK = "conv_arithmetic.ipynb"
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gradescope")
    files = build_zip(ASSIGNMENT, tmp / "autograder.zip", visibility="after_published")
    assert {"setup.sh", "run_autograder", "gradescope.json"} <= set(files)
    assert f"course/solutions/{ASSIGNMENT}/{NOTEBOOK}" in files and "course/autograder/gradescope.py" in files
    assert not any(f.startswith("course/solutions/") and ASSIGNMENT not in f for f in files)
    source = tmp / "source"
    with zipfile.ZipFile(tmp / "autograder.zip") as zf:
        for info in zf.infolist():
            assert (info.external_attr >> 16) & 0o111 or info.filename not in ("setup.sh", "run_autograder")
        zf.extractall(source)
    for name in ("setup.sh", "run_autograder"):
        os.chmod(source / name, 0o755)
        assert subprocess.run(["bash", "-n", str(source / name)]).returncode == 0, f"{name}: bash syntax error"
    return tmp, source


def graded_cells():
    nb = nbformat.read(SOLUTIONS / ASSIGNMENT / NOTEBOOK, as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: float(c.metadata["nbgrader"]["points"]) for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")}


def run_autograder(unpacked, name, files):
    """Runs run_autograder on a submission folder holding ``files`` ({name: bytes}); returns results.json."""
    tmp, source = unpacked
    root = tmp / name
    (root / "submission").mkdir(parents=True)
    os.symlink(source, root / "source")
    for filename, data in files.items():
        (root / "submission" / filename).write_bytes(data)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}
    done = subprocess.run(["bash", str(source / "run_autograder")], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((root / "results" / "results.json").read_text())


def check_specification(results):
    assert isinstance(results["score"], float)
    assert isinstance(results["output"], str) and isinstance(results["execution_time"], int)
    assert results["visibility"] in VISIBILITIES and results["stdout_visibility"] in VISIBILITIES
    cells = graded_cells()
    assert [t["name"] for t in results["tests"]] == [f"{c} ({NOTEBOOK[:-6]})" for c in cells]
    for test, (cell, points) in zip(results["tests"], cells.items()):
        assert set(test) == {"name", "number", "score", "max_score", "status", "output", "visibility"}
        assert isinstance(test["score"], float) and isinstance(test["max_score"], float)
        assert 0 <= test["score"] <= test["max_score"] == points
        assert test["status"] in ("passed", "failed") and test["visibility"] == "after_published"
        assert isinstance(test["output"], str) and isinstance(test["number"], str)
    assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]))
    text = json.dumps(results)
    assert "BEGIN HIDDEN TESTS" not in text
    sources = [c.source for c in nbformat.read(SOLUTIONS / ASSIGNMENT / NOTEBOOK, as_version=4).cells]
    assert not [line for line in secret_lines(sources) if line in text]


def test_blank_submission_under_another_name_scores_zero(unpacked):
    results = run_autograder(unpacked, "blank", {"my notebook.ipynb": (NOTEBOOKS / ASSIGNMENT / NOTEBOOK).read_bytes()})
    check_specification(results)
    assert results["score"] == 0.0
    assert f"my notebook.ipynb was graded as {NOTEBOOK}" in results["output"]
    assert all(t["status"] == "failed" and "[FAIL]" in t["output"] and "not implemented yet" in t["output"]
               for t in results["tests"])


def test_solution_scores_full_marks(unpacked):
    results = run_autograder(unpacked, "solution", {NOTEBOOK: (SOLUTIONS / ASSIGNMENT / NOTEBOOK).read_bytes()})
    check_specification(results)
    assert results["score"] == sum(graded_cells().values())
    assert all(t["status"] == "passed" and t["output"].startswith("[ok]") for t in results["tests"])


def test_corrupt_notebook_gets_a_result_with_a_message(unpacked):
    results = run_autograder(unpacked, "corrupt", {NOTEBOOK: b'{"cells": [ this is not json'})
    check_specification(results)
    assert results["score"] == 0.0
    assert all(t["output"].startswith(("ungradable: ", "error: ")) and len(t["output"]) > 20
               for t in results["tests"]), [t["output"] for t in results["tests"]]


def test_export_command_writes_the_zip(tmp_path):
    from autograder.cli import main
    dest = tmp_path / "ag.zip"
    assert main(["export", "--format", "gradescope", "--assignment", ASSIGNMENT, "--out", str(dest)]) == 0
    with zipfile.ZipFile(dest) as zf:
        settings = json.loads(zf.read("gradescope.json"))
    assert settings == {"assignment": ASSIGNMENT, "visibility": "visible", "sandbox": "auto",
                        "submission_timeout": 900}
    assert main(["export", "--format", "gradescope", "--out", str(dest)]) == 2
    shutil.rmtree(tmp_path)
