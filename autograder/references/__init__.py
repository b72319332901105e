"""The grader's own checks, run in the trusted grader process on what a student's functions returned.

Each assignment ``NN_name`` has a module ``autograder.references.name`` with a function ``cases(rng)`` that
returns ``{grade_id: [Case, ...]}`` for every graded test cell of the assignment: the calls to make on the
student's functions (fresh random inputs from ``rng``, plus the known-answer cases of the notes) and how to
judge each result against an independent reference (the judges every module shares are in ``_common``). The student's kernel never sees this code (the sandbox
hides this folder); it only receives the calls (``helpers.dataout``) and returns the results.

A judge takes the decoded result and returns ``None`` when it is right, else a message for the student that
names the likely mistake and never shows the expected value. Cases with the same ``group`` share one line of
feedback and are scored together: a group counts only when all its cases are right.
"""
import importlib
import inspect


def load(assignment):
    """The reference module of ``assignment`` (``01_conv_arithmetic`` -> ``autograder.references.conv_arithmetic``),
    which must name that assignment in its ``ASSIGNMENT``: a future ``06_pooling`` never gets 03's checks."""
    module = importlib.import_module(f"{__name__}.{assignment.split('_', 1)[1]}")
    if getattr(module, "ASSIGNMENT", None) != assignment:
        raise LookupError(f"{module.__name__} holds the checks of {getattr(module, 'ASSIGNMENT', 'no assignment')!r}, "
                          f"not of {assignment!r}: give {assignment} a reference module of its own")
    return module


def cases_for(assignment, rng, submission=None):
    """The cases of ``assignment`` for one submission. A reference module whose ``cases`` takes ``submission`` also
    judges files handed in beside the notebook (assignment 05: a trained checkpoint): it gets the submission
    folder and reads them itself, here in the grader's process; the student's kernel never hands them over."""
    module = load(assignment)
    if "submission" in inspect.signature(module.cases).parameters:
        return module.cases(rng, submission=submission)
    return module.cases(rng)
