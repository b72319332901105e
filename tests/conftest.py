"""Shared fixtures: one grading run over every kind of submission, made once per test session."""
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from autograder.course import HELPERS, NOTEBOOKS, REPO_ROOT, SOLUTIONS, assignments, manual_cells  # noqa: E402
from autograder.grade import grade  # noqa: E402
from autograder.sandbox import SandboxError, check_available  # noqa: E402
from autograder.task import Settings  # noqa: E402
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


# Attacks on the sandbox, each in front of honest work (tests/test_attacks.py). "{...}" are filled in per run.
ESCAPE_PROBE = '''
import ctypes, os, socket
_libc = ctypes.CDLL(None, use_errno=True)
_found = []
for _line in open("/proc/self/mountinfo"):
    _point = _line.split()[4].encode()
    if _libc.umount2(_point, 2) == 0:
        _found.append("unmounted " + _point.decode())
    if _libc.mount(None, _point, None, 32 | 4096, None) == 0:
        _found.append("remounted " + _point.decode())
if _libc.unshare(0x10000000 | 0x00020000) == 0:
    _found.append("made a user namespace")
for _path in {markers}:
    try:
        os.makedirs(os.path.dirname(_path), exist_ok=True)
        with open(_path, "w") as _f:
            _f.write("planted")
    except OSError:
        pass
for _path in {secrets}:
    try:
        open(_path).read()
        _found.append("read " + _path)
    except OSError:
        pass
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
    _found.append("connected to the host's loopback")
except OSError:
    pass
print("\\n".join("ESC" + "APED: " + f for f in _found) or "contained")
'''
FORK_LOOP = "import os\nwhile True:\n    os.fork()\n"
DISK_FILL = "with open('fill.bin', 'wb') as _f:\n    for _ in range(2560):\n        _f.write(b'x' * 2**20)\n"

# Delegation to the course's own code, for each assignment: {solution cell: code appended to the right answer}, one
# cell by a plain import, one by importlib with a computed name, one by reading the module's file and exec-ing it.
EXEC_FILE = '''
def _course_module(name):
    import helpers, os
    path = os.path.join(os.path.dirname(helpers.__file__), name + ".py")
    namespace = {"__name__": "helpers." + name, "__package__": "helpers"}
    exec(compile(open(path).read(), path, "exec"), namespace)
    return namespace
'''
DELEGATIONS = {
    "01_conv_arithmetic": {
        "conv_output_size": "from helpers.kernels import conv_output_shape as _shape\n"
                            "def conv_output_size(w, f, stride=1, pad=0):\n"
                            "    return _shape((1, 1, w, w), (1, 1, f, f), stride, pad)[2]\n",
        "conv_params": "import importlib\n"
                       "def conv_params(n_filters, f, depth, bias=True):\n"
                       "    arch = importlib.import_module('helpers.' + 'architec' + 'tures')\n"
                       "    return arch.conv_counts((depth, f, f), n_filters, f, bias=bias)['params']\n",
        "pool_shape": EXEC_FILE + "def pool_shape(in_shape, r, s):\n"
                                  "    return _course_module('architectures')['pool_counts'](in_shape, r, s)['shape']\n",
    },
    "02_convolution": {
        "conv_forward": "import helpers.kernels\ndef conv_forward(x, w, b, stride=1, pad=0):\n"
                        "    return helpers.kernels.conv_forward(x, w, b, stride=stride, pad=pad)\n",
        "conv_backward": "import importlib\ndef conv_backward(dout, cache):\n"
                         "    return importlib.import_module('helpers.' + 'kernels').conv_backward(dout, cache)\n",
        "zero_pad": EXEC_FILE + "def zero_pad(x, pad):\n    return _course_module('kernels')['_pad'](np, x, pad)\n",
    },
    "03_pooling": {
        "max_pool_forward": "from helpers import kernels as _k\ndef max_pool_forward(x, size=2, stride=2):\n"
                            "    return _k.max_pool_forward(x, size, stride)\n",
        "max_pool_backward": "import importlib\ndef max_pool_backward(dout, cache):\n"
                             "    return importlib.import_module('helpers.kernels').max_pool_backward(dout, cache)\n",
        "avg_pool": EXEC_FILE + "def avg_pool_forward(x, size=2, stride=2):\n"
                                "    return _course_module('kernels')['avg_pool_forward'](x, size, stride)\n",
    },
    "04_resnets": {
        "relu": "from helpers.kernels import relu_forward as _relu\ndef relu_forward(x):\n    return _relu(x)\n",
        "batchnorm_forward": "import importlib\ndef batchnorm_forward(x, gamma, beta, bn_param):\n"
                             "    k = importlib.import_module('helpers.' + 'kernels')\n"
                             "    return k.batchnorm_forward(x, gamma, beta, bn_param)\n",
        "conv_counts": EXEC_FILE + "def conv_counts(in_shape, filters, size, stride=1, pad=0, bias=True, bn=False):\n"
                                   "    return _course_module('architectures')['conv_counts'](in_shape, filters, size,"
                                   " stride, pad, bias, bn)\n",
    },
    "05_training": {
        "softmax_loss": "from helpers.kernels import softmax_cross_entropy\ndef softmax_loss(scores, y):\n"
                        "    return softmax_cross_entropy(scores, y)\n",
        "channel_stats": "import importlib\ndef channel_stats(images):\n"
                         "    return importlib.import_module('helpers.data')._channel_stats(images)\n",
        "build_models": EXEC_FILE + "def build_lenet5(seed=0):\n    return _course_module('models')['lenet5'](seed=seed)\n",
    },
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
    try:
        check_available(HELPERS)
    except SandboxError as exc:
        pytest.fail(f"grading needs its sandbox: {exc}")
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
    add_delegations(subs)
    out = subs.parent / "grades"
    attack = add_attacks(subs, out, tmp_path_factory.mktemp("elsewhere"))
    with attack["listener"]:
        rows = grade(subs, out=out, jobs=2, settings=Settings(cell_timeout=10, submission_timeout=240),
                     progress=False)
    return rows, subs, out, attack


def add_delegations(subs):
    """One submission per assignment whose graded functions delegate to the course's code (DELEGATIONS)."""
    for assignment, cells in DELEGATIONS.items():
        (notebook, release), = notebooks_of(NOTEBOOKS / assignment).items()
        source = SOLUTIONS / assignment / release.name
        perfect = fill_release(release, source)
        code = {c.metadata["nbgrader"]["grade_id"]: c.source for c in perfect.cells
                if c.metadata.get("nbgrader", {}).get("solution")}
        nb = fill_release(release, source, {cell: code[cell] + "\n" + extra for cell, extra in cells.items()})
        write_submission(subs, "delegate", assignment, {notebook: nb})


class Listener:
    """A TCP listener on the host's loopback that counts the connections it accepts (none may come)."""

    def __init__(self):
        import socket
        import threading
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.sock.close()


def first_exercise():
    """(notebook name, release path, source path, first solution cell's grade_id, its right answer) of the
    assignment the fault and attack submissions use."""
    (notebook, release), = notebooks_of(NOTEBOOKS / FAULT_ASSIGNMENT).items()
    source = SOLUTIONS / FAULT_ASSIGNMENT / release.name
    first = next(c.metadata["nbgrader"]["grade_id"] for c in nbformat.read(source, as_version=4).cells
                 if c.metadata.get("nbgrader", {}).get("solution"))
    code = next(c.source for c in fill_release(release, source).cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == first)
    return notebook, release, source, first, code


def add_attacks(subs, out, elsewhere):
    """The escape probe, a fork loop and a disk filler, each in front of the first exercise's right answer.

    Returns what the tests check afterwards: the marker paths (none may exist), the secret files and the listener.
    """
    notebook, release, source, first, first_code = first_exercise()
    private = elsewhere / "grader_only.txt"
    private.write_text("the grader's secret")
    private.chmod(0o600)
    clone = elsewhere / "another-clone" / "autograder" / "references" / "convolution.py"
    clone.parent.mkdir(parents=True)
    clone.write_text("HIDDEN = 'another course clone'\n")
    clone.chmod(0o644)
    tag = f"escape-marker-{os.getpid()}"
    markers = [REPO_ROOT / tag, REPO_ROOT / "autograder" / tag, REPO_ROOT / "solutions" / tag,
               REPO_ROOT / ".git" / tag, REPO_ROOT / "helpers" / tag, subs / tag, out / tag, elsewhere / tag,
               Path(tempfile.gettempdir()) / tag, Path.home() / tag]
    listener = Listener()
    probe = ESCAPE_PROBE.format(markers=[str(m) for m in markers], secrets=[str(private), str(clone)],
                                port=listener.port)
    for student, before in {"attack_escape": probe, "attack_fork_loop": FORK_LOOP,
                            "attack_disk_fill": DISK_FILL}.items():
        nb = fill_release(release, source, {first: before + "\n" + first_code})
        write_submission(subs, student, FAULT_ASSIGNMENT, {notebook: nb})
    return {"markers": markers, "listener": listener}


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


def by_hand(row):
    """Whether ``row`` is of a cell graded by hand (a written answer): never "passed" from the grader; a submission
    filled from the solutions has the model answer there, so its row says "needs manual grading"."""
    return row["cell"] in {cell for cells in manual_cells(row["assignment"]).values() for cell, _ in cells}


def auto_rows_of(rows, student, assignment=None):
    """The rows of the cells the grader scores (``rows_of`` without the cells graded by hand)."""
    return [r for r in rows_of(rows, student, assignment) if not by_hand(r)]
