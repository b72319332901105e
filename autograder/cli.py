"""The instructor's command line: ``python -m autograder {release,grade,selftest,report,export}``."""
import argparse
import os
import signal
import sys

from .course import CELL_TIMEOUT, HELPERS, NOTEBOOKS
from .grade import format_table, grade, run_complete, summarize
from .gradebook import course_folder_note
from .outcomes import NEEDS_MANUAL, UNSANDBOXED
from .release import GraderError, release
from .sandbox import Limits, SandboxError, check_available
from .selftest import selftest
from .task import SUBMISSION_TIMEOUT, Settings


def _sandbox_ok(args):
    if args.no_sandbox:
        print(f"warning: --no-sandbox: {UNSANDBOXED}", file=sys.stderr)
        return False
    try:
        check_available(HELPERS)
    except SandboxError as exc:
        raise GraderError(f"student kernels cannot be sealed on this machine: {exc}. Or pass --no-sandbox to grade "
                          "work you trust without a sandbox.")
    return True


def _stop_like_ctrl_c():
    """SIGTERM (``kill``, a job scheduler's stop) and SIGHUP (the instructor's terminal closed) stop ``grade`` and
    ``selftest`` as Ctrl-C does: what was graded is written, and the run is marked incomplete. With their default
    actions the grader died at once, leaving the finished submissions' feedback and gradebook entries but neither
    grades.csv nor the run's state (the next run graded them again). A signal the grader was started ignoring stays
    ignored, as Python does for SIGINT: ``nohup`` keeps a run going when the terminal closes."""
    for stop in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(stop) == signal.SIG_DFL:
            signal.signal(stop, signal.default_int_handler)  # raises KeyboardInterrupt, whatever the signal


def _settings(args, sandbox):
    limits = Limits(args.max_processes, args.memory_mb, args.cpu_seconds, args.disk_mb)
    return Settings(cell_timeout=args.cell_timeout, submission_timeout=args.submission_timeout, sandbox=sandbox,
                    limits=limits, seed=args.seed)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="regenerate notebooks/ (the student release) from solutions/")
    p.add_argument("--out", default=os.fspath(NOTEBOOKS), help="where to write the release (default: notebooks/)")

    for name, text in (("grade", "grade DIR/<student>/<assignment>/*.ipynb"),
                       ("selftest", "solutions must score 100%% and the blank release 0")):
        p = sub.add_parser(name, help=text)
        if name == "grade":
            p.add_argument("dir", help="folder of <student>/<assignment>/ submissions")
            p.add_argument("--out", help="output folder (default: a grades/ folder beside DIR)")
            p.add_argument("--scheduler", help="grade on this Dask scheduler (tcp://host:8786) instead of locally")
            p.add_argument("--scheduler-file", help="grade on the Dask scheduler described in this file "
                                                    "(dask scheduler --scheduler-file, dask-jobqueue, ...)")
            p.add_argument("--force", action="store_true", help="regrade every submission, changed or not")
            p.add_argument("--student", action="append", default=[], metavar="NAME",
                           help="grade only this student's submissions (repeatable); others keep their rows")
        p.add_argument("--cell-timeout", type=int, default=CELL_TIMEOUT, help="seconds per cell")
        p.add_argument("--submission-timeout", type=int, default=SUBMISSION_TIMEOUT, help="seconds per submission")
        p.add_argument("--seed", type=int, help="draw the grader's random cases from this seed (reproducible runs)")
        p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                       help="local Dask workers (default: cores; ignored with --scheduler)")
        p.add_argument("--no-sandbox", action="store_true", help="run kernels unsandboxed (trusted code only)")
        defaults = Limits()
        p.add_argument("--max-processes", type=int, default=defaults.processes,
                       help="processes and threads of one kernel (default %(default)s)")
        p.add_argument("--memory-mb", type=int, default=defaults.memory_mb,
                       help="memory (address space) of each kernel process, MiB (default %(default)s)")
        p.add_argument("--cpu-seconds", type=int, default=defaults.cpu_seconds,
                       help="CPU time of each kernel process, s (default %(default)s)")
        p.add_argument("--disk-mb", type=int, default=defaults.disk_mb,
                       help="files one submission may write in all, MiB (default %(default)s)")

    p = sub.add_parser("report", help="class report: OUT/report/<assignment>.html from OUT/grades.csv, checks.csv")
    p.add_argument("out", help="the output folder of grade (holds grades.csv and checks.csv)")
    p.add_argument("--dest", help="where to write the pages (default: OUT/report)")
    p = sub.add_parser("export", help="grades for a spreadsheet, Canvas or Gradescope (see autograder/README.md)")
    p.add_argument("out", nargs="?", help="the output folder of grade (csv, canvas)")
    p.add_argument("--format", required=True, choices=("csv", "canvas", "gradescope"))
    p.add_argument("--out", dest="dest", help="file to write (default: OUT/export-csv.csv, OUT/export-canvas.csv, "
                   "<assignment>-gradescope.zip)")
    p.add_argument("--roster", help="canvas: the gradebook CSV exported from Canvas")
    p.add_argument("--column", action="append", default=[], metavar="ASSIGNMENT=CANVAS_COLUMN",
                   help="canvas: which Canvas column gets an assignment (default: matched by name prefix)")
    p.add_argument("--assignment", action="append", default=[],
                   help="canvas: only these assignments; gradescope: the assignment to package (one)")
    p.add_argument("--include-pending", action="store_true",
                   help="canvas: also export assignments whose cells graded by hand are not all graded yet (their "
                        "points so far); by default those are left as Canvas has them and listed")
    p.add_argument("--visibility", default="visible", choices=("visible", "after_due_date", "after_published", "hidden"),
                   help="gradescope: when students see the per-cell results (default %(default)s)")
    p.add_argument("--sandbox", default="auto", choices=("auto", "yes", "no"),
                   help="gradescope: grade in bubblewrap (yes), without (no), or bubblewrap if it runs there (auto)")

    args = parser.parse_args(argv)
    if args.command in ("report", "export"):
        from .instructor import main as instructor_main
        return instructor_main(args)
    _stop_like_ctrl_c()
    try:
        if args.command == "release":
            for name in release(out=args.out):
                print(f"released {name} -> {os.path.join(args.out, name)}")
            return 0
        sandbox = _sandbox_ok(args)
        if args.command == "grade":
            out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.dir)), "grades")
            rows = grade(args.dir, out=out, jobs=args.jobs, settings=_settings(args, sandbox),
                         scheduler=args.scheduler, scheduler_file=args.scheduler_file, force=args.force,
                         students=args.student)
            print(format_table(summarize(rows)))
            if not sandbox:
                print(f"\nNOT SANDBOXED (--no-sandbox): {UNSANDBOXED}")
            print(f"\n{len(rows)} graded cells -> {os.path.join(out, 'grades.csv')}; "
                  f"feedback in {os.path.join(out, 'feedback')}")
            pending = sum(r["points"] is None for r in rows)
            if pending:
                print(f"{pending} cells need grading by hand (status '{NEEDS_MANUAL}')")
            print(course_folder_note(out))
            return 0 if run_complete(out) else 130
        ok, summary = selftest(jobs=args.jobs, settings=_settings(args, sandbox))
        print(format_table(summary))
        pending = sum(1 for *_, hand in summary if hand)
        if pending:
            print(f"\ncells graded by hand are pending in {pending} submissions (not part of the verdict: the "
                  "solutions' written answers wait for a person, the release's are unanswered and score 0)")
        print("\nselftest " + ("passed: solutions 100%, release 0" if ok else
                               "FAILED: solutions must score 100% and the release 0, with status ok"))
        return 0 if ok else 1
    except GraderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C (or SIGTERM, SIGHUP) before grading started, or in selftest
        print("interrupted", file=sys.stderr)
        return 130
