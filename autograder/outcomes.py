"""What happened in a graded cell, in one status word and one reason an instructor can act on.

Statuses: ``passed`` (full points), ``partial``, ``failed`` (0 points, the tests ran), ``limit`` (points lost
while the notebook was at one of its sandbox limits: processes, memory, CPU time, disk), ``timeout`` (a cell ran
past the limit), ``error`` (the notebook could not be run: dead kernel; or a check of the grader itself failed,
reason ``grader error: ...``), ``ungradable`` (the file is not a notebook) and ``missing`` (no such file in the
submission). Cells graded by hand (nbgrader's "manually graded answer" and "manually graded task") get
``needs manual grading`` with empty points: not 0, since the score is not known yet (``autograder.manual``); once
a score is entered in formgrader the exports read it from the gradebook and call the row ``graded by hand``. The ``flags`` column carries what an instructor should look at although the score stands (code of
the course pasted in).
"""
import re

REASON_CHARS = 1000
UNSANDBOXED = ("graded without the sandbox: the student's code ran with the grader's rights and could read or "
               "change anything the grader can")
NEEDS_MANUAL = "needs manual grading"   # a written answer or task waiting for the instructor's score
BY_HAND = "graded by hand"               # ... and once the instructor entered one (exports, report)
FIELDS = ("student", "assignment", "notebook", "cell", "points", "max_points", "status", "reason", "flags")

# what the grader writes into a cell's timeout error when the kernel was at its process limit (autograder.kernel)
HELD_AT_PROCESS_LIMIT = "the kernel was held at its process limit"
# what a notebook shows when it runs into a limit of autograder.sandbox.Limits: (text in an error, limit)
LIMIT_SIGNS = (("No space left on device", "disk"), ("Disk quota exceeded", "disk"),
               ("Resource temporarily unavailable", "processes"), ("can't start new thread", "processes"),
               (HELD_AT_PROCESS_LIMIT, "processes"), ("MemoryError", "memory"))


def limits_reached(nb, limits):
    """Reasons, one per limit, for the sandbox limits the graded notebook ``nb`` shows it ran into: in its errors,
    and in what C libraries print on stderr when the limit stops them (ZMQ's and OpenBLAS's threads: a fork loop
    whose children die there may never make the kernel's own fork fail)."""
    found = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            text = " ".join([output.get("ename", ""), output.get("evalue", "")] + output.get("traceback", []) +
                            ([output.get("text", "")] if output.get("name") == "stderr" else []))
            for sign, limit in LIMIT_SIGNS:
                if sign in text:
                    found.setdefault(limit, sign)
    described = {"disk": f"its disk limit ({limits.disk_mb} MiB of files in all)",
                 "processes": f"its process limit ({limits.processes} processes and threads)",
                 "memory": f"its memory limit ({limits.memory_mb} MiB per process)"}
    return [f"the notebook reached {described[limit]}: {sign}" for limit, sign in found.items()]


def cell_outcome(judgement, cell, max_points, limits=()):
    """(status, reason) for a graded cell from the grader's ``judgement`` (``autograder.trusted.Judgement``), the
    cell as it ran (may be None) and the reasons of the sandbox limits the notebook reached."""
    outputs = cell.get("outputs", []) if cell is not None else []
    if any(o.get("output_type") == "error" and o.get("ename") == "CellTimeoutError" for o in outputs):
        return "timeout", "the cell ran past the time limit and was stopped"
    if judgement.points >= max_points:
        return "passed", ""
    fails = "; ".join(f"{c.group}: {c.message}" for c in judgement.checks if not c.passed)
    if judgement.grader_errors:
        return "error", short(f"grader error in a check (the instructor has the traceback); {fails}")
    if limits and not judgement.delegated:
        return "limit", short("; ".join(limits) + (f"; {fails}" if fails else ""))
    return ("failed" if judgement.points <= 0 else "partial"), short(fails or "the cell gave less than full points")


def error_rows(student, assignment, notebook, cell_points, status, reason):
    """Zero-point rows, one per graded cell, for a notebook that could not be graded."""
    return [dict(zip(FIELDS, (student, assignment, notebook, cell, 0.0, max_points, status, short(reason), "")),
                 checks=[]) for cell, max_points in cell_points]


def notebook_failure(log):
    """(status, reason) for a notebook nbgrader could not finish, from its log."""
    line = last_error(log)
    if "sandbox limit:" in line:
        return "limit", f"the notebook was stopped at a limit of its sandbox ({line})"
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
