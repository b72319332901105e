"""Which of the course's demonstrations grading leaves out of a submission.

A demonstration is a code cell of the course tagged ``demo`` (``course.demo_cells``): a widget, a timing, a
figure, a check that prints what the student should look at. It grades nothing, and running it costs a kernel
up to a second (drawing a figure, a numerical gradient), so the grader leaves it out, but only when that is sure
to change nothing else in the notebook:

- the cell is the course's own, unchanged (same cell id, same source);
- no code cell of this submission that runs may read a name the demonstration binds, or changes by item or
  attribute: no later cell, and no function of an earlier cell, which may be called after the demonstration (the
  course's cells are checked in tests; a student's own cell may use anything).

"Reads" is taken broadly (``cell_names``): any name a cell loads, also where it binds it first, and any name of the
notebook its functions load (Python's own ``symtable`` tells those from their parameters and local variables); a
cell whose names are not known reads everything, and is never left out. So a demonstration binds as little as it
can: its work goes into a function of a telling name, and only that name is bound. What this cannot see is a
demonstration that changes an object through a method (``values.append(1)``) or from inside a function: the course's
demonstrations do not.
"""
import ast
import symtable

DEMO_TAG = "demo"  # the cell tag
NOT_RUN = "(a demonstration: the grader does not run it; it counts for nothing)\n"
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.ListComp, ast.SetComp, ast.DictComp,
          ast.GeneratorExp)


def cell_names(source):
    """(names the cell binds in the notebook's namespace, names it reads as it runs, names its functions, classes
    and comprehensions read from the notebook's namespace when they run), or None when that is not known: the cell
    does not parse, has IPython's ``%magic`` or ``!shell`` lines (they may bind or read anything), or imports
    ``*``. Reads as it runs are taken broadly: any name the cell loads anywhere, also where it binds it first or
    where it is a function's own."""
    if any(line.lstrip().startswith(("%", "!")) for line in source.splitlines()):
        return None
    try:
        tree = ast.parse(source)
        table = symtable.symtable(source, "<cell>", "exec")
    except SyntaxError:
        return None
    bound, now = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Load, ast.Del)):
            now.add(node.id)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            now.add(node.target.id)
        elif isinstance(node, ast.Global):
            bound.update(node.names)  # a function that rebinds a notebook-level name
    _top_level_bindings(tree, bound)
    if "*" in bound:
        return None
    later = set().union(set(), *(_global_reads(child) for child in table.get_children()))
    return bound, now | later, later


def _global_reads(table):
    """Names the scope ``table`` (a function's, a class's, a comprehension's) and the scopes inside it read from
    the notebook's namespace."""
    names = {symbol.get_name() for symbol in table.get_symbols()
             if symbol.is_global() and (symbol.is_referenced() or symbol.is_assigned())}  # += reads too
    return names.union(*(_global_reads(child) for child in table.get_children()))


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
    demonstrations of ``demos`` ({cell id: source}) that bind no name a code cell that runs may read: a later cell
    anywhere, an earlier one in a function (or class, or comprehension) that may run after the demonstration."""
    code = [cell for cell in cells if cell.cell_type == "code"]
    names = [cell_names(cell.source) for cell in code]
    candidates = {i for i, cell in enumerate(code) if cell.get("id") in demos and demos[cell.id] == cell.source
                  and names[i] is not None}
    while True:  # a demonstration that runs may read what another binds: that one runs too
        running = [j for j in range(len(code)) if j not in candidates]
        if any(names[j] is None for j in running):
            return set()  # a cell that runs may read anything
        kept = set()
        for i in candidates:
            reads = set().union(*(names[j][1] if j > i else names[j][2] for j in running))
            if not names[i][0] & reads:
                kept.add(i)
        if kept == candidates:
            return {code[i].id for i in candidates}
        candidates = kept
