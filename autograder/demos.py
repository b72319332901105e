"""Which of the course's demonstrations grading leaves out of a submission.

A demonstration is a code cell of the course tagged ``demo`` (``course.demo_cells``): a widget, a timing, a
figure, a check that prints what the student should look at. It grades nothing, and running it costs a kernel
up to a second (drawing a figure, a numerical gradient), so the grader leaves it out, but only when that is sure
to change nothing else in the notebook:

- the cell is the course's own, unchanged (same cell id, same source);
- no later code cell of this submission reads a name the demonstration binds, or changes by item or attribute
  (the course's cells are checked in tests; a student's own cell may use anything).

"Reads" is taken broadly (``cell_names``): any name loaded anywhere in a cell, also where the cell binds it
first, or inside a function; a cell whose names are not known reads everything, and is never left out. So a
demonstration binds as little as it can: its work goes into a function of a telling name, and only that name is
bound. What this cannot see is a demonstration that changes an object through a method (``values.append(1)``)
or from inside a function: the course's demonstrations do not.
"""
import ast

DEMO_TAG = "demo"  # the cell tag
NOT_RUN = "(a demonstration: the grader does not run it; it counts for nothing)\n"
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.ListComp, ast.SetComp, ast.DictComp,
          ast.GeneratorExp)


def cell_names(source):
    """(names the cell binds in the notebook's namespace, names it reads anywhere), or None when that is not known:
    the cell does not parse, has IPython's ``%magic`` or ``!shell`` lines (they may bind or read anything), or
    imports ``*``."""
    if any(line.lstrip().startswith(("%", "!")) for line in source.splitlines()):
        return None
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    bound, read = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Load, ast.Del)):
            read.add(node.id)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            read.add(node.target.id)
        elif isinstance(node, ast.Global):
            bound.update(node.names)  # a function that rebinds a notebook-level name
    _top_level_bindings(tree, bound)
    return None if "*" in bound else (bound, read)


def _top_level_bindings(node, bound):
    """Adds to ``bound`` the names ``node`` binds in its own scope (not those of its functions, classes, lambdas
    and comprehensions, which have their own; their names are bound, and := binds where it stands). A name whose
    object it changes by item or attribute (``x[0] = 1``, ``x.y = 1``, ``del x[0]``) counts as bound too."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Attribute, ast.Subscript)) and isinstance(child.ctx, (ast.Store, ast.Del)):
            base = child.value
            while isinstance(base, (ast.Attribute, ast.Subscript)):
                base = base.value
            if isinstance(base, ast.Name):
                bound.add(base.id)
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(child.name)
        elif isinstance(child, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in child.names)
        elif isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
            bound.add(child.id)
        elif isinstance(child, ast.NamedExpr):
            bound.add(child.target.id)
        elif isinstance(child, ast.ExceptHandler) and child.name:
            bound.add(child.name)
        elif isinstance(child, (ast.MatchAs, ast.MatchStar)) and child.name:
            bound.add(child.name)
        elif isinstance(child, ast.MatchMapping) and child.rest:
            bound.add(child.rest)
        if isinstance(child, SCOPES):
            for inner in ast.walk(child):  # := inside a comprehension binds in the enclosing scope
                if isinstance(inner, ast.NamedExpr):
                    bound.add(inner.target.id)
        else:
            _top_level_bindings(child, bound)


def left_out(cells, demos):
    """Ids of the code cells of ``cells`` (a notebook's, in order) that grading leaves out: unchanged
    demonstrations of ``demos`` ({cell id: source}) whose names no later code cell reads."""
    code = [cell for cell in cells if cell.cell_type == "code"]
    later_reads, reads_everything, skip = set(), False, set()
    for cell in reversed(code):
        names = cell_names(cell.source)
        if cell.get("id") in demos and demos[cell.id] == cell.source and names is not None \
                and not reads_everything and not names[0] & later_reads:
            skip.add(cell.id)
            continue  # left out: what it reads does not matter
        if names is None:
            reads_everything = True
        else:
            later_reads |= names[1]
    return skip
