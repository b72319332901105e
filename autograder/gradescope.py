"""Grading on Gradescope: ``python -m autograder export --format gradescope --assignment NAME --out FILE.zip``.

``build_zip`` writes a Gradescope autograder zip (Gradescope's "Autograder Specifications"): at its root
``setup.sh`` (installs Python 3.11+, bubblewrap and the course into ``/autograder/venv``), ``run_autograder``, the
settings ``gradescope.json`` and ``course/``: ``pyproject.toml``, ``autograder/``, ``helpers/`` and
``solutions/<assignment>/`` (the grader builds its gradebook from it, as on the instructor's machine).

``run_autograder`` runs ``python -m autograder.gradescope run``, which

1. copies ``/autograder/submission`` into ``<work>/submissions/<student>/<assignment>/`` (a single notebook under
   another name is renamed to the assignment's notebook, and the output says so),
2. grades it with ``python -m autograder grade`` (``--no-sandbox`` where bubblewrap cannot run, see
   autograder/README.md),
3. writes ``/autograder/results/results.json``: the total, and one test per graded cell (name, score, max_score,
   status, output = the cell's status, reason and the grader's ``[ok]``/``[FAIL]`` lines, visibility). Any line of
   hidden-test source is redacted from what students see. Cells graded by hand (written answers) are no test
   here: the output names them as not in the score; add them to the Gradescope outline as manually graded
   questions.

Paths come from the environment so a test can run it anywhere: ``AUTOGRADER_ROOT`` (default ``/autograder``;
holds ``source/``, ``submission/``, ``results/``), ``AUTOGRADER_PYTHON`` (the interpreter run_autograder uses,
default ``$AUTOGRADER_ROOT/venv/bin/python``) and ``AUTOGRADER_SANDBOX`` (``auto``, ``yes`` or ``no``; overrides
the zip's setting).
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from .feedback import secret_lines

STUDENT = "submission"
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
COURSE_FILES = ("pyproject.toml", "README.md", "autograder", "helpers")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", ".*")

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-pip bubblewrap util-linux
PY=python3
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    apt-get install -y --no-install-recommends python3.11 python3.11-venv
    PY=python3.11
fi
"$PY" -m venv /autograder/venv
/autograder/venv/bin/python -m pip install --upgrade pip
/autograder/venv/bin/python -m pip install -e /autograder/source/course
chmod +x /autograder/source/run_autograder
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission (working directory /autograder).
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PY="${AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}"
cd "$ROOT/source/course"
export PYTHONPATH="$ROOT/source/course"
exec "$PY" -m autograder.gradescope run
"""


def build_zip(assignment, dest, repo_root=None, visibility="visible", sandbox="auto", submission_timeout=900):
    """Writes the autograder zip for ``assignment`` to ``dest``; returns the list of its files."""
    from .course import REPO_ROOT, assignments
    root = Path(repo_root or REPO_ROOT)
    if assignment not in assignments(root / "solutions"):
        raise ValueError(f"{assignment} is not an assignment of this course ({', '.join(assignments(root / 'solutions'))})")
    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {VISIBILITIES}")
    settings = {"assignment": assignment, "visibility": visibility, "sandbox": sandbox,
                "submission_timeout": submission_timeout}
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp)
        course = stage / "course"
        course.mkdir()
        for name in COURSE_FILES:
            source = root / name
            if source.is_dir():
                shutil.copytree(source, course / name, ignore=SKIP)
            elif source.exists():
                shutil.copy2(source, course / name)
        shutil.copytree(root / "solutions" / assignment, course / "solutions" / assignment, ignore=SKIP)
        (stage / "setup.sh").write_text(SETUP_SH)
        (stage / "run_autograder").write_text(RUN_AUTOGRADER)
        (stage / "gradescope.json").write_text(json.dumps(settings, indent=2) + "\n")
        names = []
        with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(stage.rglob("*")):
                if path.is_file():
                    name = path.relative_to(stage).as_posix()
                    info = zipfile.ZipInfo.from_file(path, name)
                    if name in ("setup.sh", "run_autograder"):
                        info.external_attr = 0o100755 << 16
                    zf.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
                    names.append(name)
    return names


# ------------------------------------------------------------------------------------------ inside the container

def _paths():
    root = Path(os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    return root / "source", root / "submission", root / "results" / "results.json"


def _stage_submission(submission, course, assignment, folder):
    """Copies the submission into ``folder``; returns notes for the student (renamed notebooks)."""
    folder.mkdir(parents=True)
    notes = []
    if submission.is_dir():
        for path in sorted(submission.rglob("*")):
            if path.is_file() and not any(part.startswith(".") for part in path.relative_to(submission).parts):
                target = folder / path.name
                if not target.exists():
                    shutil.copy2(path, target)
    expected = sorted(p.name for p in (course / "solutions" / assignment).glob("*.ipynb"))
    handed = sorted(p.name for p in folder.glob("*.ipynb"))
    absent = [n for n in expected if n not in handed]
    extra = [n for n in handed if n not in expected]
    if len(absent) == 1 and len(extra) == 1:
        (folder / extra[0]).rename(folder / absent[0])
        notes.append(f"Your notebook {extra[0]} was graded as {absent[0]}.")
    elif absent:
        notes.append(f"Not found in your submission: {', '.join(absent)}"
                     + (f" (you handed in {', '.join(handed)})" if handed else "") + ".")
    return notes


def _sandbox_works(course, env):
    probe = ("from autograder.course import HELPERS\nfrom autograder.sandbox import check_available\n"
             "check_available(HELPERS)\n")
    try:
        return subprocess.run([sys.executable, "-c", probe], cwd=course, env=env, capture_output=True,
                              timeout=120).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _redact(text, secrets):
    for line in secrets:
        text = text.replace(line, "[redacted: hidden test source]")
    return text


def results_from(out, settings, notes, secrets, started, sandboxed=True):
    """The results.json dict from the grader's ``out/grades.csv`` and ``out/checks.csv``."""
    grades = _read(out / "grades.csv")
    checks = _read(out / "checks.csv") if (out / "checks.csv").exists() else []
    lines = {}
    for c in checks:
        ok = str(c["passed"]).strip() in ("1", "True", "true")
        lines.setdefault((c["notebook"], c["cell"]), []).append(
            f"[ok] {c['group']}" if ok else f"[FAIL] {c['group']}: {c['message']}")
    from .course import manual_cells
    by_hand = {(notebook, cell) for notebook, cells in manual_cells(settings["assignment"]).items()
               for cell, _ in cells}
    # cells graded by hand are no test of this autograder: add them to the Gradescope outline as manually graded
    # questions; the output lists them so the student knows they are not in this score
    manual = [row for row in grades if (row["notebook"], row["cell"]) in by_hand]
    grades = [row for row in grades if (row["notebook"], row["cell"]) not in by_hand]
    tests = []
    for number, row in enumerate(grades, 1):
        score, max_score = float(row["points"] or 0), float(row["max_points"] or 0)
        output = lines.get((row["notebook"], row["cell"]), [])
        if row["status"] not in ("passed", "partial", "failed") or not output:
            output = [f"{row['status']}: {row['reason']}".rstrip(": ")] + output
        tests.append({"name": f"{row['cell']} ({row['notebook']})", "number": str(number), "score": score,
                      "max_score": max_score, "status": "passed" if score >= max_score else "failed",
                      "output": _redact("\n".join(output), secrets), "visibility": settings["visibility"]})
    total = sum(t["score"] for t in tests)
    maximum = sum(t["max_score"] for t in tests)
    summary = [f"{total:g} of {maximum:g} points from the grader's own checks on fresh random inputs."] + notes
    if manual:
        summary.append("Graded by hand, not in this score: " + "; ".join(
            f"{row['cell']} ({row['notebook']}, {float(row['max_points']):g} points): "
            + ("waits for your instructor" if row["status"] == "needs manual grading" else row["reason"])
            for row in manual))
    return {"score": total, "execution_time": int(time.time() - started), "output": _redact("\n".join(summary), secrets),
            "visibility": settings["visibility"], "stdout_visibility": "hidden",
            "extra_data": {"sandboxed": sandboxed}, "tests": tests}


def run():
    """What run_autograder does; returns the exit status (0 whenever results.json was written)."""
    started = time.time()
    source, submission, results = _paths()
    course = source / "course"
    settings = json.loads((source / "gradescope.json").read_text())
    assignment = settings["assignment"]
    mode = os.environ.get("AUTOGRADER_SANDBOX", settings.get("sandbox", "auto"))
    results.parent.mkdir(parents=True, exist_ok=True)
    secrets = secret_lines(cell.get("source", "") if isinstance(cell.get("source"), str) else "".join(cell["source"])
                           for nb in (course / "solutions" / assignment).glob("*.ipynb")
                           for cell in json.loads(nb.read_text())["cells"])
    work = Path(tempfile.mkdtemp(prefix="gradescope-"))
    try:
        notes = _stage_submission(submission, course, assignment, work / "submissions" / STUDENT / assignment)
        env = {**os.environ, "PYTHONPATH": os.fspath(course)}
        sandbox = mode == "yes" or (mode == "auto" and _sandbox_works(course, env))
        print(f"grading {assignment} {'in bubblewrap' if sandbox else 'WITHOUT the sandbox (--no-sandbox)'}")
        command = [sys.executable, "-m", "autograder", "grade", os.fspath(work / "submissions"), "--out",
                   os.fspath(work / "out"), "--jobs", "1", "--submission-timeout",
                   str(settings.get("submission_timeout", 900))] + ([] if sandbox else ["--no-sandbox"])
        done = subprocess.run(command, cwd=course, env=env, capture_output=True, text=True)
        print(done.stdout[-20000:])
        print(done.stderr[-20000:], file=sys.stderr)
        if done.returncode != 0 or not (work / "out" / "grades.csv").exists():
            result = {"score": 0.0, "execution_time": int(time.time() - started),
                      "output": "The autograder could not grade this submission (the grader itself failed; your "
                                "instructor sees why). " + " ".join(notes),
                      "visibility": settings["visibility"], "stdout_visibility": "hidden", "tests": []}
        else:
            result = results_from(work / "out", settings, notes, secrets, started, sandbox)
        results.write_text(json.dumps(result, indent=2))
        print(f"score {result['score']:g} -> {results}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:] != ["run"]:
        sys.exit("usage: python -m autograder.gradescope run   (what run_autograder calls)")
    sys.exit(run())
