"""Keep the course's own answers out of graded work.

``helpers/`` ships fast, correct versions of what the assignments ask students to write (convolution, pooling,
batch norm, the counting functions, the training loop...). While an assignment is graded, its kernel sees a copy
of ``helpers/`` in which every function of ``OFF_LIMITS[assignment]`` has its body replaced by a ``raise`` of
``CourseCodeSwitchedOff`` (docstrings and line numbers kept): the code is absent from the sandbox, so no import,
``importlib`` trick or reading of the file can reach it. A graded function that delegates to it raises, and the
grader scores its cell 0 with ``DELEGATED``. On the student's own machine nothing changes.

Code pasted from the course (the same tokens once names are normalised) cannot be switched off; ``pasted``
finds it in a submission so that the row can flag it for the instructor.
"""
import ast
import compileall
import shutil
from pathlib import Path

SWITCHED_OFF = "CourseCodeSwitchedOff"
DELEGATED = "uses the course's own implementation, not yours"

_COUNTERS = ["_window_out", "_chain", "_shortcut", "conv_counts", "pool_counts", "norm_counts", "fc_counts",
             "inception_counts", "basic_block_counts", "bottleneck_counts"]

# assignment -> {module: [function, Class, or Class.method]}: the course code that answers its exercises.
OFF_LIMITS = {
    "01_conv_arithmetic": {
        "helpers.kernels": ["conv_output_shape", "pool_output_shape"],
        "helpers.architectures": _COUNTERS + ["layer_table", "totals"],
        "helpers.plots": ["_window_starts"],
        "helpers.widgets.sliding": ["SlidingFilter"],
        "helpers.widgets.pooling": ["Pooling"],
    },
    "02_convolution": {
        "helpers.kernels": ["_pad", "_im2col", "conv_forward", "conv_backward", "_windows", "_correlate_flat",
                            "_conv_backward_flat", "_col2im"],
        "helpers.architectures": ["conv_counts", "inception_counts", "_chain"],
        "helpers.widgets.sliding": ["SlidingFilter.output", "SlidingFilter.padded_input"],
    },
    "03_pooling": {
        "helpers.kernels": ["_offset_slices", "max_pool_forward", "max_pool_backward", "avg_pool_forward",
                            "avg_pool_backward"],
        "helpers.widgets.pooling": ["Pooling"],
    },
    "04_resnets": {
        "helpers.kernels": ["relu_forward", "relu_backward", "_bn_shape", "batchnorm_forward", "batchnorm_backward"],
        "helpers.layers": ["ReLU", "BatchNorm", "BasicBlock"],
        "helpers.architectures": _COUNTERS,
    },
    "05_training": {
        "helpers.kernels": ["softmax_cross_entropy"],
        "helpers.data": ["_channel_stats"],
        "helpers.models": ["lenet5", "mini_vgg", "resnet", "build"],
        "helpers.optim": ["SGD"],
        "helpers.train": ["augment_batch", "predict", "evaluate", "train_step", "fit"],
    },
}


def _module_path(helpers_root, module):
    parts = module.split(".")[1:]
    path = Path(helpers_root, *parts)
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _targets(tree, names):
    """(qualified name, function node) for every function that ``names`` covers in a module's AST."""
    found = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
            found.append((node.name, node))
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                        node.name in names or f"{node.name}.{item.name}" in names):
                    found.append((f"{node.name}.{item.name}", item))
    missing = set(names) - {q for q, _ in found} - {q.split(".")[0] for q, _ in found}
    if missing:
        raise ValueError(f"guard: no such function or class {sorted(missing)}")
    return found


def check(helpers_dir, assignment):
    """Raises ValueError when OFF_LIMITS names a function that ``helpers_dir`` no longer has (renamed kernels
    must not slip through the guard unnoticed)."""
    for module, names in OFF_LIMITS.get(assignment, {}).items():
        _targets(ast.parse(_module_path(helpers_dir, module).read_text()), names)


def switched_off_source(source, module, names):
    """``source`` with the bodies of the functions ``names`` covers replaced by a raise (same line numbers)."""
    lines = source.splitlines()
    for qualname, node in sorted(_targets(ast.parse(source), names), key=lambda t: -t[1].lineno):
        has_docstring = ast.get_docstring(node) is not None and len(node.body) > 1
        body = node.body[1:] if has_docstring else node.body
        if body[0].lineno == node.lineno:
            raise ValueError(f"guard: {module}.{qualname} has its body on the def line; give it lines of its own")
        first, last = body[0].lineno - 1, node.end_lineno
        indent = " " * body[0].col_offset
        stub = (f'{indent}raise {SWITCHED_OFF}("{module}.{qualname} answers an exercise of this assignment, so it '
                f'is switched off while the assignment is graded: use your own code")')
        lines[first:last] = [stub] + [""] * (last - first - 1)
    lines += ["", "", f"class {SWITCHED_OFF}(RuntimeError):",
              '    """Raised by course code that is switched off while an assignment is graded."""']
    return "\n".join(lines) + "\n"


def prepare_helpers(helpers_dir, assignment, dest):
    """A copy of ``helpers_dir`` at ``dest`` with ``OFF_LIMITS[assignment]`` switched off and compiled; returns
    ``dest`` (or ``helpers_dir`` itself when the assignment has nothing off limits)."""
    modules = OFF_LIMITS.get(assignment)
    if not modules:
        return Path(helpers_dir)
    dest = Path(dest)
    shutil.copytree(helpers_dir, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for module, names in modules.items():
        path = _module_path(dest, module)
        path.write_text(switched_off_source(path.read_text(), module, names))
    compileall.compile_dir(dest, quiet=1)
    return dest


# -- pasted code ---------------------------------------------------------------------------------------------------

class _Normalise(ast.NodeTransformer):
    """Renames every identifier to v0, v1, ... in order of first appearance and drops docstrings."""

    def __init__(self):
        self.names = {}

    def _name(self, name):
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node):
        return ast.copy_location(ast.Name(id=self._name(node.id), ctx=node.ctx), node)

    def visit_arg(self, node):
        node.arg = self._name(node.arg)
        node.annotation = None
        return node

    def visit_FunctionDef(self, node):
        node.name = self._name(node.name)
        if ast.get_docstring(node) is not None:
            node.body = node.body[1:] or [ast.Pass()]
        node.returns = None
        self.generic_visit(node)
        return node


MIN_NODES = 40  # a body smaller than this (``return dout * (cache > 0)``) is what anyone would write


def _size(node):
    return sum(1 for _ in ast.walk(node))


def fingerprint(function_node):
    """A string equal for two functions with the same tokens once names are normalised."""
    node = _Normalise().visit(ast.parse(ast.unparse(function_node)).body[0])
    return ast.dump(node, annotate_fields=False)


def course_fingerprints(helpers_dir, assignment):
    """{fingerprint: "module.function"} of the course code off limits for ``assignment``."""
    prints = {}
    for module, names in OFF_LIMITS.get(assignment, {}).items():
        tree = ast.parse(_module_path(helpers_dir, module).read_text())
        for qualname, node in _targets(tree, names):
            if _size(node) >= MIN_NODES:
                prints[fingerprint(node)] = f"{module}.{qualname}"
    return prints


def pasted(code_cells, prints):
    """[(student's function, course function)] for each function in ``code_cells`` (sources) that is course code
    pasted in, by ``fingerprint`` (functions of at least MIN_NODES syntax nodes: a one-liner is no evidence)."""
    found = []
    for source in code_cells:
        python = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
        try:
            tree = ast.parse(python)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                match = prints.get(fingerprint(node))
                if match:
                    found.append((node.name, match))
    return found
