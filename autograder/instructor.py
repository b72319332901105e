"""``python -m autograder report`` and ``export``: what the instructor does with the grader's output folder."""
import os
import sys

from .export import ExportError, canvas_summary, export_canvas, export_csv


def main(args):
    try:
        if args.command == "report":
            return _report(args)
        return _export(args)
    except (ExportError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _report(args):
    from .report import text_report, write_reports
    if not os.path.exists(os.path.join(args.out, "grades.csv")):
        raise ExportError(f"{os.path.join(args.out, 'grades.csv')} not found: grade first")
    written = write_reports(args.out, args.dest)
    for name, (path, report) in written.items():
        print(text_report(report))
        print(f"  -> {path}\n")
    return 0


def _export(args):
    if args.format == "gradescope":
        from .gradescope import build_zip
        if len(args.assignment) != 1:
            raise ExportError("--format gradescope packages one assignment: give --assignment NAME")
        dest = args.dest or f"{args.assignment[0]}-gradescope.zip"
        files = build_zip(args.assignment[0], dest, visibility=args.visibility, sandbox=args.sandbox)
        print(f"{dest}: Gradescope autograder for {args.assignment[0]} ({len(files)} files). Upload it under "
              "Configure Autograder (Ubuntu 22.04 or newer base image).")
        return 0
    if not args.out:
        raise ExportError(f"--format {args.format} needs the output folder of grade (OUT)")
    if args.format == "csv":
        dest = args.dest or os.path.join(args.out, "export-csv.csv")
        n = export_csv(args.out, dest)
        print(f"{n} students -> {dest} (second row: the maximum points of each column; the last column lists the "
              "cells still waiting to be graded by hand)")
        return 0
    if not args.roster:
        raise ExportError("--format canvas needs --roster: the gradebook CSV exported from Canvas (Grades > Export)")
    dest = args.dest or os.path.join(args.out, "export-canvas.csv")
    summary = export_canvas(args.out, args.roster, dest, args.assignment, args.column,
                            include_pending=args.include_pending)
    print(canvas_summary(summary, dest))
    return 0
