"""Attacks on the grader, each a real submission graded by the real grader (the shared run of conftest.graded):
the sandbox's walls, its limits, and delegation to the course's own implementations."""
import csv
import re
import subprocess
import sys

import nbformat
import pytest

from autograder.course import HELPERS, REPO_ROOT
from autograder.guard import DELEGATED, check, course_fingerprints, pasted
from autograder.outcomes import limits_reached
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
