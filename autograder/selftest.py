"""``python -m autograder selftest``: the reference solutions must score 100% and the release 0, everywhere."""
import shutil
import tempfile
from pathlib import Path

from .course import NOTEBOOKS, SOLUTIONS, assignments
from .grade import grade, summarize
from .task import Settings


def selftest(jobs=1, settings=Settings(), progress=True):
    """Grades the solutions (as student "solutions") and the blank release (as student "release"). Cells graded
    by hand are left out of the verdict: the solutions' answers wait for grading (listed as pending), the release's
    are unanswered and score 0.

    Returns (ok, summary) where summary is ``autograder.grade.summarize`` of the rows.
    """
    with tempfile.TemporaryDirectory(prefix="autograder-selftest-") as tmp:
        subs = Path(tmp) / "submissions"
        for name in assignments():
            for student, source in (("solutions", SOLUTIONS), ("release", NOTEBOOKS)):
                dest = subs / student / name
                dest.mkdir(parents=True)
                for notebook in (Path(source) / name).glob("*.ipynb"):
                    shutil.copyfile(notebook, dest / notebook.name)
                if student == "solutions":  # files handed in with the notebook (assignment 05's checkpoint)
                    for handed_in in (Path(source) / name).glob("*.npz"):
                        shutil.copyfile(handed_in, dest / handed_in.name)
        rows = grade(subs, out=Path(tmp) / "grades", jobs=jobs, settings=settings, progress=progress)
    summary = summarize(rows)
    ok = bool(summary) and all(
        (percent == 100.0 if student == "solutions" else points == 0.0) and status == "ok"
        for student, _, points, _, percent, status, _pending in summary)
    return ok, summary
