"""Grades out of the grader's output folder: ``python -m autograder export OUT --format csv|canvas|gradescope``.

- ``csv``: one row per student (sorted), one column per assignment (the sum of its cells' points), ``total`` and
  ``pending`` (the assignments with cells still waiting to be graded by hand: their points are not in the sums yet);
  the second row, whose student cell reads ``max points``, holds each column's maximum.
- ``canvas``: fills the assignment columns of the gradebook CSV that Canvas exports (``--roster``) and writes a
  file for Canvas's gradebook import. Students are matched by SIS Login ID, else SIS User ID, else Canvas ID,
  against our student folder names. Students on one side only are listed (stderr and the summary), never dropped
  silently: a roster student without grades keeps the cell Canvas exported (the import changes nothing for them).
  An assignment with cells still waiting to be graded by hand is not exported for that student (listed as
  pending) unless ``include_pending``: Canvas would show an incomplete total as final.
- ``gradescope``: a Gradescope autograder zip for one assignment (``autograder.gradescope``).

They read ``grades.csv``, and the scores entered by hand in formgrader from ``gradebook.db`` when the folder has
one (``autograder.gradebook.final_rows``).
"""
import csv
import io
import re
import sys
from collections import defaultdict
from pathlib import Path

CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_META_ROWS = ("Points Possible", "Manual Posting", "Muted")  # rows of the export that are no student
MAX_ROW = "max points"


class ExportError(Exception):
    pass


def read_totals(out, pending=None):
    """(points {student: {assignment: points}}, max points {assignment: max}) from ``out/grades.csv`` and the
    scores entered by hand in ``out/gradebook.db``. A cell still waiting to be graded by hand adds nothing to the
    points; ``pending``, a dict, receives {student: {assignment: [cells, points]}} of those cells."""
    from .gradebook import final_rows
    path = Path(out) / "grades.csv"
    if not path.exists():
        raise ExportError(f"{path} not found: run `python -m autograder grade DIR --out {out}` first")
    points = defaultdict(lambda: defaultdict(float))
    max_points = defaultdict(lambda: defaultdict(float))
    waiting = defaultdict(lambda: defaultdict(lambda: [0, 0.0]))
    for row in final_rows(out):
        points[row["student"]][row["assignment"]] += row["points"] or 0.0
        max_points[row["student"]][row["assignment"]] += row["max_points"] or 0.0
        if row["points"] is None:
            waiting[row["student"]][row["assignment"]][0] += 1
            waiting[row["student"]][row["assignment"]][1] += row["max_points"] or 0.0
    if pending is not None:
        pending.update({s: dict(a) for s, a in waiting.items()})
    maxima = defaultdict(float)
    for per_student in max_points.values():
        for assignment, value in per_student.items():
            maxima[assignment] = max(maxima[assignment], value)
    return {s: dict(a) for s, a in points.items()}, dict(maxima)


def _num(x):
    return f"{round(x, 4):g}"


# ------------------------------------------------------------------------------------------------------------ csv

def pending_text(waiting):
    """"01_conv_arithmetic: 1 cell, 3 points to grade by hand; ..." for {assignment: [cells, points]}."""
    return "; ".join(f"{a}: {n} cell{'s' if n != 1 else ''}, {_num(p)} points to grade by hand"
                     for a, (n, p) in sorted(waiting.items()))


def export_csv(out, dest):
    """Writes the class table to ``dest``; returns the number of students."""
    pending = {}
    points, maxima = read_totals(out, pending)
    assignments = sorted(maxima)
    with open(dest, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *assignments, "total", "pending"])
        writer.writerow([MAX_ROW, *(_num(maxima[a]) for a in assignments), _num(sum(maxima.values())), ""])
        for student in sorted(points):
            row = [points[student].get(a) for a in assignments]
            writer.writerow([student, *("" if v is None else _num(v) for v in row),
                             _num(sum(v for v in row if v is not None)), pending_text(pending.get(student, {}))])
    return len(points)


# --------------------------------------------------------------------------------------------------------- canvas

def canvas_name(column):
    """A Canvas assignment column without its id: "01_conv_arithmetic (12345)" -> "01_conv_arithmetic"."""
    return re.sub(r"\s*\(\d+\)\s*$", "", column).strip()


def match_columns(header, assignments, explicit):
    """{assignment: Canvas column} by ``explicit`` ("A=COLUMN") first, then by name prefix."""
    columns = [c for c in header if c not in CANVAS_IDENTITY]
    chosen = {}
    for item in explicit:
        assignment, _, column = item.partition("=")
        if not column:
            raise ExportError(f"--column {item!r}: write ASSIGNMENT=CANVAS_COLUMN")
        found = [c for c in columns if c == column or canvas_name(c) == column]
        if len(found) != 1:
            raise ExportError(f"--column {item}: the roster has no column {column!r}" if not found else
                              f"--column {item}: {column!r} matches several columns: {found}")
        chosen[assignment] = found[0]
    for assignment in assignments:
        if assignment in chosen:
            continue
        found = [c for c in columns if canvas_name(c).lower().startswith(assignment.lower())]
        if len(found) > 1:
            raise ExportError(f"{assignment} matches several Canvas columns {found}: choose one with "
                              f"--column {assignment}=COLUMN")
        if found:
            chosen[assignment] = found[0]
    return chosen


def _read_roster(path):
    text = Path(path).read_text(encoding="utf-8-sig")   # Canvas writes a byte-order mark
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise ExportError(f"{path} is empty")
    header = rows[0]
    missing = [c for c in ("Student", "ID") if c not in header]
    if missing or not ({"SIS User ID", "SIS Login ID"} & set(header)):
        raise ExportError(f"{path} is not a Canvas gradebook export: its header needs Student, ID and SIS User ID "
                          f"or SIS Login ID (it has {header[:6]})")
    return header, rows[1:]


def export_canvas(out, roster, dest, only=(), explicit=(), log=None, include_pending=False):
    """Writes a Canvas gradebook import file; returns a summary dict (filled, columns, missing on each side,
    pending: the student's assignments left out because cells wait to be graded by hand)."""
    log = log or sys.stderr
    waiting = {}
    points, maxima = read_totals(out, waiting)
    held = []
    header, rows = _read_roster(roster)
    wanted = list(only) or sorted(maxima)
    unknown = [a for a in wanted if a not in maxima]
    if unknown:
        raise ExportError(f"no grades for {unknown} in {out}/grades.csv (it has {sorted(maxima)})")
    columns = match_columns(header, wanted, explicit)
    unmatched = [a for a in wanted if a not in columns]
    if not columns:
        raise ExportError(f"no Canvas column matches {wanted}: create the assignments in Canvas, export the "
                          "gradebook again, or name the column with --column ASSIGNMENT=CANVAS_COLUMN")
    index = {name: header.index(name) for name in header}
    keep = [c for c in CANVAS_IDENTITY if c in index] + [columns[a] for a in sorted(columns)]
    students, seen, missing_grades = [], set(), []
    output = [keep]
    for row in rows:
        row = row + [""] * (len(header) - len(row))
        cell = dict(zip(header, row))
        if not cell.get("ID", "").strip() and cell["Student"].strip() in CANVAS_META_ROWS:
            meta = [cell.get(c, "") for c in keep]
            if cell["Student"].strip() == "Points Possible":
                meta = [cell.get(c, "") if c in CANVAS_IDENTITY or cell.get(c, "").strip()
                        else _num(maxima[next(a for a in columns if columns[a] == c)]) for c in keep]
            output.append(meta)
            continue
        key = next((cell[k].strip() for k in ("SIS Login ID", "SIS User ID", "ID")
                    if cell.get(k, "").strip() in points), None)
        new = [cell.get(c, "") for c in keep]
        if key is None:
            missing_grades.append(cell["Student"] + " (" + ", ".join(
                f"{k} {cell[k]}" for k in ("SIS Login ID", "SIS User ID", "ID") if cell.get(k)) + ")")
        else:
            seen.add(key)
            for assignment, column in columns.items():
                value = points[key].get(assignment)
                if assignment in waiting.get(key, {}) and not include_pending:
                    held.append(f"{key} {assignment} ({pending_text({assignment: waiting[key][assignment]})})")
                elif value is not None:
                    new[keep.index(column)] = _num(value)
            students.append(key)
        output.append(new)
    with open(dest, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(output)
    not_in_canvas = sorted(set(points) - seen)
    summary = {"filled": len(students), "columns": columns, "unmatched_assignments": unmatched,
               "not_in_canvas": not_in_canvas, "no_grades": missing_grades, "pending": held}
    for assignment in unmatched:
        print(f"warning: no Canvas column for {assignment}; add --column {assignment}=COLUMN", file=log)
    for student in not_in_canvas:
        print(f"warning: {student} has grades but is not in the Canvas roster: not exported", file=log)
    for student in missing_grades:
        print(f"warning: {student} is in the Canvas roster but has no grades: cell left as Canvas had it", file=log)
    for item in held:
        print(f"warning: {item}: not exported, cell left as Canvas had it (grade it in formgrader, or pass "
              "--include-pending to export the points so far)", file=log)
    return summary


def canvas_summary(summary, dest):
    lines = [f"{summary['filled']} students filled in {dest}: "
             + ", ".join(f"{a} -> {c!r}" for a, c in sorted(summary["columns"].items()))]
    if summary["not_in_canvas"]:
        lines.append(f"{len(summary['not_in_canvas'])} graded but not in Canvas (not exported): "
                     + ", ".join(summary["not_in_canvas"]))
    if summary["no_grades"]:
        lines.append(f"{len(summary['no_grades'])} in Canvas without grades (left unchanged): "
                     + ", ".join(summary["no_grades"]))
    if summary.get("pending"):
        lines.append(f"{len(summary['pending'])} assignments wait for grading by hand (left unchanged): "
                     + ", ".join(summary["pending"]))
    if summary["unmatched_assignments"]:
        lines.append("no Canvas column for: " + ", ".join(summary["unmatched_assignments"]))
    lines.append("Import it in Canvas: Grades > Import, choose the file, check the changes Canvas lists, Upload.")
    return "\n".join(lines)
