"""Grade submissions (one student, one assignment at a time) in scratch courses; runs as a child process.

``python -m autograder.worker`` reads paths of job files written by ``autograder.grade`` from stdin, one per
line. For each it autogrades with nbgrader's API in a scratch copy of the course (its own gradebook, kernels in
``autograder.sandbox``), writes the HTML feedback with hidden tests removed, writes ``result.json`` beside the
job (one row per graded cell) and prints ``DONE`` and the job path on stdout. One worker serves many jobs, so
its imports are paid once; the parent kills and replaces a worker whose job runs past its time.
"""
import json
import os
import random
import secrets
import shutil
import sys
import traceback
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory

from . import references
from .course import nbgrader_config
from .feedback import failure_page, scrub_notebook
from .sandbox import Limits
from .course import HELPERS
from .guard import course_fingerprints, pasted
from .outcomes import FIELDS, UNSANDBOXED, cell_outcome, error_rows, last_error, limits_reached, notebook_failure, short
from .trusted import judge_cell, read_results, write_inputs

GRADER_HEADER = "The grader's checks, on new inputs (these decide the points):\n"


def read_submitted(path):
    """The notebook at ``path`` if it is valid nbformat JSON, else raises ValueError saying why."""
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # noqa: BLE001 - any parse or schema error makes the file ungradable
        raise ValueError(f"not a valid notebook file ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})")
    return nb


def grade_job(job):
    """Runs one job (a dict, see ``autograder.grade.make_job``); returns {"rows": [...], "warnings": [...]}."""
    student, assignment = job["student"], job["assignment"]
    course = Path(job["course"])
    cells = {nb: [tuple(c) for c in cs] for nb, cs in job["grade_cells"].items()}  # notebook -> [(cell, points)]
    shutil.copytree(job["template"], course)
    submitted = course / "submitted" / student / assignment
    submitted.mkdir(parents=True)
    autograded = course / "autograded" / student / assignment
    autograded.mkdir(parents=True)

    rows, problems, warnings = [], {}, []
    for notebook in cells:
        path = Path(job["submission"]) / f"{notebook}.ipynb"
        if not path.exists():
            problems[notebook] = ("missing", f"no file {notebook}.ipynb in the submission")
            continue
        try:
            read_submitted(path)
        except ValueError as exc:
            problems[notebook] = ("ungradable", str(exc))
            continue
        shutil.copyfile(path, submitted / path.name)

    if len(problems) < len(cells):
        cases = references.cases_for(assignment, random.Random(secrets.randbits(64)), job["submission"])
        write_inputs(cases, course / "source" / assignment)
        config = nbgrader_config(cell_timeout=job["cell_timeout"], sandbox=job["sandbox"],
                                 helpers_source=job["helpers_source"], limits=Limits(*job["limits"]),
                                 mpl_cache=job["mpl_cache"])
        coursedir = CourseDirectory(root=os.fspath(course), config=config)
        api = NbGraderAPI(coursedir=coursedir, config=config)
        result = api.autograde(assignment, student, force=True, create=True)
        rows += read_grades(course, student, assignment, cells, problems, result, cases, job, warnings)
        try:
            write_feedback(api, course, student, assignment, Path(job["feedback"]), job["sandbox"])
        except Exception as exc:  # noqa: BLE001 - the grades stand without feedback; say so
            warnings.append(f"no feedback for {student}/{assignment}: {exc}")
    for notebook, (status, reason) in problems.items():
        rows += error_rows(student, assignment, notebook, cells[notebook], status, reason)
    write_failure_pages(rows, Path(job["feedback"]), student, assignment, job["sandbox"])
    return {"rows": rows, "warnings": warnings}


def write_failure_pages(rows, feedback_dir, student, assignment, sandboxed=True):
    """A feedback page for every notebook that has none because it could not be graded."""
    for notebook in dict.fromkeys(r["notebook"] for r in rows):
        page = feedback_dir / f"{notebook}.html"
        if not page.exists():
            feedback_dir.mkdir(parents=True, exist_ok=True)
            page.write_text(failure_page(student, assignment, notebook, [r for r in rows if r["notebook"] == notebook],
                                         None if sandboxed else UNSANDBOXED))


def read_grades(course, student, assignment, cells, problems, result, cases, job, warnings):
    """Rows for the notebooks that ran: each graded cell judged by ``autograder.trusted`` from the results the
    kernel recorded. The trusted score replaces nbgrader's in the gradebook (so the feedback shows it) and the
    grader's check lines are added to the cell's output in the graded notebook. Checks that raised are logged in
    ``warnings`` with their tracebacks; functions pasted from the course's code are flagged."""
    rows = []
    limits = Limits(*job["limits"])
    prints = course_fingerprints(HELPERS, assignment)
    failure = None if result.get("success") else notebook_failure(result.get("log", "") + result.get("error", ""))
    run_dir = course / "autograded" / student / assignment
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for notebook, cell_points in cells.items():
            if notebook in problems:
                continue
            path = run_dir / f"{notebook}.ipynb"
            if failure or not path.exists():
                status, reason = failure or ("error", "the notebook could not be executed")
                rows += error_rows(student, assignment, notebook, cell_points, status, reason)
                continue
            nb = nbformat.read(path, as_version=4)
            reached = limits_reached(nb, limits) if job["sandbox"] else []
            flags = "; ".join(f"{mine} is the course's {theirs} pasted in (same tokens, names normalised)"
                              for mine, theirs in pasted([c.source for c in nb.cells if c.cell_type == "code"],
                                                         prints))
            by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
            grades = {g.name: g for g in gb.find_submission_notebook(notebook, assignment, student).grades}
            for cell, max_points in cell_points:
                grade, nb_cell = grades[cell], by_id.get(cell)
                kernel_points = grade.score if grade.score is not None else 0.0
                judgement = judge_cell(cases[cell], read_results(run_dir, cell, len(cases[cell])), max_points)
                points, lines = judgement.points, judgement.lines
                warnings += [f"grader error in {student}/{assignment} {cell}: {e}" for e in judgement.grader_errors]
                grade.auto_score = points
                status, reason = cell_outcome(judgement, nb_cell, max_points, reached)
                if kernel_points != points:
                    reason = short(f"the notebook's own tests gave {kernel_points:g}; the grader's checks give "
                                   f"{points:g} and decide" + (f": {reason}" if reason else ""))
                if nb_cell is not None:
                    nb_cell.outputs.append(nbformat.v4.new_output(
                        "stream", name="stdout", text=GRADER_HEADER + "".join(f"{line}\n" for line in lines)))
                rows.append(dict(zip(FIELDS, (student, assignment, notebook, cell, points, max_points,
                                              status, reason, flags)),
                                 checks=[vars(check) for check in judgement.checks]))
            gb.db.commit()
            _write_notebook(nb, path)
    return rows


def write_feedback(api, course, student, assignment, feedback_dir, sandboxed=True):
    """Writes the HTML feedback, with hidden tests and their tracebacks removed, into ``feedback_dir``; a notebook
    graded without the sandbox says so at its top."""
    autograded = course / "autograded" / student / assignment
    source_cells = _source_cells(course, assignment)
    notebooks = sorted(autograded.glob("*.ipynb"))
    if not notebooks:
        return
    for path in notebooks:
        nb = scrub_notebook(nbformat.read(path, as_version=4), source_cells)
        if not sandboxed:
            nb.cells.insert(0, nbformat.v4.new_markdown_cell(f"**Note:** {UNSANDBOXED} (`--no-sandbox`)."))
        _write_notebook(nb, path)
    result = api.generate_feedback(assignment, student, force=True)
    if not result.get("success"):
        raise RuntimeError(f"nbgrader could not write the feedback: {last_error(result.get('log', ''))}")
    feedback_dir.mkdir(parents=True, exist_ok=True)
    for html in (course / "feedback" / student / assignment).glob("*.html"):
        shutil.copyfile(html, feedback_dir / html.name)


def _write_notebook(nb, path):
    """Overwrites a graded notebook (nbgrader leaves it read-only)."""
    os.chmod(path, 0o644)
    nbformat.write(nb, path)


def _source_cells(course, assignment):
    """The test cells of the assignment as the gradebook stores them (hidden tests included)."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return [{"source": cell.source} for nb in gb.find_assignment(assignment).notebooks
                for cell in nb.source_cells if cell.source]


DONE = "AUTOGRADER-JOB-DONE"


def main():
    for line in sys.stdin:
        job_path = Path(line.strip())
        job = json.loads(job_path.read_text())
        os.environ["JUPYTER_RUNTIME_DIR"] = os.fspath(Path(job["course"]).parent / "runtime")
        try:
            result = grade_job(job)
        except Exception as exc:  # noqa: BLE001 - report this job as failed and serve the next one
            traceback.print_exc()
            result = {"failed": f"{type(exc).__name__}: {exc}"}
        (job_path.parent / "result.json").write_text(json.dumps(result))
        print(DONE, job_path, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
