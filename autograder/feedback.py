"""Take the hidden tests out of a graded notebook before nbgrader turns it into HTML feedback.

nbgrader's feedback shows the test cells as they ran, hidden tests included, and a traceback quotes the code it
passed through. For every cell that holds hidden tests the scrubbed notebook keeps the visible part of its
source, a placeholder line for the hidden part, only the ``[ok]``/``[FAIL]`` lines of its printed output, and
only the name and message of an error. Last, any output line of any cell that contains a line of hidden-test source
(a student's function can print its caller) is redacted.
"""
import copy
import html

BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
PLACEHOLDER = "# (hidden tests: they ran, their source is not shown)"
REDACTED = "[redacted: hidden test source]"
MIN_LINE = 12  # lines of hidden source shorter than this are too generic to redact ("else:", "t.score()")


def hidden_lines(source):
    """The lines of ``source`` between the hidden-test markers."""
    lines, inside = [], False
    for line in source.splitlines():
        if BEGIN in line:
            inside = True
        elif END in line:
            inside = False
        elif inside:
            lines.append(line)
    return lines


def secret_lines(sources):
    """The stripped lines that appear only inside hidden-test regions of ``sources`` (and are not too short)."""
    sources = list(sources)
    hidden = {line.strip() for source in sources for line in hidden_lines(source) if len(line.strip()) >= MIN_LINE}
    visible = {line.strip() for source in sources for line in strip_hidden(source).splitlines()}
    return hidden - visible


def strip_hidden(source):
    """``source`` with each hidden-test region replaced by one placeholder line (same indentation)."""
    out, inside = [], False
    for line in source.splitlines():
        if BEGIN in line:
            inside = True
            out.append(line[:len(line) - len(line.lstrip())] + PLACEHOLDER)
        elif END in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def scrub_notebook(nb, source_cells):
    """A copy of notebook ``nb`` safe to show a student.

    Args:
        nb: the autograded notebook (nbformat NotebookNode).
        source_cells: the assignment's source cells as dicts with "source" (hidden tests inside).
    """
    nb = copy.deepcopy(nb)
    secrets = secret_lines(cell["source"] for cell in source_cells)
    for cell in nb.cells:
        if BEGIN in cell.source:
            cell.source = strip_hidden(cell.source)
            if cell.cell_type == "code":
                cell.outputs = [_student_safe(o) for o in cell.outputs]
        for output in cell.get("outputs", []):
            _redact(output, secrets)
    return nb


def _student_safe(output):
    if output.get("output_type") == "stream":
        output["text"] = "".join(line for line in output["text"].splitlines(keepends=True)
                                 if line.startswith(("[ok]", "[FAIL]")))
    elif output.get("output_type") == "error":
        output["traceback"] = [f"{output.get('ename')}: {output.get('evalue')}"]
    return output


def _redact(output, secrets):
    def clean(text):
        return "".join(REDACTED + "\n" if any(secret in line for secret in secrets) else line
                       for line in text.splitlines(keepends=True))

    if "text" in output:
        output["text"] = clean(output["text"])
    if "traceback" in output:
        output["traceback"] = [clean(t) for t in output["traceback"]]
    if "evalue" in output:
        output["evalue"] = clean(output["evalue"])
    for key, value in output.get("data", {}).items():
        if key.startswith("text/") and isinstance(value, str):
            output["data"][key] = clean(value)


def failure_page(student, assignment, notebook, rows, note=None):
    """A small HTML feedback page for a notebook that could not be graded: why, and the cells' points (and
    ``note``, e.g. that it was graded without the sandbox)."""
    failed = [r for r in rows if r["points"] is not None and r["status"] != "failed"] or rows
    reason = failed[0]["reason"] if failed else "it could not be graded"
    cells = "".join(f"<tr><td>{html.escape(r['cell'])}</td><td>"
                    + ("graded by hand" if r["points"] is None else f"{r['points']:g}") + f" / {r['max_points']:g}</td>"
                    f"<td>{html.escape(r['status'])}</td></tr>" for r in rows)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(notebook)}</title></head><body>"
            f"<h1>{html.escape(assignment)} / {html.escape(notebook)}.ipynb ({html.escape(student)})</h1>"
            f"<p><b>This notebook could not be graded:</b> {html.escape(reason)}</p>"
            + (f"<p><b>Note:</b> {html.escape(note)}.</p>" if note else "") +
            f"<p>Check that the file opens in JupyterLab and runs top to bottom (Kernel &gt; Restart and Run All), "
            f"then hand it in again or ask your instructor.</p>"
            f"<table><tr><th>test cell</th><th>points</th><th>status</th></tr>{cells}</table></body></html>")
