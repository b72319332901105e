"""What happened in a graded cell, in one status word and one reason an instructor can act on.

Statuses: ``passed`` (full points), ``partial``, ``failed`` (0 points, the tests ran), ``timeout`` (a cell ran
past the limit), ``error`` (the notebook could not be run: dead kernel, grader-side failure), ``ungradable``
(the file is not a notebook) and ``missing`` (no such file in the submission).
"""
import re

REASON_CHARS = 1000
FIELDS = ("student", "assignment", "notebook", "cell", "points", "max_points", "status", "reason")


def cell_outcome(lines, cell, points, max_points):
    """(status, reason) for a graded cell from the grader's check ``lines`` and the cell as it ran (may be None)."""
    outputs = cell.get("outputs", []) if cell is not None else []
    if any(o.get("output_type") == "error" and o.get("ename") == "CellTimeoutError" for o in outputs):
        return "timeout", "the cell ran past the time limit and was stopped"
    if points >= max_points:
        return "passed", ""
    fails = [line[len("[FAIL]"):].strip() for line in lines if line.startswith("[FAIL]")]
    return ("failed" if points <= 0 else "partial"), short("; ".join(fails) or "the cell gave less than full points")


def error_rows(student, assignment, notebook, cell_points, status, reason):
    """Zero-point rows, one per graded cell, for a notebook that could not be graded."""
    return [dict(zip(FIELDS, (student, assignment, notebook, cell, 0.0, max_points, status, short(reason))))
            for cell, max_points in cell_points]


def notebook_failure(log):
    """(status, reason) for a notebook nbgrader could not finish, from its log."""
    line = last_error(log)
    if "CellTimeoutError" in line:
        return "timeout", f"a cell ran past the time limit and ignored the interrupt, so the notebook was stopped ({line})"
    if "DeadKernelError" in line or "Kernel died" in line:
        return "error", f"the kernel died while running the notebook (os._exit, a crash or too much memory) ({line})"
    return "error", line


def last_error(log):
    """The most telling line of an nbgrader log or traceback: the last exception line, else the last line."""
    lines = [line.strip() for line in log.splitlines()
             if line.strip() and "Please see the" not in line and "There was an error processing" not in line]
    for line in reversed(lines):
        if re.match(r"^[A-Za-z_.]*(Error|Exception|Interrupt)\b.*:", line) or "DeadKernel" in line:
            return short(line)
    return short(lines[-1]) if lines else "unknown error"


def short(text):
    text = " ".join(str(text).split())
    return text if len(text) <= REASON_CHARS else text[:REASON_CHARS - 3] + "..."
