"""The grader on real submissions: solutions, blank release, the mistake corpus and faulty work (one run)."""
import csv
import html
import re
import tempfile
from pathlib import Path

import nbformat
import pytest

from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config

from autograder import references
from autograder.course import NOTEBOOKS, SOLUTIONS, assignments
from autograder.feedback import secret_lines
from autograder.grade import grade
from autograder.task import Settings
from conftest import (CHEATS, FAULT_ASSIGNMENT, auto_rows_of, by_hand, load_mistakes, mistake_student, notebooks_of,
                      rows_of)
from studentwork import fill_release, solution_lines, write_submission


def feedback_text(out, student, assignment):
    """The visible text of a student's feedback pages for one assignment."""
    pages = sorted((out / "feedback" / student / assignment).glob("*.html"))
    assert pages, f"no feedback written for {student}/{assignment}"
    return "\n".join(html.unescape(re.sub(r"<[^>]+>", "", p.read_text())) for p in pages)


def test_every_submission_has_every_row(graded):
    rows, subs, out, _ = graded
    with open(out / "grades.csv") as f:
        on_disk = list(csv.DictReader(f))
    assert len(on_disk) == len(rows)
    assert set(on_disk[0]) == {"student", "assignment", "notebook", "cell", "points", "max_points", "status",
                               "reason", "flags"}
    submitted = {(s.name, a.name) for s in subs.iterdir() for a in s.iterdir()}
    assert {(r["student"], r["assignment"]) for r in rows} == submitted
    per_submission = {}
    for r in rows:
        per_submission.setdefault((r["student"], r["assignment"]), []).append(r["cell"])
    for (student, assignment), cells in per_submission.items():
        assert cells == [r["cell"] for r in rows_of(rows, "solutions", assignment)], (student, assignment)


def test_checks_csv_has_every_check_of_every_graded_cell(graded):
    rows, _, out, _ = graded
    with open(out / "checks.csv") as f:
        checks = list(csv.DictReader(f))
    assert len(checks) == sum(len(r["checks"]) for r in rows)
    solved = [c for c in checks if c["student"] == "solutions"]
    assert solved and all(c["passed"] == "1" for c in solved)
    mistakes = {(c["student"], c["cell"]) for c in checks if c["passed"] == "0"}
    assert {(r["student"], r["cell"]) for r in rows
            if r["status"] in ("partial", "failed") and not by_hand(r)} <= mistakes   # written answers: no checks


@pytest.mark.parametrize("assignment", assignments())
def test_solutions_score_full_marks(graded, assignment):
    rows = auto_rows_of(graded[0], "solutions", assignment)
    assert rows and all(r["status"] == "passed" and r["points"] == r["max_points"] for r in rows), rows
    # the written answers (the model answers here) wait for a person: no points yet, not 0
    written = [r for r in rows_of(graded[0], "solutions", assignment) if by_hand(r)]
    assert all(r["status"] == "needs manual grading" and r["points"] is None for r in written), written


@pytest.mark.parametrize("assignment", assignments())
def test_blank_release_scores_zero_without_errors(graded, assignment):
    rows = rows_of(graded[0], "release", assignment)
    assert rows and all(r["points"] == 0 and r["status"] == "failed" for r in rows), rows
    assert all("not implemented yet" in r["reason"] for r in rows if not by_hand(r)), [r["reason"] for r in rows]
    assert all("no answer" in r["reason"] for r in rows if by_hand(r)), [r["reason"] for r in rows]


def test_written_answers_are_in_01_04_and_05_and_wait_for_grading_by_hand(graded):
    rows = graded[0]
    for name in ("01_conv_arithmetic", "04_resnets", "05_training"):
        assert [r for r in rows_of(rows, "solutions", name) if by_hand(r)], name
    # a notebook whose code could not finish still has its written answer to grade
    looped = [r for r in rows_of(rows, "fault_loop") if by_hand(r)]
    assert looped and all(r["status"] == "needs manual grading" for r in looped), looped


@pytest.mark.parametrize("assignment, mistake", [(a, m) for _, a, _, m in load_mistakes()],
                         ids=[m["id"] for *_, m in load_mistakes()])
def test_each_mistake_loses_points_with_its_message(graded, assignment, mistake):
    rows, _, out, _ = graded
    student = mistake_student(mistake)
    cell = [r for r in rows_of(rows, student, assignment) if r["cell"] == mistake["test_cell"]]
    assert cell, f"no row for test cell {mistake['test_cell']}"
    assert cell[0]["points"] < cell[0]["max_points"], f"{mistake['id']} kept full marks"
    assert mistake["message"] in cell[0]["reason"], cell[0]["reason"]
    assert mistake["message"] in feedback_text(out, student, assignment)


def test_feedback_and_grades_never_show_hidden_tests_references_or_solutions(graded):
    _, subs, out, _ = graded
    secrets = set()
    for name in assignments():
        for path in (SOLUTIONS / name).glob("*.ipynb"):
            secrets |= secret_lines(c.source for c in nbformat.read(path, as_version=4).cells)
        reference = Path(references.load(name).__file__).read_text().splitlines()
        # code lines of the reference, not rows of public data (the notes' tables are in the notebook too)
        secrets |= {line.strip() for line in reference
                    if len(line.strip()) > 30 and not re.fullmatch(r"[\d\s(),\[\]._-]+", line.strip())}
    assert secrets
    pages = list((out / "feedback").rglob("*.html"))
    assert len(pages) == sum(1 for s in subs.iterdir() for a in s.iterdir())  # every submission has feedback
    autograded = list((out / "autograded").rglob("*.ipynb"))   # what formgrader shows (and its feedback uses)
    assert autograded
    for page in pages + autograded + [out / "grades.csv"]:
        text = html.unescape(page.read_text())
        assert "BEGIN HIDDEN TESTS" not in text, page
        if "/solutions/" not in str(page.relative_to(out)):  # the solutions' own cells hold their markers
            assert "BEGIN SOLUTION" not in text, page
        own = ""   # a notebook in autograded/ holds the student's own code: lines they handed in are no leak
        if page in autograded:   # (a reference line can be the very line a right answer has)
            _, student, assignment, _ = page.relative_to(out).parts
            handed = subs / student / assignment / page.name
            own = html.unescape(handed.read_text(errors="replace")) if handed.is_file() else ""
        leaked = [s for s in secrets if s in text and s not in own]
        assert not leaked, f"{page} shows hidden test or reference lines: {leaked[:3]}"
    # No solution line reaches the feedback of a student who did not write it (the blank release).
    for name in assignments():
        text = feedback_text(out, "release", name) + "".join(
            p.read_text() for p in (out / "autograded" / "release" / name).glob("*.ipynb"))
        for path in (SOLUTIONS / name).glob("*.ipynb"):
            answers = solution_lines(nbformat.read(path, as_version=4))
            assert answers and not [line for line in answers if line in text]


def test_the_output_is_an_nbgrader_course_folder_with_the_scores_of_grades_csv(graded):
    rows, subs, out, _ = graded
    config = Config()
    config.CourseDirectory.root = str(out)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    totals = {}
    for r in rows:
        key = (r["student"], r["assignment"])
        totals[key] = totals.get(key, 0.0) + (r["points"] or 0.0)
    for name in assignments():
        submissions = {s["student"]: s for s in api.get_submissions(name)}
        assert set(submissions) == {s for s, a in totals if a == name}   # one per student and assignment
        for student, submission in submissions.items():
            assert submission["score"] == pytest.approx(totals[(student, name)]), (student, name)
            assert (out / "autograded" / student / name).is_dir()


def test_feedback_shows_the_graders_checks(graded):
    _, _, out, _ = graded
    text = feedback_text(out, "release", FAULT_ASSIGNMENT)
    assert "The grader's checks, on new inputs" in text and "[FAIL]" in text and "not implemented yet" in text


@pytest.mark.parametrize("cheat", sorted(CHEATS) + ["cheat_stub_answers"])
def test_cheats_score_nothing(graded, cheat):
    rows = rows_of(graded[0], cheat)
    assert rows and sum(r["points"] or 0 for r in rows) == 0, [(r["cell"], r["points"], r["reason"]) for r in rows]
    assert all(r["reason"] for r in rows)


@pytest.mark.parametrize("cheat", ["cheat_patch_toolkit", "cheat_input_transformer"])
def test_when_the_notebook_claims_points_the_grader_says_it_disagrees(graded, cheat):
    rows = auto_rows_of(graded[0], cheat)
    assert all("the notebook's own tests gave" in r["reason"] and "the grader's checks give 0" in r["reason"]
               for r in rows), [r["reason"] for r in rows]


def test_kernel_cannot_read_the_graders_files(graded):
    rows, _, out, _ = graded
    assert all(r["status"] == "passed" for r in auto_rows_of(rows, "fault_snoop"))
    text = feedback_text(out, "fault_snoop", FAULT_ASSIGNMENT)
    assert "LEAKED:" not in text, [line for line in text.splitlines() if "LEAKED:" in line]


@pytest.mark.parametrize("student", ["fault_noisy", "fault_huge_output", "fault_sleep_in_fork"])
def test_honest_work_with_noise_keeps_full_marks(graded, student):
    rows = auto_rows_of(graded[0], student)
    assert rows and all(r["status"] == "passed" for r in rows), [(r["cell"], r["reason"]) for r in rows]


def test_huge_output_is_cut_in_the_feedback(graded):
    page = next((graded[2] / "feedback" / "fault_huge_output").rglob("*.html"))
    assert page.stat().st_size < 5 * 2**20 and "output truncated" in page.read_text()


@pytest.mark.parametrize("student", ["fault_memory", "fault_sleep"])
def test_a_hog_or_a_sleep_fails_only_its_own_cell(graded, student):
    rows = auto_rows_of(graded[0], student)
    assert all(r["status"] in ("passed", "partial", "failed", "limit") for r in rows), rows
    assert rows[0]["points"] == 0 and "not defined" in rows[0]["reason"]
    if student == "fault_memory":
        assert rows[0]["status"] == "limit" and "memory limit" in rows[0]["reason"], rows[0]
    assert any(r["status"] == "passed" for r in rows)


def test_corrupt_notebook_gets_rows_a_reason_and_a_feedback_page(graded):
    rows, _, out, _ = graded
    rows = rows_of(rows, "fault_corrupt")
    assert rows and all(r["status"] == "ungradable" and r["points"] == 0 for r in rows)
    assert "not a valid notebook" in rows[0]["reason"]
    assert "could not be graded: not a valid notebook" in feedback_text(out, "fault_corrupt", FAULT_ASSIGNMENT)


def test_dead_kernel_gets_rows_with_a_reason(graded):
    rows = auto_rows_of(graded[0], "fault_exit")
    assert rows and all(r["status"] == "error" and r["points"] == 0 for r in rows)
    assert "the kernel died" in rows[0]["reason"], rows[0]["reason"]


def test_loop_that_ignores_interrupts_times_out(graded):
    rows = auto_rows_of(graded[0], "fault_loop")
    assert rows and all(r["status"] == "timeout" and r["points"] == 0 for r in rows), rows
    assert "ignored the interrupt" in rows[0]["reason"]


def test_deleted_test_cells_are_restored_and_run(graded):
    rows = auto_rows_of(graded[0], "fault_deleted_tests")
    assert rows and all(r["status"] == "passed" for r in rows), rows
    # the written answer was a graded cell too, deleted with the tests: nothing to grade
    written = [r for r in rows_of(graded[0], "fault_deleted_tests") if by_hand(r)]
    assert written and all(r["points"] == 0 and "no answer" in r["reason"] for r in written), written


def test_stripped_metadata_is_graded_on_what_the_functions_return(graded):
    # The restored test cells go to the top (their place is unknown) and run before the functions exist, so the
    # notebook's own tests give 0; the stripped copies further down record what the functions return, and the
    # grader's checks judge that: stripping metadata neither gains nor loses points.
    rows = auto_rows_of(graded[0], "fault_stripped_metadata")
    assert rows and all(r["status"] == "passed" for r in rows), rows
    assert all("the notebook's own tests gave 0" in r["reason"] for r in rows)


def test_a_submission_past_its_time_is_killed_and_still_gets_rows_and_feedback(tmp_path):
    (notebook, release), = notebooks_of(NOTEBOOKS / FAULT_ASSIGNMENT).items()
    source = SOLUTIONS / FAULT_ASSIGNMENT / release.name
    first = next(c for c in fill_release(release, source).cells if c.metadata.get("nbgrader", {}).get("solution")
                 and c.cell_type == "code")
    slow = fill_release(release, source, {first.metadata.nbgrader.grade_id: "import time\ntime.sleep(30)\n"
                                                                             + first.source})
    write_submission(tmp_path / "subs", "slow", FAULT_ASSIGNMENT, {notebook: slow})
    rows = grade(tmp_path / "subs", out=tmp_path / "out", jobs=1, settings=Settings(submission_timeout=3),
                 progress=False)
    assert rows and all(r["status"] == "timeout" and "3 s" in r["reason"] for r in rows if not by_hand(r))
    assert all(r["status"] == "needs manual grading" for r in rows if by_hand(r))   # its answer is still there
    page = (tmp_path / "out" / "feedback" / "slow" / FAULT_ASSIGNMENT / f"{notebook}.html").read_text()
    assert "could not be graded" in page


def test_only_the_workers_scratch_gradebooks_skip_waiting_for_the_disk(tmp_path):
    from nbgrader.api import Gradebook
    from sqlalchemy import text

    from autograder import run

    def settings(folder):
        with Gradebook(f"sqlite:///{folder / 'gradebook.db'}") as gb:
            return (gb.db.execute(text("PRAGMA synchronous")).scalar(),
                    gb.db.execute(text("PRAGMA journal_mode")).scalar())

    scratch = Path(tempfile.mkdtemp(dir=run.workspace().root))
    assert settings(scratch) == (0, "memory")  # a task's scratch course: thrown away with the task
    assert settings(tmp_path) == (2, "delete")  # e.g. the output folder's gradebook: SQLite's defaults
