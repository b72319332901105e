"""The class report after grading: ``python -m autograder report OUT``.

Reads only the grader's output files, ``OUT/grades.csv`` and ``OUT/checks.csv`` (whatever engine wrote them; with
the scores entered by hand in formgrader from ``OUT/gradebook.db`` when there is one), and
writes one self-contained HTML page per assignment, ``OUT/report/<assignment>.html`` (CSS inline, plots drawn by
matplotlib and embedded as base64 PNG, so it opens offline), with:

- the distribution of the students' totals for the assignment,
- each graded cell's mean points and pass rate,
- for each cell the failing checks and the named mistakes, most frequent first, counted once per student
  ("42 of 180: one short: did you forget the +1?"),
- the submissions that timed out, errored, hit a sandbox limit, could not be graded or lacked a notebook, with
  the reasons, and the rows the grader flagged (course code pasted in).

``text_report`` is the short version printed in the terminal.
"""
import base64
import csv
import html
import io
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .outcomes import BY_HAND

PROBLEM_STATUSES = ("timeout", "error", "limit", "ungradable", "missing")
PROBLEM_LABELS = {"timeout": "timed out", "error": "error", "limit": "hit a sandbox limit",
                  "ungradable": "could not be graded", "missing": "notebook missing"}
TOP = 5  # failing checks and mistakes shown per cell
_CASES = re.compile(r"\s*\(\d+ of \d+ cases\)$")


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def check_name(group):
    """The check's group without the "(k of n cases)" the grader adds to a failing group."""
    return _CASES.sub("", group)


@dataclass
class Cell:
    notebook: str
    cell: str
    max_points: float = 0.0
    points: list = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    failing_checks: Counter = field(default_factory=Counter)   # check name -> students
    mistakes: Counter = field(default_factory=Counter)         # message -> students
    pending: int = 0     # students whose answer still waits to be graded by hand (not in points, not a failure)
    hand_full: int = 0   # students given full points by hand

    @property
    def graded(self):
        return len(self.points)

    @property
    def mean(self):
        return sum(self.points) / len(self.points) if self.points else 0.0

    @property
    def pass_rate(self):
        return (self.statuses["passed"] + self.hand_full) / self.graded if self.graded else 0.0


@dataclass
class Problem:
    student: str
    notebook: str
    status: str
    reason: str
    cells: list


@dataclass
class AssignmentReport:
    name: str
    totals: dict            # student -> points
    max_total: float
    cells: list             # [Cell] in notebook order
    problems: list          # [Problem]
    flagged: list           # [(student, notebook, cell, flags)]

    @property
    def students(self):
        return sorted(self.totals)

    @property
    def mean_total(self):
        return sum(self.totals.values()) / len(self.totals) if self.totals else 0.0

    @property
    def median_total(self):
        values = sorted(self.totals.values())
        if not values:
            return 0.0
        mid = len(values) // 2
        return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def build(out):
    """{assignment: AssignmentReport} from ``out/grades.csv`` and (if present) ``out/checks.csv``."""
    out = Path(out)
    from .gradebook import final_rows
    grades = final_rows(out)
    checks = read_csv(out / "checks.csv") if (out / "checks.csv").exists() else []
    reports = {}
    cells = defaultdict(dict)          # assignment -> {(notebook, cell): Cell}, in order of first appearance
    totals = defaultdict(lambda: defaultdict(float))
    max_totals = defaultdict(lambda: defaultdict(float))
    problems = defaultdict(dict)
    flagged = defaultdict(list)
    for row in grades:
        a, key = row["assignment"], (row["notebook"], row["cell"])
        cell = cells[a].setdefault(key, Cell(row["notebook"], row["cell"]))
        points, max_points = row["points"], float(row["max_points"] or 0)
        cell.max_points = max(cell.max_points, max_points)
        cell.statuses[row["status"]] += 1
        max_totals[a][row["student"]] += max_points
        if points is None:   # waits to be graded by hand: counted apart, neither 0 nor a failure
            cell.pending += 1
            totals[a][row["student"]] += 0.0
            continue
        cell.points.append(points)
        cell.hand_full += row["status"] == BY_HAND and points >= max_points
        totals[a][row["student"]] += points
        if row["status"] in PROBLEM_STATUSES:
            pkey = (row["student"], row["notebook"], row["status"], row["reason"])
            problems[a].setdefault(pkey, Problem(*pkey, [])).cells.append(row["cell"])
        if row.get("flags"):
            flagged[a].append((row["student"], row["notebook"], row["cell"], row["flags"]))
    seen_checks, seen_mistakes = set(), set()
    for row in checks:
        if str(row["passed"]).strip() in ("1", "True", "true"):
            continue
        cell = cells.get(row["assignment"], {}).get((row["notebook"], row["cell"]))
        if cell is None:
            continue
        who = (row["assignment"], row["notebook"], row["cell"], row["student"])
        name = check_name(row["group"])
        if (who, name) not in seen_checks:
            seen_checks.add((who, name))
            cell.failing_checks[name] += 1
        message = row["message"].strip()
        if message and (who, message) not in seen_mistakes:
            seen_mistakes.add((who, message))
            cell.mistakes[message] += 1
    for a in sorted(cells):
        order = {s: i for i, s in enumerate(PROBLEM_STATUSES)}
        reports[a] = AssignmentReport(
            a, dict(totals[a]), max(max_totals[a].values(), default=0.0), list(cells[a].values()),
            sorted(problems[a].values(), key=lambda p: (order[p.status], p.student, p.notebook)), flagged[a])
    return reports


# ---------------------------------------------------------------------------------------------------------- plots

def _png(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _plots(report):
    """(histogram of totals, bar chart of cell means) as base64 PNG."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    blue, grey = "#3b6ea8", "#c9d3df"
    fig = Figure(figsize=(7.2, 3.2))
    ax = fig.subplots()
    values = list(report.totals.values())
    top = report.max_total or max(values, default=1.0) or 1.0
    bins = min(20, max(5, int(top))) if top <= 40 else 20
    ax.hist(values, bins=bins, range=(0, top), color=blue, edgecolor="white")
    ax.axvline(report.mean_total, color="#d9822b", linestyle="--", linewidth=1.5,
               label=f"mean {report.mean_total:.1f}")
    ax.set_xlabel(f"points (of {top:g})")
    ax.set_ylabel("students")
    ax.set_xlim(0, top)
    ax.legend(frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    hist = _png(fig)

    fig = Figure(figsize=(7.2, 0.45 * max(len(report.cells), 2) + 0.8))
    ax = fig.subplots()
    names = [c.cell for c in report.cells][::-1]
    means = [100 * c.mean / c.max_points if c.max_points else 0.0 for c in report.cells][::-1]
    passes = [100 * c.pass_rate for c in report.cells][::-1]
    ys = range(len(names))
    ax.barh([y + 0.2 for y in ys], means, height=0.4, color=blue, label="mean points (% of the cell's)")
    ax.barh([y - 0.2 for y in ys], passes, height=0.4, color=grey, label="pass rate (%)")
    ax.set_yticks(list(ys), names, fontsize=8)
    ax.set_xlim(0, 100)
    ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    bars = _png(fig)
    return hist, bars


# ----------------------------------------------------------------------------------------------------------- HTML

CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #1f2933;
       margin: 0; background: #f5f7fa; line-height: 1.45; }
main { max-width: 1040px; margin: 0 auto; padding: 28px 32px 60px; }
h1 { font-size: 1.7em; margin: 0 0 4px; }
h2 { font-size: 1.25em; margin: 34px 0 10px; border-bottom: 2px solid #d8dee6; padding-bottom: 4px; }
h3 { font-size: 1.02em; margin: 18px 0 6px; }
.sub { color: #52606d; margin: 0 0 18px; }
.cards { display: flex; gap: 14px; flex-wrap: wrap; }
.card { background: white; border-radius: 8px; padding: 12px 18px; box-shadow: 0 1px 3px rgba(0,0,0,.08);
        min-width: 120px; }
.card b { display: block; font-size: 1.5em; }
.card span { color: #52606d; font-size: .85em; }
figure { background: white; border-radius: 8px; padding: 14px; margin: 12px 0; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
figure img { max-width: 100%; display: block; margin: 0 auto; }
figcaption { color: #52606d; font-size: .85em; text-align: center; margin-top: 6px; }
table { border-collapse: collapse; width: 100%; background: white; box-shadow: 0 1px 3px rgba(0,0,0,.08);
        border-radius: 8px; overflow: hidden; font-size: .92em; }
th, td { padding: 7px 10px; text-align: left; border-bottom: 1px solid #e4e7eb; vertical-align: top; }
th { background: #eef2f7; font-weight: 600; }
tr:nth-child(even) td { background: #fafbfc; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.bar { display: inline-block; height: 9px; background: #3b6ea8; border-radius: 2px; vertical-align: middle; }
.pill { display: inline-block; white-space: nowrap; padding: 1px 8px; border-radius: 10px; font-size: .8em; font-weight: 600; }
.timeout { background: #fde8c8; color: #8a4b00; } .error { background: #fbd5d5; color: #8a1c1c; }
.limit { background: #e5dcfa; color: #4b2a99; } .ungradable { background: #e4e7eb; color: #323f4b; }
.missing { background: #e4e7eb; color: #52606d; } .flag { background: #fff3c4; color: #7a5b00; }
.cell { background: white; border-radius: 8px; padding: 10px 16px 14px; margin: 12px 0;
        box-shadow: 0 1px 3px rgba(0,0,0,.08); }
.cell table { box-shadow: none; table-layout: fixed; margin-top: 8px; }
.cell col.c-count { width: 110px; } .cell col.c-bar { width: 120px; }
.cell .meta { color: #52606d; font-size: .88em; }
.none { color: #7b8794; font-style: italic; }
code { font-family: "SFMono-Regular", Consolas, Menlo, monospace; font-size: .92em; }
"""


def _e(text):
    return html.escape(str(text))


def _pct(x):
    return f"{100 * x:.0f}%"


def _counted(counter, graded, label):
    if not counter:
        return f'<p class="none">no failing {label}</p>'
    rows = "".join(f'<tr><td class="num">{n} of {graded}</td><td><span class="bar" style="width:{100 * n / graded:.0f}px">'
                   f'</span></td><td>{_e(text)}</td></tr>' for text, n in counter.most_common(TOP))
    more = f"<tr><td></td><td></td><td class='none'>and {len(counter) - TOP} more</td></tr>" if len(counter) > TOP else ""
    return (f'<table><colgroup><col class="c-count"><col class="c-bar"><col></colgroup>'
            f'<tr><th class="num">students</th><th></th><th>{label}</th></tr>{rows}{more}</table>')


def _cells_text(cells, in_notebook):
    if len(cells) == in_notebook:
        return f"all {in_notebook} graded cells"
    return _e(f"{len(cells)}: {', '.join(cells)}")


def render_html(report, out="."):
    hist, bars = _plots(report)
    pending = sum(c.pending for c in report.cells)
    n = len(report.totals)
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Class report: {_e(report.name)}</title>"
             f"<style>{CSS}</style></head><body><main>",
             f"<h1>Class report: {_e(report.name)}</h1>",
             f"<p class='sub'>{n} students, {len(report.cells)} graded cells, {report.max_total:g} points. "
             f"Counted from grades.csv and checks.csv"
             + (", with the scores entered by hand in gradebook.db" if (Path(out) / "gradebook.db").is_file() else "")
             + "." + (f" {pending} answers still wait to be graded by hand: they count in no total, mean or pass "
                      "rate yet." if pending else "") + "</p>",
             "<div class='cards'>"
             f"<div class='card'><b>{report.mean_total:.1f}</b><span>mean points</span></div>"
             f"<div class='card'><b>{report.median_total:g}</b><span>median points</span></div>"
             f"<div class='card'><b>{sum(t >= report.max_total for t in report.totals.values()) if report.max_total else 0}"
             f"</b><span>full marks</span></div>"
             f"<div class='card'><b>{len({p.student for p in report.problems})}</b>"
             f"<span>students with grading problems</span></div></div>",
             "<h2>Score distribution</h2>",
             f"<figure><img class='report-plot' alt='histogram of the students&#39; totals' src='data:image/png;base64,{hist}'>"
             f"<figcaption>Totals of {n} students for {_e(report.name)}</figcaption></figure>",
             "<h2>Graded cells</h2>",
             f"<figure><img class='report-plot' alt='mean points and pass rate per cell' src='data:image/png;base64,{bars}'>"
             "<figcaption>Mean points as a share of each cell's points, and the share of students with full "
             "points</figcaption></figure>",
             "<table><tr><th>notebook</th><th>cell</th><th class='num'>points</th><th class='num'>mean</th>"
             "<th class='num'>pass rate</th><th class='num'>graded</th><th>not passed</th></tr>"]
    for c in report.cells:
        others = ", ".join(f"{s} {k}" for s, k in sorted(c.statuses.items()) if s != "passed")
        parts.append(f"<tr><td>{_e(c.notebook)}</td><td><code>{_e(c.cell)}</code></td><td class='num'>{c.max_points:g}</td>"
                     f"<td class='num'>{c.mean:.2f}</td><td class='num'>{_pct(c.pass_rate)}</td>"
                     f"<td class='num'>{c.graded}</td><td>{_e(others)}</td></tr>")
    parts.append("</table><h2>Most frequent failing checks and mistakes, per cell</h2>")
    for c in report.cells:
        parts.append(f"<div class='cell'><h3><code>{_e(c.cell)}</code> <span class='meta'>{_e(c.notebook)}, "
                     f"mean {c.mean:.2f} of {c.max_points:g}, {_pct(c.pass_rate)} passed</span></h3>"
                     + _counted(c.mistakes, c.graded, "named mistake")
                     + _counted(c.failing_checks, c.graded, "failing check") + "</div>")
    parts.append("<h2>Submissions that could not be graded normally</h2>")
    cells_of = Counter(c.notebook for c in report.cells)
    if report.problems:
        parts.append("<table><tr><th>student</th><th>notebook</th><th>status</th><th>reason</th><th>cells</th></tr>")
        for p in report.problems:
            parts.append(f"<tr><td>{_e(p.student)}</td><td>{_e(p.notebook)}</td><td><span class='pill {p.status}'>"
                         f"{_e(PROBLEM_LABELS[p.status])}</span></td><td>{_e(p.reason)}</td>"
                         f"<td>{_cells_text(p.cells, cells_of[p.notebook])}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p class='none'>none: every submission ran</p>")
    parts.append("<h2>Flagged for a look</h2>")
    if report.flagged:
        parts.append("<table><tr><th>student</th><th>notebook</th><th>cell</th><th>flag</th></tr>")
        parts += [f"<tr><td>{_e(s)}</td><td>{_e(nb)}</td><td><code>{_e(c)}</code></td><td><span class='pill flag'>flag</span> "
                  f"{_e(f)}</td></tr>" for s, nb, c, f in report.flagged]
        parts.append("</table>")
    else:
        parts.append("<p class='none'>nothing flagged</p>")
    parts.append("</main></body></html>")
    return "\n".join(parts)


def text_report(report):
    lines = [f"{report.name}: {len(report.totals)} students, mean {report.mean_total:.1f} / {report.max_total:g}, "
             f"median {report.median_total:g}"]
    width = max((len(c.cell) for c in report.cells), default=4)
    for c in report.cells:
        line = f"  {c.cell.ljust(width)}  mean {c.mean:5.2f} / {c.max_points:<4g} passed {_pct(c.pass_rate):>4}"
        if c.mistakes:
            text, n = c.mistakes.most_common(1)[0]
            line += f"  top mistake: {n} of {c.graded}: {text}"
        if c.pending:
            line += f"  {c.pending} to grade by hand"
        lines.append(line)
    if report.problems:
        counts = Counter(p.status for p in report.problems)
        lines.append("  problems: " + ", ".join(f"{k} {PROBLEM_LABELS[s]}" for s, k in counts.items())
                     + " (see the report)")
    return "\n".join(lines)


def write_reports(out, dest=None):
    """Writes ``<dest or out/report>/<assignment>.html`` for every assignment; returns {assignment: (path, report)}."""
    reports = build(out)
    dest = Path(dest) if dest else Path(out) / "report"
    dest.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, report in reports.items():
        path = dest / f"{name}.html"
        path.write_text(render_html(report, out), encoding="utf-8")
        written[name] = (path, report)
    return written
