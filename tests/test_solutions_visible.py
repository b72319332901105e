"""Every solution notebook runs top to bottom in quick mode (nbclient, no CIFAR-10 copy) and passes its own visible
tests: no output line starts with "[FAIL]" and no cell raises. A correct solution must never be told it is wrong."""
import ast
import shutil

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.course import SOLUTIONS

NOTEBOOKS = sorted(SOLUTIONS.glob("*/*.ipynb"))


def output_lines(cell):
    for output in cell.outputs:
        if output.output_type == "stream":
            yield from output.text.splitlines()
        elif output.output_type in ("execute_result", "display_data"):
            yield from output.get("data", {}).get("text/plain", "").splitlines()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.parent.name for p in NOTEBOOKS])
def test_solution_notebook_passes_its_visible_tests(path, tmp_path, monkeypatch):
    monkeypatch.delenv("CIFAR10_PATH", raising=False)           # no copy: the cells that need one skip
    monkeypatch.setenv("CONVNETS_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("CONVNETS_DEVICE", "cpu")
    folder = tmp_path / path.parent.name
    shutil.copytree(path.parent, folder)                        # 05's committed lenet5.npz comes along
    nb = nbformat.read(folder / path.name, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()

    errors = [(i, o) for i, c in enumerate(nb.cells) if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors, f"cell {errors[0][0]}: {errors[0][1].ename}: {errors[0][1].evalue}"
    failures = [f"cell {i} ({c.metadata.get('nbgrader', {}).get('grade_id', '')}): {line}"
                for i, c in enumerate(nb.cells) if c.cell_type == "code"
                for line in output_lines(c) if line.lstrip().startswith("[FAIL]")]
    assert not failures, "\n".join(failures)


def _mistake_dicts(source):
    """The dict literals passed as ``mistakes=`` in a test cell's code: (line, [key expressions])."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "mistakes" and isinstance(keyword.value, ast.Dict):
                    yield keyword.value.lineno, keyword.value.keys


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.parent.name for p in NOTEBOOKS])
def test_every_mistake_hint_has_a_key_of_its_own(path):
    # {288: ..., 288.0: ..., 96 * 3: ...} is one key: the last message wins and the others are never shown.
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code" or "TestCell" not in cell.source:
            continue
        for line, keys in _mistake_dicts(cell.source):
            values = []
            for key in keys:
                try:
                    values.append(eval(compile(ast.Expression(key), "<key>", "eval"), {"__builtins__": {}}))
                except Exception:   # a key that needs the cell's names: not a constant, not checked here
                    continue
            for i, a in enumerate(values):
                for b in values[:i]:
                    assert not (a == b), (f"{path.parent.name}, {cell.metadata.get('nbgrader', {}).get('grade_id')}"
                                          f" line {line}: two mistakes give the same answer {a!r}")
