"""Put back the graded and read-only cells a submission lost, each where it belongs.

nbgrader 0.9.6's ``OverwriteCells.add_missing_cells`` fails with a KeyError as soon as the cell before a
missing one is a read-only cell (it only tracks graded and solution cells), and it never restores a deleted
read-only cell: a student who deletes a test cell, or a data cell the tests need, leaves the whole submission
ungraded. ``RestoreMissingCells`` does the same job correctly: every graded or locked cell of the source that
the submission lacks is inserted after the nearest earlier source cell that the submission has (at the top if
none), in source order.
"""
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import OverwriteCells


def grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


class RestoreMissingCells(OverwriteCells):
    """nbgrader's OverwriteCells with a working ``add_missing_grade_cells`` that also restores locked cells."""

    def add_missing_grade_cells(self, nb, resources):
        source_nb = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        points = {cell.name: cell.max_score for cell in source_nb.grade_cells}
        solutions = {cell.name for cell in source_nb.solution_cells}
        source_cells = list(source_nb.source_cells)
        present = {grade_id(cell) for cell in nb.cells} - {None}
        for i, source in enumerate(source_cells):
            if source.name in present or not (source.name in points or source.locked):
                continue
            self.log.warning("Missing cell %s: restoring it from the source", source.name)
            if source.name in points:
                cell = self.missing_cell_transform(source, points[source.name], is_solution=source.name in solutions)
            else:
                cell = _locked_cell(source)
            nb.cells.insert(self._position_after(nb, source_cells[:i]), cell)
            present.add(source.name)
        return nb, resources

    @staticmethod
    def _position_after(nb, earlier):
        """Index just after the notebook cell holding the last of ``earlier`` that the notebook has; else 0."""
        positions = {grade_id(cell): index for index, cell in enumerate(nb.cells)}
        for source in reversed(earlier):
            if source.name in positions:
                return positions[source.name] + 1
        return 0


def _locked_cell(source):
    """A read-only cell rebuilt from the gradebook's copy."""
    cell = NotebookNode({
        "cell_type": source.cell_type, "source": source.source,
        "metadata": NotebookNode({"deletable": False, "editable": False, "nbgrader": NotebookNode({
            "grade": False, "solution": False, "locked": True, "grade_id": source.name,
            "checksum": source.checksum, "cell_type": source.cell_type, "schema_version": 3})}),
    })
    if source.cell_type == "code":
        cell.update(execution_count=None, outputs=[])
    return cell
