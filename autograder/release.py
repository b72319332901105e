"""Make the student release: ``python -m autograder release`` regenerates notebooks/ from solutions/."""
import os
import shutil
import tempfile
from pathlib import Path

from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory

from .course import NOTEBOOKS, SOLUTIONS, assignments, nbgrader_config
from .outcomes import last_error


class GraderError(RuntimeError):
    """The grader itself failed (not a submission): bad arguments, a broken assignment source."""


def generate_assignment(name, root, solutions=SOLUTIONS):
    """Copies ``solutions/<name>`` into a scratch nbgrader course at ``root`` and runs generate_assignment there:
    the gradebook learns the assignment and ``root/release/<name>`` holds the student version."""
    shutil.copytree(Path(solutions) / name, Path(root) / "source" / name,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    config = nbgrader_config(sandbox=False)
    api = NbGraderAPI(coursedir=CourseDirectory(root=os.fspath(root), config=config), config=config)
    result = api.generate_assignment(name, force=True, create=True)
    if not result.get("success"):
        raise GraderError(f"cannot generate {name}: {last_error(result.get('log', '') + result.get('error', ''))}")


def release(out=NOTEBOOKS, solutions=SOLUTIONS, names=None):
    """Runs nbgrader's generate_assignment on each assignment and puts the student version in ``out/<name>/``.

    Returns the list of released assignment names.
    """
    names = names or assignments(solutions)
    with tempfile.TemporaryDirectory(prefix="autograder-release-") as tmp:
        for name in names:
            root = Path(tmp) / name
            generate_assignment(name, root, solutions)
            dest = Path(out) / name
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(root / "release" / name, dest)
    return names
