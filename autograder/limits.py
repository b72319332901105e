"""Output limits for graded notebooks: nbgrader's LimitOutput counts lines only, so one 50 MB line passes."""
from nbgrader.preprocessors import LimitOutput
from traitlets import Integer

TRUNCATED = "\n... output truncated by the grader ...\n"


class LimitOutputSize(LimitOutput):
    """nbgrader's LimitOutput (lines of stream output, traceback length), plus a cap on the characters of every
    text output of a cell."""

    max_chars = Integer(20_000, help="most characters kept of each text output").tag(config=True)

    def preprocess_cell(self, cell, resources, cell_index):
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = self._cut(output["text"])
            for key, value in output.get("data", {}).items():
                if key.startswith("text/") and isinstance(value, str):
                    output["data"][key] = self._cut(value)
            if "evalue" in output:
                output["evalue"] = self._cut(output["evalue"])
        return cell, resources

    def _cut(self, text):
        return text if len(text) <= self.max_chars else text[:self.max_chars] + TRUNCATED
