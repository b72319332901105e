"""Shared fixtures: one grading run over every kind of submission, made once per test session."""
import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from autograder.course import NOTEBOOKS, SOLUTIONS, assignments  # noqa: E402
from autograder.grade import grade  # noqa: E402
from studentwork import fill_release, write_submission  # noqa: E402

MISTAKES_DIR = Path(__file__).parent / "mistakes"
FAULT_ASSIGNMENT = "01_conv_arithmetic"

# Student code for the fault submissions; each replaces the first solution cell of FAULT_ASSIGNMENT.
LEAK_PROBE = '''
import glob, os
for _pattern in ["/tmp/autograder-*/**/gradebook.db", "/tmp/autograder-*/**/*.json", "{solutions}/**/*.ipynb",
                 "{submissions}/*/*/*.ipynb", "{repo}/.git/config"]:
    for _path in glob.glob(_pattern, recursive=True):
        try:
            open(_path, "rb").read(1)
            print("LE" + "AKED:", _path)
        except OSError:
            pass
'''
FAULTS = {
    "fault_loop": "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n",
    "fault_exit": "import os\nos._exit(1)\n",
    "fault_noisy": ("import sys, warnings\nwarnings.warn('a warning from student code')\n"
                    "print('debug output', file=sys.stderr)\n"),
}


def load_mistakes():
    """All mistake corpora: [(module name, assignment, notebook, mistake dict)]."""
    found = []
    for path in sorted(MISTAKES_DIR.glob("m*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        found += [(path.stem, module.ASSIGNMENT, module.NOTEBOOK, m) for m in module.MISTAKES]
    return found


def mistake_student(mistake):
    return f"mistake_{mistake['id']}"


def notebooks_of(folder):
    return {p.stem: p for p in sorted(Path(folder).glob("*.ipynb"))}


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """Grades, in one run with --jobs 2: the solutions, the blank release, every corpus mistake and the faults.

    Returns (rows, submissions folder, output folder).
    """
    subs = tmp_path_factory.mktemp("submissions")
    for name in assignments():
        source, release = notebooks_of(SOLUTIONS / name), notebooks_of(NOTEBOOKS / name)
        write_submission(subs, "solutions", name, {n: nbformat.read(p, as_version=4) for n, p in source.items()})
        write_submission(subs, "release", name, {n: nbformat.read(p, as_version=4) for n, p in release.items()})
    for _, assignment, notebook, mistake in load_mistakes():
        nb = fill_release(NOTEBOOKS / assignment / f"{notebook}.ipynb", SOLUTIONS / assignment / f"{notebook}.ipynb",
                          replace={mistake["cell"]: mistake["code"]})
        write_submission(subs, mistake_student(mistake), assignment, {notebook: nb})
    add_fault_submissions(subs)
    out = subs.parent / "grades"
    rows = grade(subs, out=out, jobs=2, cell_timeout=10, submission_timeout=240, progress=False)
    return rows, subs, out


def add_fault_submissions(subs):
    """Submissions that try to break or game the grader (see FAULTS, LEAK_PROBE)."""
    (notebook, release), = notebooks_of(NOTEBOOKS / FAULT_ASSIGNMENT).items()
    source = SOLUTIONS / FAULT_ASSIGNMENT / release.name
    first = next(c.metadata["nbgrader"]["grade_id"] for c in nbformat.read(source, as_version=4).cells
                 if c.metadata.get("nbgrader", {}).get("solution"))
    perfect = fill_release(release, source)
    first_code = next(c.source for c in perfect.cells if c.metadata.get("nbgrader", {}).get("grade_id") == first)
    probe = LEAK_PROBE.format(solutions=SOLUTIONS, submissions=subs, repo=SOLUTIONS.parent)
    for student, code in {**FAULTS, "fault_snoop": probe}.items():
        nb = fill_release(release, source, replace={first: code + "\n" + first_code})
        write_submission(subs, student, FAULT_ASSIGNMENT, {notebook: nb})
    write_submission(subs, "fault_corrupt", FAULT_ASSIGNMENT, {notebook: '{"cells": ['})
    deleted = fill_release(release, source)
    deleted.cells = [c for c in deleted.cells if not c.metadata.get("nbgrader", {}).get("grade")]
    write_submission(subs, "fault_deleted_tests", FAULT_ASSIGNMENT, {notebook: deleted})
    stripped = fill_release(release, source)
    for cell in stripped.cells:
        cell.metadata.pop("nbgrader", None)
    write_submission(subs, "fault_stripped_metadata", FAULT_ASSIGNMENT, {notebook: stripped})


def rows_of(rows, student, assignment=None):
    return [r for r in rows if r["student"] == student and (assignment is None or r["assignment"] == assignment)]
