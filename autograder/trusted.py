"""The authoritative score of each graded cell, computed in the grader's own process.

Before a submission runs, ``write_inputs`` puts the calls the grader wants made (``grader_inputs.json``) beside
the notebook. Each test cell's ``TestCell.record_for_grader`` makes them in the student's kernel and saves the
results. ``judge_cell`` then reads those results as plain data (``helpers.dataout.decode``: strict types, no
pickle, size-limited) and judges them with the assignment's reference module (``autograder.references``), which
the student's kernel never sees. Whatever happened in the kernel (patched numpy, patched test toolkit, faked
output), the score is what these checks give.
"""
import json
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from helpers.dataout import GRADER_INPUTS, GRADER_OUT, Raised, decode, encode

from .guard import DELEGATED, SWITCHED_OFF

MAX_RESULT_BYTES = 64 * 2**20
NO_RESULTS = "no valid results were recorded (the test cell did not finish, or its results were tampered with)"


def write_inputs(cases, folder):
    """Writes the calls of ``cases`` ({grade_id: [Case]}) as ``folder/grader_inputs.json``."""
    calls = {grade_id: [{"call": c.call, "args": encode(tuple(c.args)), "kwargs": encode(dict(c.kwargs))}
                        for c in cell_cases] for grade_id, cell_cases in cases.items()}
    (Path(folder) / GRADER_INPUTS).write_text(json.dumps(calls))


def read_results(run_dir, grade_id, count):
    """The ``count`` decoded results the kernel recorded for ``grade_id``, or None if they are missing or bad."""
    path = Path(run_dir) / GRADER_OUT / f"{grade_id}.json"
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_RESULT_BYTES:
            return None
        raw = json.loads(path.read_text())
        if type(raw) is not list or len(raw) != count:
            return None
        return [decode(item) for item in raw]
    except (OSError, ValueError, TypeError, KeyError, RecursionError):
        return None


@dataclass
class Check:
    """One line of the grader's feedback: a group of cases, whether all of them were right, and why not."""
    group: str
    passed: bool
    message: str = ""

    @property
    def line(self):
        return f"[ok] {self.group}" if self.passed else f"[FAIL] {self.group}: {self.message}"


@dataclass
class Judgement:
    """The grader's verdict on one graded cell."""
    points: float
    checks: list
    grader_errors: list = field(default_factory=list)  # tracebacks of checks that raised, for the instructor
    delegated: bool = False  # a graded call reached course code that is switched off (autograder.guard)

    @property
    def lines(self):
        return [check.line for check in self.checks]


def _delegated(result):
    return isinstance(result, Raised) and result.name == SWITCHED_OFF


def judge_cell(cases, results, points):
    """The Judgement of one graded cell: a plain float in [0, points] and one Check per group of cases.

    A check that raises fails only its own group (message "grader error: ..."); a result that comes from course
    code switched off for this assignment scores the whole cell 0.

    Args:
        cases: the cell's Case list.
        results: their decoded results, in order (None: nothing valid was recorded).
        points: the cell's points.
    """
    if results is not None and any(_delegated(r) for r in results):
        groups = dict.fromkeys(case.group for case in cases)
        return Judgement(0.0, [Check(group, False, DELEGATED) for group in groups], delegated=True)
    groups, errors = {}, []
    for i, case in enumerate(cases):
        if results is None:
            message = NO_RESULTS
        else:
            try:
                message = case.judge(results[i])
            except Exception as exc:  # noqa: BLE001 - a broken check must not take other cells down
                errors.append(f"{case.group} ({case.call}): {traceback.format_exc()}")
                message = f"grader error: {type(exc).__name__}: {exc}"
        groups.setdefault(case.group, []).append(message)
    checks = []
    for group, messages in groups.items():
        wrong = [m for m in messages if m is not None]
        count = f" ({len(wrong)} of {len(messages)} cases)" if len(wrong) and len(messages) > 1 else ""
        checks.append(Check(group + count, not wrong, str(wrong[0]) if wrong else ""))
    passed = sum(check.passed for check in checks)
    score = float(round(points * passed / len(checks), 6)) if checks else 0.0
    return Judgement(score, checks, errors)
