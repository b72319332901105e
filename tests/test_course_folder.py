"""The output folder of ``grade`` is an nbgrader course folder: gradebook.db, autograded/, nbgrader_config.py.

A small class of a test assignment of its own (tests/fixtures/written: one exercise the grader checks, one written
answer graded by hand) goes through release, grade, a score entered by hand through nbgrader's API (as formgrader
does), the exports, a regrade of some students (one submission each, hand grading kept where the answer did not
change) and a look at formgrader's own API on a Jupyter server started in the folder. The assignment lives in a
scratch copy of the course (autograder/ copied, the reference module added; helpers/ linked), graded with the
sandbox by ``python -m autograder`` run there.
"""
import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config

from autograder import gradebook
from autograder.course import HELPERS, REPO_ROOT
from autograder.export import export_csv
from autograder.gradebook import final_rows
from autograder.report import build
from autograder.run import build_templates
from studentwork import fill_release, solution_lines, write_submission

FIXTURE = Path(__file__).parent / "fixtures" / "written"
ASSIGNMENT, NOTEBOOK = "90_written", "written"
ANSWER = "Doubling keeps sums: 2(x + y) = 2x + 2y, and scalar multiples: 2(ax) = a(2x)."


def course_copy(root):
    """A scratch copy of the course whose only assignment is the fixture's."""
    shutil.copytree(REPO_ROOT / "autograder", root / "autograder",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copyfile(FIXTURE / "written.py", root / "autograder" / "references" / "written.py")
    (root / "helpers").symlink_to(HELPERS, target_is_directory=True)
    shutil.copytree(FIXTURE / ASSIGNMENT, root / "solutions" / ASSIGNMENT)
    return root


def autograder(root, *args, timeout=600):
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-m", "autograder", *map(str, args)], cwd=root, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def answer(nb, text):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "why_linear":
            cell.source = text
    return nb


def read_grades(out):
    with open(out / "grades.csv", newline="") as f:
        return list(csv.DictReader(f))


def api_of(out):
    config = Config()
    config.CourseDirectory.root = str(out)
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def db(out):
    return Gradebook(f"sqlite:///{out / 'gradebook.db'}")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """(course root, release notebook, submissions folder, output folder) after one grading run of 3 students:
    ada (right code, an answer), bob (code one off, an answer), cyd (the blank release)."""
    root = course_copy(tmp_path_factory.mktemp("course"))
    autograder(root, "release", "--out", root / "notebooks")
    release = root / "notebooks" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    source = root / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    subs, out = root / "submissions", root / "grades"
    write_submission(subs, "ada", ASSIGNMENT, {NOTEBOOK: answer(fill_release(release, source), ANSWER)})
    write_submission(subs, "bob", ASSIGNMENT, {NOTEBOOK: answer(
        fill_release(release, source, {"double": "def double(x):\n    return 2 * x + 1"}), "It is linear.")})
    write_submission(subs, "cyd", ASSIGNMENT, {NOTEBOOK: nbformat.read(release, as_version=4)})
    started = time.monotonic()
    done = autograder(root, "grade", subs, "--out", out, "--jobs", "2", "--seed", "1")
    print(f"graded 3 submissions in {time.monotonic() - started:.0f} s")
    return root, release, subs, out, done.stdout


def test_release_strips_the_written_answer(course):
    root, release, *_ = course
    source = nbformat.read(root / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    released = nbformat.read(release, as_version=4)
    cell = next(c for c in released.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "why_linear")
    assert cell.source == "YOUR ANSWER HERE" and cell.metadata["nbgrader"]["points"] == 3
    assert "Rubric" not in release.read_text() and "2(ax) = a(2x)" not in release.read_text()
    assert solution_lines(source, 5) and not [line for line in solution_lines(source, 5) if line in release.read_text()]


def test_written_answers_wait_for_grading_by_hand(course):
    *_, out, stdout = course
    rows = {(r["student"], r["cell"]): r for r in read_grades(out)}
    assert [(r["student"], r["cell"]) for r in read_grades(out)] == [
        (s, c) for s in ("ada", "bob", "cyd") for c in ("test_double", "why_linear")]   # notebook order
    for student in ("ada", "bob"):
        row = rows[(student, "why_linear")]
        assert row["status"] == "needs manual grading" and row["points"] == "" and row["max_points"] == "3.0"
    assert rows[("ada", "test_double")]["status"] == "passed" and rows[("ada", "test_double")]["points"] == "2.0"
    assert rows[("bob", "test_double")]["points"] == "0.0" and "one too many" in rows[("bob", "test_double")]["reason"]
    blank = rows[("cyd", "why_linear")]   # nothing written: 0 at once, as nbgrader does
    assert blank["status"] == "failed" and blank["points"] == "0.0" and "no answer" in blank["reason"]
    assert "2 cells need grading by hand" in stdout and "Formgrader" in stdout
    page = (out / "feedback" / "ada" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert "Graded by hand: your instructor reads this answer" in page
    report = build(out)[ASSIGNMENT]
    cell = next(c for c in report.cells if c.cell == "why_linear")
    assert cell.pending == 2 and cell.graded == 1 and "needs manual grading" not in {p.status for p in report.problems}


def test_the_gradebook_has_every_submission_with_the_scores_of_grades_csv(course):
    *_, out, _ = course
    assert (out / "nbgrader_config.py").is_file()
    api = api_of(out)
    assert api.get_assignment(ASSIGNMENT)["num_submissions"] == 3
    submissions = {s["student"]: s for s in api.get_submissions(ASSIGNMENT)}
    assert set(submissions) == {"ada", "bob", "cyd"}
    totals = {}
    for row in read_grades(out):
        totals[row["student"]] = totals.get(row["student"], 0.0) + float(row["points"] or 0)
    for student, submission in submissions.items():
        assert submission["autograded"] and submission["score"] == pytest.approx(totals[student])
        assert submission["max_score"] == 5
        assert submission["needs_manual_grade"] == (student != "cyd")
    with db(out) as gb:
        for row in read_grades(out):
            grade = gb.find_grade(row["cell"], NOTEBOOK, ASSIGNMENT, row["student"])
            if row["status"] == "needs manual grading":
                assert grade.auto_score is None and grade.needs_manual_grade
            else:
                assert grade.auto_score == float(row["points"]) and not grade.needs_manual_grade
    for student in ("ada", "bob", "cyd"):
        path = out / "autograded" / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
        nb = nbformat.read(path, as_version=4)
        test = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_double")
        assert "The grader's checks, on new inputs" in "".join(o.get("text", "") for o in test.outputs)


def test_nothing_secret_in_autograded(course):
    root, _, _, out, _ = course
    source = nbformat.read(root / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    answers = solution_lines(source, 5)
    reference = [line.strip() for line in (FIXTURE / "written.py").read_text().splitlines() if len(line.strip()) > 30]
    for path in (out / "autograded").rglob("*.ipynb"):
        text = path.read_text()
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text and "Rubric" not in text, path
        assert not [line for line in reference if line in text], path
        if "/cyd/" in str(path):   # the blank release: no line of the solution reaches it
            assert not [line for line in answers if line in text], path


def test_a_score_entered_by_hand_reaches_the_exports(course, tmp_path):
    *_, out, _ = course
    before = {r[0]: r for r in csv.reader(open(_export(out, tmp_path / "before.csv")))}
    assert before["ada"][1:] == ["2", "2", f"{ASSIGNMENT}: 1 cell, 3 points to grade by hand"]
    assert before["cyd"][1:] == ["0", "0", ""]
    with db(out) as gb:   # what formgrader's "save" does (PUT /formgrader/api/grade/<id>)
        grade = gb.find_grade("why_linear", NOTEBOOK, ASSIGNMENT, "ada")
        grade.manual_score, grade.needs_manual_grade = 2.5, False
        gb.db.commit()
    after = {r[0]: r for r in csv.reader(open(_export(out, tmp_path / "after.csv")))}
    assert after["ada"][1:] == ["4.5", "4.5", ""]
    assert after["bob"][3] == before["bob"][3] != ""
    row = next(r for r in final_rows(out) if r["student"] == "ada" and r["cell"] == "why_linear")
    assert row["status"] == "graded by hand" and row["points"] == 2.5
    assert api_of(out).get_submission(ASSIGNMENT, "ada")["score"] == pytest.approx(4.5)
    with db(out) as gb:   # bob's too, with a comment, for the regrade below
        grade = gb.find_grade("why_linear", NOTEBOOK, ASSIGNMENT, "bob")
        grade.manual_score, grade.needs_manual_grade = 1.0, False
        gb.find_comment("why_linear", NOTEBOOK, ASSIGNMENT, "bob").manual_comment = "name both properties"
        gb.db.commit()


def _export(out, dest):
    export_csv(out, dest)
    return dest


def test_regrading_keeps_one_submission_and_the_hand_grading_of_unchanged_answers(course, tmp_path):
    root, release, subs, out, _ = course
    if api_of(out).get_submission(ASSIGNMENT, "bob")["score"] != pytest.approx(1.0):
        test_a_score_entered_by_hand_reaches_the_exports(course, tmp_path)   # run alone: enter the scores first
    # ada rewrites her answer (her score by hand no longer applies); bob fixes his code, same answer
    nb = nbformat.read(subs / "ada" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    nbformat.write(answer(nb, ANSWER + " Also 2 * 0 = 0."), subs / "ada" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    source = root / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    write_submission(subs, "bob", ASSIGNMENT, {NOTEBOOK: answer(fill_release(release, source), "It is linear.")})
    done = autograder(root, "grade", subs, "--out", out, "--jobs", "2", "--seed", "2", "--student", "ada",
                      "--student", "bob")
    assert "ada/90_written: the score entered by hand for written/why_linear was dropped" in done.stderr
    rows = {(r["student"], r["cell"]): r for r in final_rows(out)}
    assert len(rows) == 6
    assert rows[("bob", "test_double")]["points"] == 2.0          # regraded
    assert rows[("bob", "why_linear")]["status"] == "graded by hand" and rows[("bob", "why_linear")]["points"] == 1.0
    assert rows[("ada", "why_linear")]["status"] == "needs manual grading" and rows[("ada", "why_linear")]["points"] is None
    api = api_of(out)
    assert len(api.get_submissions(ASSIGNMENT)) == 3 and api.get_assignment(ASSIGNMENT)["num_submissions"] == 3
    with db(out) as gb:
        assert len(gb.find_assignment(ASSIGNMENT).submissions) == 3
        assert gb.find_comment("why_linear", NOTEBOOK, ASSIGNMENT, "bob").manual_comment == "name both properties"
        assert gb.find_grade("why_linear", NOTEBOOK, ASSIGNMENT, "ada").needs_manual_grade
    assert api.get_submission(ASSIGNMENT, "bob")["score"] == pytest.approx(3.0)
    assert sorted(p.parent.parent.name for p in (out / "autograded").rglob("*.ipynb")) == ["ada", "bob", "cyd"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def recorded_assignments(path):
    """What a gradebook records of its assignments: notebooks and their cells (the ids nbgrader draws left out)."""
    with Gradebook(f"sqlite:///{path}") as gb:
        return [(a.name, nb.name, sorted((c.name, c.max_score, c.cell_type) for c in nb.grade_cells),
                 sorted(c.name for c in nb.solution_cells), sorted(c.name for c in nb.task_cells),
                 sorted((c.name, c.checksum, c.locked, c.source) for c in nb.source_cells))
                for a in gb.assignments for nb in a.notebooks]


def test_a_new_output_gradebook_records_what_generate_assignment_records(tmp_path):
    """A new output folder's gradebook is a copy of the one the templates were made with: the same records as
    nbgrader's generate_assignment writes into an existing one (the path of every later run)."""
    names = ["01_conv_arithmetic", "05_training"]
    todo = [SimpleNamespace(student="s", assignment=name) for name in names]
    build_templates(names, tmp_path / "templates")
    copied, generated = tmp_path / "copied", tmp_path / "generated"
    copied.mkdir(), generated.mkdir()
    gradebook.prepare(copied, todo, todo, recorded=tmp_path / "templates" / gradebook.DB)
    gradebook.prepare(generated, todo, todo)
    recorded = recorded_assignments(copied / gradebook.DB)
    assert {record[0] for record in recorded} == set(names)
    assert recorded == recorded_assignments(generated / gradebook.DB)
    for name in names:
        assert sorted(p.name for p in (copied / "source" / name).iterdir()) == \
            sorted(p.name for p in (generated / "source" / name).iterdir())


def test_formgrader_started_in_the_folder_lists_every_submission(course):
    """What the README's steps give: `jupyter lab` started in the output folder serves formgrader on it."""
    *_, out, _ = course
    port, token = _free_port(), "t0ken"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(out.parent / "runtime")}
    server = subprocess.Popen([str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", "--allow-root",
                               f"--port={port}", f"--IdentityProvider.token={token}", "--ServerApp.ip=127.0.0.1"],
                              cwd=out, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        def get(path):
            request = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                             headers={"Authorization": f"token {token}"})
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.read().decode()

        for _ in range(120):
            try:
                get("/api/status")
                break
            except OSError:
                time.sleep(0.5)
        submissions = json.loads(get(f"/formgrader/api/submissions/{ASSIGNMENT}"))
        assert {s["student"] for s in submissions} == {"ada", "bob", "cyd"}
        notebooks = json.loads(get(f"/formgrader/api/submitted_notebooks/{ASSIGNMENT}/{NOTEBOOK}"))
        ada = next(n for n in notebooks if n["student"] == "ada")
        page = get(f"/formgrader/submissions/{ada['id']}")   # the page where the instructor grades by hand
        assert "why_linear" in page and "Doubling keeps sums" in page
    finally:
        server.terminate()
        server.wait(timeout=30)
