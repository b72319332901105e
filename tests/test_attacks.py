"""Attacks on the grader, each a real submission graded by the real grader (the shared run of conftest.graded):
the sandbox's walls, its limits, and delegation to the course's own implementations."""
import csv
import os
import re
import signal
import subprocess
import sys

import nbformat
import pytest

from autograder.course import HELPERS, REPO_ROOT
from autograder.guard import DELEGATED, check, course_fingerprints, pasted
from autograder.outcomes import HELD_AT_PROCESS_LIMIT, limits_reached
from autograder import sandbox
from autograder.sandbox import Limits
from conftest import DELEGATIONS, FAULT_ASSIGNMENT, auto_rows_of, by_hand, first_exercise, rows_of
from studentwork import fill_release, write_submission
from test_grading import feedback_text


def test_escape_probe_is_contained_and_keeps_full_marks(graded):
    rows, _, out, attack = graded
    assert auto_rows_of(rows, "attack_escape") and all(r["status"] == "passed"
                                                       for r in auto_rows_of(rows, "attack_escape"))
    text = feedback_text(out, "attack_escape", FAULT_ASSIGNMENT)
    assert "contained" in text and "ESCAPED" not in text, [line for line in text.splitlines() if "ESCAPED" in line]


def test_nothing_was_written_outside_the_sandbox(graded):
    planted = [m for m in graded[3]["markers"] if m.exists()]
    for marker in planted:
        marker.unlink()
    assert not planted, planted


def test_the_hosts_loopback_got_no_connection(graded):
    assert graded[3]["listener"].accepted == 0


@pytest.mark.parametrize("student, limit", [("attack_fork_loop", "process limit"), ("attack_disk_fill", "disk limit")])
def test_a_loop_at_a_limit_gets_rows_naming_the_limit(graded, student, limit):
    rows = auto_rows_of(graded[0], student)
    assert rows and rows[0]["status"] == "limit" and limit in rows[0]["reason"], rows[0]
    assert rows[0]["points"] == 0
    if student == "attack_fork_loop":  # a cell that timed out held at the process limit says so in its error
        path = graded[2] / "autograded" / student / FAULT_ASSIGNMENT / f"{first_exercise()[0]}.ipynb"
        cells = nbformat.read(path, as_version=4).cells
        timeouts = [o for c in cells for o in c.get("outputs", []) if o.get("ename") == "CellTimeoutError"]
        assert all(HELD_AT_PROCESS_LIMIT in o["evalue"] for o in timeouts), timeouts


FORK_AND_HOLD = """import os, time
forked = 0
while True:
    try:
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
        forked += 1
    except OSError:
        break
print(forked, flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("program, capped", [(FORK_AND_HOLD, True), ("import time\nprint(0, flush=True)\n"
                                                                      "time.sleep(600)\n", False)])
def test_without_a_pids_cgroup_the_process_limit_alone_caps_a_fork_loop_and_is_named(monkeypatch, tmp_path,
                                                                                      program, capped):
    """What a grader run by a normal user has (no pids cgroup; the kernel keeps the grader's uid, with other
    processes of that uid running): RLIMIT_NPROC alone must cap the sandbox at its limit, and the counter must tell
    a fork loop held at that cap (a kernel that timed out at the process limit) from a kernel that did not fork."""
    monkeypatch.setattr(sandbox, "PIDS_CGROUPS", ())  # as a normal user: no cgroup of the kernel's own
    limit = 24
    counter = sandbox.ProcessCounter(limit)
    assert counter.path is None
    ids = sandbox.sandbox_ids()
    tmp_path.chmod(0o711)
    connection = tmp_path / "connection.json"
    connection.write_text("{}")
    connection.chmod(0o644)
    argv = sandbox.command([sys.executable, "-c", program], helpers_dir=HELPERS, helpers_source=HELPERS, inputs=[],
                           connection_file=connection, work=tmp_path, ids=ids, nproc=counter.budget(ids[0]))
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        forked = int(proc.stdout.readline())
        if capped:  # the limit counts the sandbox's processes: the loop, its children and bubblewrap's own
            assert limit - 4 <= forked < limit, forked
        assert counter.reached(proc.pid, ids[0]) is capped
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.parametrize("release, per_namespace", [("6.18.44-fc-v1098", True), ("5.14.0-427.el9.x86_64", True),
                                                    ("5.13.19-generic", False), ("4.18.0-553.el8_10.x86_64", False)])
def test_the_process_limit_counts_per_user_namespace_from_linux_5_14(release, per_namespace):
    assert sandbox.nproc_counts_per_namespace(release) is per_namespace


@pytest.mark.parametrize("output", [
    # the kernel's own fork failed
    nbformat.v4.new_output("error", ename="BlockingIOError", evalue="[Errno 11] Resource temporarily unavailable",
                           traceback=[]),
    # the fork loop's children died starting ZMQ's threads, the kernel looped on until the cell's time ran out
    nbformat.v4.new_output("stream", name="stderr", text="Resource temporarily unavailable (src/thread.cpp:241)\n"),
])
def test_a_process_limit_is_named_from_the_kernels_error_or_a_c_librarys_stderr(output):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os\nwhile True:\n    os.fork()",
                                                                   outputs=[output])])
    reasons = limits_reached(nb, Limits())
    assert len(reasons) == 1 and "process limit" in reasons[0], reasons


def test_what_a_student_prints_on_stdout_names_no_limit():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('MemoryError')", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="MemoryError\n")])])
    assert limits_reached(nb, Limits()) == []


def test_other_submissions_are_untouched_by_the_attacks(graded):
    rows = graded[0]
    for student in ("solutions", "fault_noisy", "fault_deleted_tests"):
        got = [r for r in auto_rows_of(rows, student, FAULT_ASSIGNMENT)]
        assert got and all(r["status"] == "passed" for r in got), (student, got)


@pytest.mark.parametrize("assignment", sorted(DELEGATIONS))
def test_delegating_to_the_course_scores_zero_for_the_cell(graded, assignment):
    rows = rows_of(graded[0], "delegate", assignment)
    delegated = {r["cell"] for r in rows if DELEGATED in r["reason"]}
    assert len(delegated) >= 3, [(r["cell"], r["points"], r["reason"][:120]) for r in rows]
    assert all(r["points"] == 0 for r in rows if r["cell"] in delegated)
    assert any(r["status"] == "passed" for r in rows), "cells that do not delegate keep their points"


def test_pasted_course_code_is_flagged_not_scored():
    source = (HELPERS / "kernels.py").read_text()
    start = source.index("def max_pool_forward(")
    pasted_in = re.sub(r"\bout_h\b", "height_out", source[start:source.index("\ndef ", start + 1)])
    prints = course_fingerprints(HELPERS, "03_pooling")
    assert pasted([pasted_in], prints) == [("max_pool_forward", "helpers.kernels.max_pool_forward")]
    own = "def max_pool_forward(x, size=2, stride=2):\n    return x[:, :, ::stride, ::stride], None\n"
    assert pasted([own], prints) == []


def test_two_grading_runs_at_once_cannot_see_each_other(tmp_path):
    notebook, release, source, first, code = first_exercise()
    other = tmp_path / "run_a"
    snoop = ("import glob, os\n"
             f"_seen = glob.glob('/tmp/autograder-*') + [p for p in [{str(other)!r}] if os.path.exists(p)]\n"
             "print('SAW:', _seen)\nimport time\ntime.sleep(2)\n")
    write_submission(other / "subs", "a", FAULT_ASSIGNMENT, {notebook: fill_release(release, source, {first: snoop + code})})
    write_submission(tmp_path / "run_b" / "subs", "b", FAULT_ASSIGNMENT,
                     {notebook: fill_release(release, source, {first: snoop + code})})
    runs = {name: subprocess.Popen([sys.executable, "-m", "autograder", "grade", str(tmp_path / name / "subs"),
                                    "--out", str(tmp_path / name / "out"), "--jobs", "1"], cwd=REPO_ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for name in ("run_a", "run_b")}
    for name, student in (("run_a", "a"), ("run_b", "b")):
        output = runs[name].communicate(timeout=600)[0]
        assert runs[name].returncode == 0, output[-2000:]
        with open(tmp_path / name / "out" / "grades.csv") as f:
            assert all(r["status"] == "passed" for r in csv.DictReader(f) if not by_hand(r)), output[-2000:]
        text = feedback_text(tmp_path / name / "out", student, FAULT_ASSIGNMENT)
        assert "SAW: []" in text, [line for line in text.splitlines() if "SAW:" in line]


@pytest.mark.parametrize("assignment", sorted(DELEGATIONS))
def test_the_guard_knows_every_function_it_switches_off(assignment):
    check(HELPERS, assignment)  # raises when a kernel was renamed and OFF_LIMITS still names the old one
