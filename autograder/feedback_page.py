"""The feedback page of a graded notebook: nbgrader's feedback template, rendered fast enough to grade a class.

nbgrader's own exporter (nbconvert's ``HTMLExporter`` with the ``feedback`` template) spends most of its time on
two things that are the same for every student: syntax-highlighting cells nobody changed (the exercise text, the
locked and the test cells) and a BeautifulSoup pass over the finished page, which embeds all of its CSS, only to
add alt text to images and tab stops to a layout the feedback template does not use. Measured on 2 cores for
assignment 05 (bench/grading_throughput.py profiles it): 5.0 s a page before, of which the soup pass 3.6 s and
highlighting 0.8 s. Here each worker process keeps one exporter, remembers the highlighted HTML of the sources
it has seen, and adds the alt text with one substitution.
"""
import functools
import os
import re
from pathlib import Path

from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

MISSING_ALT = 'alt="No description has been provided for this image" '
_IMG_WITHOUT_ALT = re.compile(r"<img(?![^>]*\balt=)\s", re.IGNORECASE)


class FeedbackExporter(HTMLExporter):
    """nbgrader's feedback page: ``HTMLExporter`` with highlighting cached per source and no soup pass (its
    ``from_notebook_node`` below is nbconvert's without the soup)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._highlight = Highlight2HTML(parent=self)
        self._highlighted = functools.lru_cache(maxsize=8192)(self._highlight_source)

    def _highlight_source(self, source, language, magics_language):
        return self._highlight(source, language, {"magics_language": magics_language} if magics_language else None)

    def highlight_code(self, source, language=None, metadata=None):
        """The highlighted HTML of a cell's ``source`` (what nbconvert's ``highlight_code`` filter returns)."""
        return self._highlighted(source, language, (metadata or {}).get("magics_language"))

    def from_notebook_node(self, nb, resources=None, **kw):
        """(page, resources) for ``nb``: the template's HTML, every image given alt text."""
        resources = self._init_resources(resources)
        self.register_filter("highlight_code", self.highlight_code)
        self.register_filter("filter_data_type", WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata,
                                                                        parent=self, resources=resources))
        html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        return _IMG_WITHOUT_ALT.sub("<img " + MISSING_ALT, html), resources


@functools.cache
def feedback_exporter():
    """The process's FeedbackExporter with nbgrader's feedback template and the grades from the gradebook (building
    it and loading its templates for every notebook would cost as much as grading a small one)."""
    import nbgrader
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades
    base = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"
    exporter = FeedbackExporter(template_name="feedback", extra_template_basedirs=[os.fspath(base / "templates")],
                                extra_template_paths=[os.fspath(base / "static" / "node_modules" / "bootstrap" /
                                                                "dist" / "css")])
    exporter.register_preprocessor(GetGrades(), enabled=True)
    exporter.register_preprocessor(CSSHTMLHeaderPreprocessor(), enabled=True)
    return exporter
