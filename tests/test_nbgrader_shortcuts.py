"""The two places where the grader does nbgrader's work its own faster way give nbgrader's answers."""
import base64
import html
import re
import subprocess
import sys

import nbformat
from nbconvert.exporters import HTMLExporter

from autograder.course import alembic_head
from autograder.feedback_page import MISSING_ALT, FeedbackExporter

PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")).decode()


def test_alembic_head_is_what_nbgrader_asks_the_alembic_command_for():
    # nbgrader's own get_alembic_version, run in a fresh process where the grader has not replaced it
    ask = "import nbgrader.api; print(nbgrader.api.get_alembic_version())"
    theirs = subprocess.check_output([sys.executable, "-c", ask], text=True).strip()
    assert alembic_head() == theirs and re.fullmatch(r"[0-9a-f]{12}", theirs)


def _notebook():
    nb = nbformat.v4.new_notebook(metadata={"language_info": {"name": "python", "pygments_lexer": "ipython3"}})
    nb.cells = [nbformat.v4.new_markdown_cell("# Pooling\nThe *window* moves by `stride`."),
                nbformat.v4.new_code_cell("def f(x):\n    return x[::2]  # every other <entry>", outputs=[
                    nbformat.v4.new_output("stream", name="stdout", text="[ok] f keeps every other entry\n"),
                    nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})]),
                nbformat.v4.new_code_cell("%%bash\necho hi", metadata={"magics_language": "bash"})]
    return nb


def _visible_text(page):
    page = re.sub(r"(?s)<style.*?</style>|<script.*?</script>", "", page)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()


def test_feedback_page_shows_what_nbconverts_page_shows_and_gives_images_alt_text():
    ours, theirs = FeedbackExporter(template_name="classic"), HTMLExporter(template_name="classic")
    page = ours.from_notebook_node(_notebook())[0]
    assert _visible_text(page) == _visible_text(theirs.from_notebook_node(_notebook())[0])
    assert page.count("<img") == 1 and page.count(MISSING_ALT) == 1
    assert "every other &lt;entry&gt;" in page  # highlighted code is escaped, not raw HTML


def test_feedback_page_highlights_each_source_once_and_keeps_the_language_apart():
    exporter = FeedbackExporter(template_name="classic")
    nb = _notebook()
    first = exporter.from_notebook_node(nb)[0]
    assert exporter.from_notebook_node(nb)[0] == first
    info = exporter._highlighted.cache_info()
    assert info.hits >= info.misses > 0
    assert exporter.highlight_code("echo hi", metadata={"magics_language": "bash"}) != \
        exporter.highlight_code("echo hi")
