"""The class report's numbers and the csv and Canvas exports, on a synthetic grader output folder.

Everything is recomputed here straight from the rows of grades.csv / checks.csv that tests/synthetic_class.py
wrote, without the report's or the export's code.
"""
import csv
import re
from collections import defaultdict
from pathlib import Path

import pytest

from autograder.cli import main
from autograder.export import ExportError, export_canvas
from autograder.report import build, text_report, write_reports
from synthetic_class import write_class

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    grades, checks = write_class(out, students=60, seed=3)
    return out, grades, checks


def test_report_numbers_agree_with_the_csv_files(graded):
    out, grades, checks = graded
    reports = build(out)
    assert sorted(reports) == sorted({g["assignment"] for g in grades})
    for name, report in reports.items():
        rows = [g for g in grades if g["assignment"] == name]
        totals = defaultdict(float)
        for g in rows:
            totals[g["student"]] += float(g["points"])
        assert report.totals == pytest.approx(dict(totals))
        cells = list(dict.fromkeys(g["cell"] for g in rows))
        assert [c.cell for c in report.cells] == cells
        for cell in report.cells:
            mine = [g for g in rows if g["cell"] == cell.cell]
            assert cell.graded == len(mine) == 60
            assert cell.mean == pytest.approx(sum(float(g["points"]) for g in mine) / len(mine))
            assert cell.pass_rate == pytest.approx(sum(g["status"] == "passed" for g in mine) / len(mine))
            failing = [c for c in checks if c["assignment"] == name and c["cell"] == cell.cell and not c["passed"]]
            by_message = defaultdict(set)
            by_check = defaultdict(set)
            for c in failing:
                by_message[c["message"]].add(c["student"])
                by_check[re.sub(r" \(\d of 3 cases\)$", "", c["group"])].add(c["student"])
            assert dict(cell.mistakes) == {m: len(s) for m, s in by_message.items()}
            assert dict(cell.failing_checks) == {g: len(s) for g, s in by_check.items()}
        problems = {(g["student"], g["status"]) for g in rows
                    if g["status"] in ("timeout", "error", "limit", "ungradable", "missing")}
        assert {(p.student, p.status) for p in report.problems} == problems
        for p in report.problems:
            assert p.reason == next(g["reason"] for g in rows if g["student"] == p.student)


def test_report_pages_and_text_show_the_counts(graded, tmp_path):
    out, _, _ = graded
    written = write_reports(out, tmp_path)
    path, report = written["01_conv_arithmetic"]
    page = path.read_text()
    assert page.count("data:image/png;base64,") == 2 and "<script" not in page and "http" not in page
    cell = report.cells[0]
    message, count = cell.mistakes.most_common(1)[0]
    assert f"{count} of {cell.graded}" in page and message.replace("'", "&#x27;") in page
    for p in report.problems:
        assert p.student in page
    assert f"top mistake: {count} of {cell.graded}: {message}" in text_report(report)
    assert "flag" in page and "pasted course code" in page


def test_report_command(graded, capsys):
    out, _, _ = graded
    assert main(["report", str(out)]) == 0
    assert (out / "report" / "01_conv_arithmetic.html").exists() and (out / "report" / "03_pooling.html").exists()
    assert "01_conv_arithmetic: 60 students" in capsys.readouterr().out


def test_csv_export(graded, tmp_path):
    out, grades, _ = graded
    dest = tmp_path / "class.csv"
    assert main(["export", str(out), "--format", "csv", "--out", str(dest)]) == 0
    rows = list(csv.reader(open(dest)))
    assert rows[0] == ["student", "01_conv_arithmetic", "03_pooling", "total", "pending"]
    assert rows[1] == ["max points", "12", "10", "22", ""]
    students = [r[0] for r in rows[2:]]
    assert students == sorted({g["student"] for g in grades})
    for row in rows[2:]:
        mine = [g for g in grades if g["student"] == row[0]]
        for i, assignment in enumerate(rows[0][1:3], 1):
            assert float(row[i]) == pytest.approx(sum(float(g["points"]) for g in mine if g["assignment"] == assignment))
        assert float(row[3]) == pytest.approx(float(row[1]) + float(row[2]))


@pytest.fixture
def small(tmp_path):
    out = tmp_path / "out"
    grades, _ = write_class(out, students=4, seed=1)   # s0000..s0003
    return out, grades


def _points(grades, student, assignment):
    return sum(float(g["points"]) for g in grades if g["student"] == student and g["assignment"] == assignment)


def test_canvas_export_fills_the_columns_and_lists_who_is_missing(small, tmp_path, capsys):
    out, grades = small
    dest = tmp_path / "canvas.csv"
    assert main(["export", str(out), "--format", "canvas", "--roster", str(FIXTURES / "canvas_gradebook.csv"),
                 "--out", str(dest)]) == 0
    printed = capsys.readouterr()
    rows = list(csv.DictReader(open(dest, encoding="utf-8")))
    header = list(rows[0])
    assert header == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "01_conv_arithmetic (12345)",
                      "03_pooling (12346)"]   # read-only and other columns left out: the import changes nothing else
    assert rows[0]["Student"].strip() == "Points Possible" and rows[0]["01_conv_arithmetic (12345)"] == "12.00"
    by_name = {r["Student"]: r for r in rows[1:]}
    assert list(by_name) == ["Ada, Lovelace", "Babbage, Charles", "Hopper, Grace", "Turing, Alan"]
    for name, student in (("Ada, Lovelace", "s0000"), ("Babbage, Charles", "s0001"), ("Hopper, Grace", "s0002")):
        for assignment, column in (("01_conv_arithmetic", "01_conv_arithmetic (12345)"),
                                   ("03_pooling", "03_pooling (12346)")):
            assert float(by_name[name][column]) == pytest.approx(_points(grades, student, assignment))
    assert by_name["Turing, Alan"]["01_conv_arithmetic (12345)"] == "7.00"   # no grades here: left as it was
    assert "s0003 has grades but is not in the Canvas roster" in printed.err
    assert "Turing, Alan" in printed.err and "aturing" in printed.err
    assert "1 graded but not in Canvas (not exported): s0003" in printed.out
    assert "1 in Canvas without grades (left unchanged): Turing, Alan" in printed.out


def test_canvas_export_by_explicit_column_and_errors(small, tmp_path):
    out, grades = small
    roster = tmp_path / "roster.csv"
    text = (FIXTURES / "canvas_gradebook.csv").read_text().replace("03_pooling (12346)", "Pooling homework (12346)")
    roster.write_text(text)
    dest = tmp_path / "canvas.csv"
    summary = export_canvas(out, roster, dest, explicit=["03_pooling=Pooling homework"])
    assert summary["columns"] == {"01_conv_arithmetic": "01_conv_arithmetic (12345)",
                                  "03_pooling": "Pooling homework (12346)"}
    rows = list(csv.DictReader(open(dest)))
    assert float(rows[1]["Pooling homework (12346)"]) == pytest.approx(_points(grades, "s0000", "03_pooling"))
    summary = export_canvas(out, roster, dest)      # without --column: pooling has no column, and says so
    assert summary["unmatched_assignments"] == ["03_pooling"]
    with pytest.raises(ExportError, match="no column"):
        export_canvas(out, roster, dest, explicit=["03_pooling=Nope"])
    roster.write_text("Name,Score\nx,1\n")
    with pytest.raises(ExportError, match="not a Canvas gradebook export"):
        export_canvas(out, roster, dest)
