"""The authoritative score of each graded cell, computed in the grader's own process.

Before a submission runs, ``write_inputs`` puts the calls the grader wants made (``grader_inputs.json``) beside
the notebook. Each test cell's ``TestCell.record_for_grader`` makes them in the student's kernel and saves the
results. ``judge_cell`` then reads those results as plain data (``helpers.dataout.decode``: strict types, no
pickle, size-limited) and judges them with the assignment's reference module (``autograder.references``), which
the student's kernel never sees. Whatever happened in the kernel (patched numpy, patched test toolkit, faked
output), the score is what these checks give.
"""
import json
from pathlib import Path

from helpers.dataout import GRADER_INPUTS, GRADER_OUT, decode, encode

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


def judge_cell(cases, results, points):
    """(score, lines): a plain float in [0, points] and one ``[ok]``/``[FAIL]`` line per group of cases.

    Args:
        cases: the cell's Case list.
        results: their decoded results, in order (None: nothing valid was recorded).
        points: the cell's points.
    """
    groups = {}
    for i, case in enumerate(cases):
        message = NO_RESULTS if results is None else case.judge(results[i])
        groups.setdefault(case.group, []).append(message)
    lines, passed = [], 0
    for group, messages in groups.items():
        wrong = [m for m in messages if m is not None]
        if not wrong:
            passed += 1
            lines.append(f"[ok] {group}")
        else:
            count = f" ({len(wrong)} of {len(messages)} cases)" if len(messages) > 1 else ""
            lines.append(f"[FAIL] {group}{count}: {wrong[0]}")
    score = float(round(points * passed / len(groups), 6)) if groups else 0.0
    return score, lines
