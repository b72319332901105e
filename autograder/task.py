"""The sealed task: one submission's bytes in, its rows and feedback pages out, as plain data.

A Task carries everything a worker needs (the notebooks' and handed-in files' bytes, the names, the settings and
the course's version), so no file system is shared between the instructor's machine and the workers. A Result
carries the rows of ``grades.csv`` and the feedback pages; the instructor's process writes them.
"""
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from .course import CELL_TIMEOUT
from .sandbox import Limits

SUBMISSION_TIMEOUT = 900   # seconds for a whole submission, kernel start and feedback included
HANDED_IN = ("*.npz",)     # files handed in beside the notebooks (assignment 05's checkpoint)
VERSIONED = ("solutions", "autograder/references", "helpers")  # what the course's version is a hash of


@dataclass(frozen=True)
class Settings:
    """How a submission is graded."""
    cell_timeout: int = CELL_TIMEOUT
    submission_timeout: int = SUBMISSION_TIMEOUT
    sandbox: bool = True
    limits: Limits = Limits()
    seed: int = None  # None: fresh random cases for every submission; an int: reproducible per submission


@dataclass(frozen=True)
class Task:
    """One student's submission of one assignment."""
    student: str
    assignment: str
    notebooks: dict  # notebook name (no .ipynb) -> bytes, for the assignment's notebooks found in the submission
    files: dict      # handed-in file name -> bytes
    settings: Settings
    course_version: str

    @property
    def key(self):
        return f"{self.student}/{self.assignment}"

    def digest(self):
        """A hash of what was handed in: a re-run regrades a submission only when it changed."""
        h = hashlib.sha256()
        for kind, items in (("nb", self.notebooks), ("file", self.files)):
            for name in sorted(items):
                h.update(f"{kind}:{name}:{len(items[name])}:".encode())
                h.update(items[name])
        return h.hexdigest()


@dataclass
class Result:
    """What grading one Task gave: rows of grades.csv (with their checks) and feedback pages."""
    student: str
    assignment: str
    rows: list
    feedback: dict = field(default_factory=dict)  # notebook name -> HTML
    warnings: list = field(default_factory=list)
    # notebook name -> bytes of the notebook as graded (hidden tests taken out), for the output folder's
    # autograded/ that formgrader reads (autograder.gradebook)
    autograded: dict = field(default_factory=dict)


def read_task(student, assignment, folder, notebooks, settings, course_version):
    """The Task for ``folder`` (``<student>/<assignment>/``); ``notebooks`` are the names the assignment expects.

    A notebook missing from the folder is simply absent from the task (its rows will say so).
    """
    folder = Path(folder)
    found = {name: (folder / f"{name}.ipynb").read_bytes() for name in notebooks
             if (folder / f"{name}.ipynb").is_file()}
    files = {p.name: p.read_bytes() for pattern in HANDED_IN for p in sorted(folder.glob(pattern))
             if p.is_file() and not p.is_symlink()}
    return Task(student, assignment, found, files, settings, course_version)


def course_version(root):
    """A short hash of the course's solutions, reference checks and helpers under ``root``: two machines grade
    alike only if it is equal."""
    h = hashlib.sha256()
    for top in VERSIONED:
        for path in sorted(Path(root, top).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and ".ipynb_checkpoints" not in path.parts:
                h.update(path.relative_to(root).as_posix().encode() + b"\0")
                h.update(path.read_bytes())
    return h.hexdigest()[:12]


# -- nbgrader's cell metadata ----------------------------------------------------------------------------------------

def nbgrader(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def grade_id(cell):
    return nbgrader(cell).get("grade_id")


def is_graded(cell):
    return bool(nbgrader(cell).get("grade"))


def is_solution(cell):
    return bool(nbgrader(cell).get("solution"))
