"""Small matplotlib pictures for the notebooks.

Every function draws into a given ``ax`` (or a new figure when ``ax`` is None) and returns the matplotlib
``Figure``; none of them calls ``plt.show()``, so they work headless (Agg) and inside JupyterLab alike.
matplotlib is imported when a function draws, not with this module: a notebook that imports these functions and
never draws (the grader leaves the pictures out) does not load pyplot.

    fig = draw_sliding_windows(7, 3, stride=3)          # the "does not fit nicely" picture
    fig = plot_layer_bars(names, activations, params)   # a network's layer table as two bar charts
"""
__all__ = ["draw_sliding_windows", "plot_layer_bars"]

_PAD_COLOUR = "0.82"        # grey: zero padding
_INPUT_COLOUR = "white"     # an input position that some window covers
_DROPPED_COLOUR = "#f6c6c6"  # light red + hatching: an input position that no window covers
_DROPPED_EDGE = "#c0392b"


def _window_starts(w, f, stride, pad):
    """Left edges (in padded coordinates) of the windows of an f-wide filter sliding over w + 2*pad cells."""
    for name, value, low in (("w", w, 1), ("f", f, 1), ("stride", stride, 1), ("pad", pad, 0)):
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}")
    if f > w + 2 * pad:
        raise ValueError(f"filter size f={f} is larger than the padded input w + 2*pad = {w + 2 * pad}")
    return list(range(0, w + 2 * pad - f + 1, stride))


def _cell_colour(j, w, pad, covered):
    """Face colour and hatch of padded cell j: grey padding, white covered input, hatched red dropped input."""
    if j < pad or j >= pad + w:
        return _PAD_COLOUR, None
    if j in covered:
        return _INPUT_COLOUR, None
    return _DROPPED_COLOUR, "///"


def draw_sliding_windows(w, f, stride, pad=0, ax=None, grid=False):
    """Draws where an f-wide window sits when it slides with the given stride over a zero-padded input.

    The input has ``w`` cells (indices 0..w-1, written in the cells); ``pad`` grey cells of zero padding are added
    on each side. Window positions start at 0, stride, 2*stride, ... of the padded input and stop while the
    window still fits. Input cells that no window covers are hatched red: that is what gets dropped when the
    filter "does not fit nicely".

    Args:
        w: input width (and height, with ``grid=True``), in cells.
        f: filter (window) size.
        stride: step between window positions, >= 1.
        pad: zero padding added on each side, >= 0.
        ax: a matplotlib Axes to draw into; a new figure is made when None.
        grid: False draws one row of cells with one coloured bracket per window position below it;
            True draws the w x w plane (plus padding), outlines the windows of the first output row and
            the first output column, and hatches the dropped rows and columns.

    Returns:
        The matplotlib Figure that holds ``ax``.

    Raises:
        ValueError: if w, f or stride is < 1, pad < 0, or f > w + 2*pad.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    starts = _window_starts(w, f, stride, pad)
    n = w + 2 * pad
    covered = {j for s in starts for j in range(s, s + f)}
    colours = plt.get_cmap("tab10").colors
    if ax is None:
        size = (max(4.0, 0.45 * n + 1), max(4.0, 0.45 * n + 1)) if grid else (max(5.0, 0.55 * n + 1), 1.2 + 0.35 * len(starts))
        _, ax = plt.subplots(figsize=size)

    if grid:
        for row in range(n):
            for col in range(n):
                face, hatch = _cell_colour(row, w, pad, covered)
                face2, hatch2 = _cell_colour(col, w, pad, covered)
                if face == _PAD_COLOUR or face2 == _PAD_COLOUR:
                    face, hatch = _PAD_COLOUR, None
                elif hatch2:
                    face, hatch = face2, hatch2
                ax.add_patch(Rectangle((col, row), 1, 1, facecolor=face, hatch=hatch,
                                       edgecolor=_DROPPED_EDGE if hatch else "0.55", linewidth=0.8))
        # first output row (windows moving right) and first output column (windows moving down)
        shown = [(0, s) for s in starts] + [(s, 0) for s in starts[1:]]
        for k, (top, left) in enumerate(shown):
            inset = 0.06 + 0.05 * (k % 3)
            ax.add_patch(Rectangle((left + inset, top + inset), f - 2 * inset, f - 2 * inset, fill=False,
                                   edgecolor=colours[k % len(colours)], linewidth=2.2))
        ax.set_xlim(-0.2, n + 0.2)
        ax.set_ylim(n + 0.2, -0.2)   # row 0 on top, like an image
    else:
        for j in range(n):
            face, hatch = _cell_colour(j, w, pad, covered)
            ax.add_patch(Rectangle((j, 0), 1, 1, facecolor=face, hatch=hatch,
                                   edgecolor=_DROPPED_EDGE if hatch else "0.35", linewidth=1))
            label = "0" if face == _PAD_COLOUR else str(j - pad)
            ax.text(j + 0.5, 0.5, label, ha="center", va="center", fontsize=9,
                    color="0.45" if face == _PAD_COLOUR else "black")
        for k, s in enumerate(starts):
            y = -0.45 - 0.35 * k
            colour = colours[k % len(colours)]
            ax.plot([s + 0.08, s + 0.08, s + f - 0.08, s + f - 0.08], [y + 0.2, y, y, y + 0.2],
                    color=colour, linewidth=2.2)
            ax.text(s - 0.15, y, str(k), ha="right", va="center", fontsize=8, color=colour)
        ax.set_xlim(-0.8, n + 0.2)
        ax.set_ylim(-0.45 - 0.35 * len(starts), 1.15)

    dropped = [j - pad for j in range(pad, pad + w) if j not in covered]
    count = f"{len(starts)} x {len(starts)}" if grid else f"{len(starts)}"
    what = "rows and columns" if grid else "input cells"
    title = f"w={w}, f={f}, S={stride}, P={pad}: {count} window positions"
    title += f", {what} {dropped} never covered" if dropped else ", every input cell covered"
    ax.set_title(title, fontsize=10)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax.figure


def plot_layer_bars(names, activations, params, ax=None, log=True):
    """Draws a network's layer table as two horizontal bar charts: values stored and parameters, per layer.

    Args:
        names: L layer names, first layer on top ("input", "conv1_1", ...).
        activations: L numbers, the values each layer outputs (C*H*W for a (C, H, W) output).
        params: L numbers, each layer's learned parameters (weights + biases; 0 for pooling).
        ax: None for a new 1 x 2 figure, or a pair of Axes (activations, parameters).
        log: True for a logarithmic x axis (the counts span several powers of ten); bars of 0 are left empty.

    Returns:
        The matplotlib Figure that holds the two Axes.

    Raises:
        ValueError: if the three sequences do not have the same length.
    """
    if not len(names) == len(activations) == len(params):
        raise ValueError(f"names, activations and params must have the same length, "
                         f"got {len(names)}, {len(activations)}, {len(params)}")
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots(1, 2, figsize=(12, 0.28 * len(names) + 1.5), sharey=True)
    ax_act, ax_par = ax
    rows = range(len(names))
    for axis, values, colour, title in ((ax_act, activations, "tab:blue", "values stored (activations)"),
                                        (ax_par, params, "tab:orange", "parameters (weights + biases)")):
        axis.barh(rows, [float(v) for v in values], color=colour)
        axis.set_title(f"{title}, total {sum(int(v) for v in values):,}", fontsize=10)
        axis.set_xlabel("count" + (" (log scale)" if log else ""))
        if log:
            axis.set_xscale("log")
        axis.grid(axis="x", alpha=0.3)
    ax_act.set_yticks(list(rows))
    ax_act.set_yticklabels(names, fontsize=8)
    ax_par.tick_params(labelleft=False)
    for axis in ax:
        axis.set_ylim(len(names) - 0.5, -0.5)   # first layer on top
    fig = ax_act.figure
    fig.tight_layout()
    return fig
