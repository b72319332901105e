"""Shared fixtures: one grading run over every kind of submission, made once per test session."""
import importlib.util
import shutil
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

# Student code for the fault submissions: (before, after) the first solution cell's correct code; "{fn}" is
# that cell's function. Each is honest work with a fault around it.
LEAK_PROBE = '''
import glob, os
for _pattern in ["/tmp/autograder-*/**/gradebook.db", "/tmp/autograder-*/**/*.json", "{solutions}/**/*.ipynb",
                 "{submissions}/*/*/*.ipynb", "{repo}/.git/config", "{repo}/autograder/references/*.py"]:
    for _path in glob.glob(_pattern, recursive=True):
        if os.path.abspath(_path).startswith(os.getcwd()):
            continue  # the notebook's own folder: its own inputs are no secret
        try:
            open(_path, "rb").read(1)
            print("LE" + "AKED:", _path)
        except OSError:
            pass
'''
FAULTS = {
    "fault_loop": ("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n", ""),
    "fault_exit": ("import os\nos._exit(1)\n", ""),
    "fault_noisy": ("import sys, warnings\nwarnings.warn('a warning from student code')\n"
                    "print('debug output', file=sys.stderr)\n",
                    "_quiet_{fn} = {fn}\n"
                    "def {fn}(*args, **kwargs):\n"
                    "    warnings.warn('a warning inside the graded function')\n"
                    "    print('noise on stderr', file=sys.stderr)\n"
                    "    print('noise on stdout')\n"
                    "    return _quiet_{fn}(*args, **kwargs)\n"),
    "fault_huge_output": ("print('x' * 50_000_000)\nfor _i in range(100_000):\n    print(_i)\n", ""),
    "fault_memory": ("_hog = bytearray(64 * 2**30)\n", ""),
    "fault_sleep": ("import time\ntime.sleep(10**6)\n", ""),
    "fault_sleep_in_fork": ("import os, time\nif os.fork() == 0:\n    time.sleep(10**6)\n", ""),
}

# Cheats: code put in front of the blank release's first solution cell (the honest work inside is nothing, so
# each must score 0). "stub_answers" instead answers every exercise with an object that claims to be right.
CHEATS = {
    "cheat_patch_numpy": ("import numpy as np\nnp.allclose = lambda *a, **k: True\n"
                          "np.array_equal = lambda *a, **k: True\nnp.testing.assert_allclose = lambda *a, **k: None\n"),
    "cheat_patch_builtins": ("import builtins\n_real_isinstance = builtins.isinstance\n"
                             "builtins.isinstance = lambda obj, cls: True\n"),
    "cheat_patch_toolkit": ("import helpers.checks as _hc\n"
                            "_hc.TestCell.score = lambda self: float(self.points)\n"
                            "_hc.TestCell._record = lambda self, passed, weight, line: print('[ok]', line) or True\n"),
    "cheat_hide_errors": ("import sys\nsys.excepthook = lambda *a: None\n"
                          "get_ipython().showtraceback = lambda *a, **k: None\n"
                          "get_ipython().showsyntaxerror = lambda *a, **k: None\n"),
    "cheat_input_transformer": ("def _full_marks(lines):\n"
                                "    if any('TestCell(points=' in line for line in lines):\n"
                                "        src = ''.join(lines)\n"
                                "        points = src.split('TestCell(points=')[1].split(')')[0]\n"
                                "        return ['try:\\n'] + ['    ' + line for line in lines] + "
                                "['\\nexcept BaseException:\\n    pass\\n', f'float({points})\\n']\n"
                                "    return lines\n"
                                "get_ipython().input_transformers_post.append(_full_marks)\n"),
    "cheat_forge_results": ("import json, os\n"
                            "def _forge():\n"
                            "    calls = json.load(open('grader_inputs.json'))\n"
                            "    os.makedirs('.grader_out', exist_ok=True)\n"
                            "    for cell, cases in calls.items():\n"
                            "        json.dump([{'__ndarray__': 'gASVAAAAAAAAAAA='} for _ in cases],"
                            " open(f'.grader_out/{cell}.json', 'w'))\n"
                            "if os.path.exists('grader_inputs.json'):\n    _forge()\n"),
}
STUB_ANSWER = '''
class _Anything:
    shape = property(lambda self: self)
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __bool__(self): return True
    def __len__(self): return 0
    def __iter__(self): return iter(())
    def __getattr__(self, name): return self
    def __call__(self, *a, **k): return self
    def __getitem__(self, key): return self
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __floordiv__ = __call__
    __lt__ = __le__ = __gt__ = __ge__ = __eq__
    __hash__ = object.__hash__
    def __int__(self): return 0
    def __float__(self): return 0.0
    def __index__(self): return 0

def {fn}(*args, **kwargs):
    return _Anything()
'''


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
        folder = write_submission(subs, "solutions", name,
                                  {n: nbformat.read(p, as_version=4) for n, p in source.items()})
        for handed_in in (SOLUTIONS / name).glob("*.npz"):  # files handed in with the notebook (a checkpoint)
            shutil.copyfile(handed_in, folder / handed_in.name)
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
    """Submissions that break or try to game the grader (FAULTS, CHEATS, STUB_ANSWER, LEAK_PROBE)."""
    (notebook, release), = notebooks_of(NOTEBOOKS / FAULT_ASSIGNMENT).items()
    source = SOLUTIONS / FAULT_ASSIGNMENT / release.name
    solution_ids = [c.metadata["nbgrader"]["grade_id"] for c in nbformat.read(source, as_version=4).cells
                    if c.metadata.get("nbgrader", {}).get("solution")]
    first = solution_ids[0]
    perfect = fill_release(release, source)
    first_code = next(c.source for c in perfect.cells if c.metadata.get("nbgrader", {}).get("grade_id") == first)
    blank_first = next(c.source for c in nbformat.read(release, as_version=4).cells
                       if c.metadata.get("nbgrader", {}).get("grade_id") == first)
    probe = LEAK_PROBE.format(solutions=SOLUTIONS, submissions=subs, repo=SOLUTIONS.parent)
    for student, (before, after) in {**FAULTS, "fault_snoop": (probe, "")}.items():
        code = before + "\n" + first_code + "\n" + after.format(fn=first)
        write_submission(subs, student, FAULT_ASSIGNMENT, {notebook: fill_release(release, source, {first: code})})
    for student, cheat in CHEATS.items():
        nb = nbformat.read(release, as_version=4)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == first:
                cell.source = cheat + "\n" + blank_first
        write_submission(subs, student, FAULT_ASSIGNMENT, {notebook: nb})
    stubs = fill_release(release, source, {fn: STUB_ANSWER.format(fn=fn) for fn in solution_ids})
    write_submission(subs, "cheat_stub_answers", FAULT_ASSIGNMENT, {notebook: stubs})
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
