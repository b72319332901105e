"""The pooling explorer (notebook 03): max or average pooling of one map, and the map's pooling matrix.

``Pooling`` is the plain-Python state: the map, the mode, the region size r, the stride s and the current output
position, with the output, the matrix A (``vec(out) = A vec(H)``, row-major vec) and the texts. Output and matrix
come from ``helpers.kernels``: the output from the forward pass, row k of A from the backward pass of a one-hot
gradient (A is the Jacobian), so ties go to the first maximum in row-major order, as ``np.argmax``.
``PoolingExplorer`` puts controls on it; ``pooling_explorer()`` returns the widget to display.
"""
import ipywidgets as widgets
import numpy as np
from matplotlib.patches import Rectangle

from .. import kernels
from ._common import PositionControl, WindowExplorer, frame, new_figure, picture, require_int, slider, text

__all__ = ["NOTES_MAP", "Pooling", "PoolingExplorer", "pooling_explorer"]

# The lecture notes' "simple example: max pooling one response map" (2 x 2 regions, stride 2 give [[6, 8], [3, 4]]).
NOTES_MAP = np.array([[1.0, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]])
RANDOM_SHAPE, RANDOM_VALUES = (6, 6), 4    # a random map holds integers 0..3: ties are common
MODES = {"max": (kernels.max_pool_forward, kernels.max_pool_backward),
         "avg": (kernels.avg_pool_forward, kernels.avg_pool_backward)}
SOURCES = ("notes", "random")
LIMITS = {"size": (1, 5), "stride": (1, 4)}
_DROPPED, _DROPPED_EDGE, _WINDOW = "#f6c6c6", "#c0392b", "#1f4e9c"   # hatched red: in no region; blue: window
_CHOSEN, _TIE, _LIT_ROW = "#f9d84a", "#e67e22", "#d4a017"            # gold: first maximum; orange: tied


def _number(value):
    return str(int(value)) if float(value).is_integer() else f"{value:.3g}"


class Pooling:
    """Max or average pooling with r x r regions at stride s over one map (the notes' 4 x 4 or a random 6 x 6).

    Attributes (read them, change them with ``set``): mode ("max" or "avg"), size (r), stride (s), source
    ("notes" or "random"), seed (of the random map), position (output cells row-major, 0 .. H'*W' - 1).
    """

    def __init__(self, mode="max", size=2, stride=2, source="notes", seed=0):
        self.mode = self.size = self.stride = self.source = self.seed = self.position = None
        self.set(mode=mode, size=size, stride=stride, source=source, seed=seed, position=0)

    def set(self, **values):
        """Changes some of mode, size, stride, source, seed, position (checked: ValueError/TypeError naming them).

        A position past the last output cell moves to the last one.
        """
        for name, value in values.items():
            if name == "mode":
                if value not in MODES:
                    raise ValueError(f"mode must be one of {', '.join(MODES)}, got {value!r}")
                self.mode = value
            elif name == "source":
                if value not in SOURCES:
                    raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {value!r}")
                self.source = value
            elif name == "seed":
                self.seed = require_int("seed", value, 0)
            elif name in LIMITS:
                setattr(self, name, require_int(name, value, *LIMITS[name]))
            elif name != "position":
                raise TypeError(f"unknown setting {name!r}; expected mode, size, stride, source, seed or position")
        position = values.get("position", self.position)
        self.position = min(require_int("position", position, 0), max(self.count, 1) - 1)

    # -- the map and its pooling ---------------------------------------------------------------------------------
    @property
    def map(self):
        """The map H being pooled, float64."""
        if self.source == "notes":
            return NOTES_MAP.copy()
        return np.random.default_rng(self.seed).integers(0, RANDOM_VALUES, RANDOM_SHAPE).astype(float)

    @property
    def error(self):
        """None when the region fits the map, else a sentence that says why it does not."""
        h, w = self.map.shape
        if self.size <= min(h, w):
            return None
        return (f"The {self.size} x {self.size} region does not fit the {h} x {w} map: pooling uses no padding, "
                f"so r must be at most {min(h, w)}.")

    @property
    def out_shape(self):
        """(H', W'), or None when the region does not fit."""
        return None if self.error else kernels.pool_output_shape((1, 1, *self.map.shape), self.size, self.stride)

    @property
    def count(self):
        shape = self.out_shape
        return shape[0] * shape[1] if shape else 0

    @property
    def output(self):
        """The pooled map, H' x W'."""
        forward, _ = MODES[self.mode]
        return forward(self.map.reshape(1, 1, *self.map.shape), self.size, self.stride)[0][0, 0]

    @property
    def matrix(self):
        """A of shape (H'*W', H*W) with vec(out) = A vec(H), row-major vec; row k is the backward pass of a one-hot
        gradient on output k (for max pooling A depends on the map; for average pooling it does not)."""
        forward, backward = MODES[self.mode]
        k, (h, w) = self.count, self.map.shape
        batch = np.broadcast_to(self.map, (k, 1, h, w)).copy()
        out, cache = forward(batch, self.size, self.stride)
        one_hot = np.eye(k).reshape(k, 1, *out.shape[2:])
        return backward(one_hot, cache).reshape(k, h * w)

    @property
    def cell(self):
        """(i, j): the output cell of the current position."""
        return divmod(self.position, self.out_shape[1])

    def window(self, position=None):
        """(top, left) of the region of an output position (the current one by default)."""
        i, j = divmod(self.position if position is None else position, self.out_shape[1])
        return i * self.stride, j * self.stride

    def ties(self, position=None):
        """Max mode: the (row, col) map entries of a region that hold its maximum, row-major; the first one is the
        one the gradient goes to. Empty in average mode."""
        if self.mode != "max":
            return []
        top, left = self.window(position)
        region = self.map[top:top + self.size, left:left + self.size]
        return [(top + r, left + c) for r, c in zip(*np.nonzero(region == region.max()))]

    def uncovered(self, axis):
        """Map rows (axis 0) or columns (axis 1) that no region covers."""
        size, n_out = self.map.shape[axis], self.out_shape[axis]
        covered = {k * self.stride + p for k in range(n_out) for p in range(self.size)}
        return [x for x in range(size) if x not in covered]

    # -- texts ---------------------------------------------------------------------------------------------------
    def summary(self):
        """Every text of the explorer, one line each: status, formula, value, matrix row, ties."""
        if self.error:
            return [self.error]
        h, w = self.map.shape
        h_out, w_out = self.out_shape
        i, j = self.cell
        top, left = self.window()
        name = "A_MaxPool" if self.mode == "max" else "A_AvgPool"
        lines = [f"{'max' if self.mode == 'max' else 'average'} pooling of the {h} x {w} map, {self.size} x "
                 f"{self.size} regions, stride {self.stride}: output {h_out} x {w_out}, position {self.position + 1} "
                 f"of {self.count}",
                 f"H' = ⌊(H − r) / s⌋ + 1 = ⌊({h} − {self.size}) / {self.stride}⌋ + 1 = {h_out},  "
                 f"W' = ⌊(W − r) / s⌋ + 1 = ⌊({w} − {self.size}) / {self.stride}⌋ + 1 = {w_out}"]
        values = self.map[top:top + self.size, left:left + self.size].ravel()
        listed = ", ".join(_number(v) for v in values)
        value = self.output[i, j]
        lines.append(f"out[{i}, {j}] = max({listed}) = {_number(value)}" if self.mode == "max" else
                     f"out[{i}, {j}] = ({listed.replace(', ', ' + ')}) / {self.size * self.size} = {_number(value)}")
        row = self.matrix[self.position]
        columns = np.flatnonzero(row).tolist()
        if self.mode == "max":
            (r, c), = [divmod(k, w) for k in columns]
            lines.append(f"row {self.position} of {name}: one 1, in column {columns[0]} = {r}·{w} + {c} "
                         f"(H[{r}, {c}], row-major vec); every other entry is 0")
        else:
            lines.append(f"row {self.position} of {name}: 1/{self.size * self.size} in columns {columns} "
                         f"(row-major vec), the same for every map")
        lines.append(self._tie_text())
        dropped = [f"rows {self.uncovered(0)}" if self.uncovered(0) else "",
                   f"columns {self.uncovered(1)}" if self.uncovered(1) else ""]
        if any(dropped):
            lines.append(f"Does not fit nicely: map {' and '.join(d for d in dropped if d)} are in no region "
                         f"(their columns of {name} are all zero).")
        return lines

    def _tie_text(self):
        if self.mode != "max":
            return "Average pooling: every entry of the region gets 1/r² of the gradient, ties do not matter."
        held = self.ties()
        if len(held) == 1:
            return "No tie in this region: the maximum is held once."
        where = ", ".join(f"H[{r}, {c}]" for r, c in held)
        first = held[0]
        return (f"Tie: the maximum {_number(self.map[first])} is held {len(held)} times ({where}); the first in "
                f"row-major order, H[{first[0]}, {first[1]}], gets the 1 (and the gradient), as np.argmax.")

    # -- picture -------------------------------------------------------------------------------------------------
    def figure(self):
        """The map with the current region, the output with the current cell lit, and A with its row lit."""
        h, w = self.map.shape
        if self.error:
            fig = new_figure(4.0, 3.0)
            ax = fig.subplots()
            self._draw_map(ax)
            fig.tight_layout()
            return fig
        h_out, w_out = self.out_shape
        fig = new_figure(9.0, 6.5)
        grid = fig.add_gridspec(2, 2, height_ratios=[1.1, 1.0])
        self._draw_map(fig.add_subplot(grid[0, 0]))
        self._draw_output(fig.add_subplot(grid[0, 1]))
        self._draw_matrix(fig.add_subplot(grid[1, :]))
        fig.tight_layout()
        return fig

    def _draw_map(self, ax):
        H = self.map
        h, w = H.shape
        held = [] if self.error else self.ties()
        dropped_rows = set() if self.error else set(self.uncovered(0))
        dropped_cols = set() if self.error else set(self.uncovered(1))
        for r in range(h):
            for c in range(w):
                dropped = r in dropped_rows or c in dropped_cols
                face = _CHOSEN if held and (r, c) == held[0] else _DROPPED if dropped else "white"
                ax.add_patch(Rectangle((c, r), 1, 1, facecolor=face, hatch="///" if dropped else None,
                                       edgecolor=_DROPPED_EDGE if dropped else "0.55", linewidth=0.6))
                ax.text(c + 0.5, r + 0.5, _number(H[r, c]), ha="center", va="center", fontsize=10)
        for r, c in held[1:]:
            ax.add_patch(Rectangle((c + 0.08, r + 0.08), 0.84, 0.84, fill=False, edgecolor=_TIE, linewidth=2,
                                   linestyle="--"))
        if not self.error:
            top, left = self.window()
            ax.add_patch(Rectangle((left, top), self.size, self.size, fill=False, edgecolor=_WINDOW, linewidth=2.5))
        title = "map H" + ("; gold: first maximum, dashed: tied" if len(held) > 1 else "")
        _frame(ax, h, w, title)

    def _draw_output(self, ax):
        out = self.output
        h_out, w_out = out.shape
        for i in range(h_out):
            for j in range(w_out):
                lit = i * w_out + j == self.position
                ax.add_patch(Rectangle((j, i), 1, 1, facecolor=_CHOSEN if lit else "white",
                                       edgecolor=_WINDOW if lit else "0.55", linewidth=2.0 if lit else 0.6))
                ax.text(j + 0.5, i + 0.5, _number(out[i, j]), ha="center", va="center", fontsize=10)
        _frame(ax, h_out, w_out, f"{'MaxPool' if self.mode == 'max' else 'AvgPool'}(H), cell {self.cell}")

    def _draw_matrix(self, ax):
        A = self.matrix
        k, hw = A.shape
        w = self.map.shape[1]
        ax.imshow(A, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        for column in range(w, hw, w):
            ax.axvline(column - 0.5, color="grey", linestyle="--", linewidth=0.8)
        ax.add_patch(Rectangle((-0.5, self.position - 0.5), hw, 1, fill=False, edgecolor=_LIT_ROW, linewidth=3))
        if k * hw <= 400:
            for row, column in zip(*np.nonzero(A)):
                ax.text(column, row, _number(A[row, column]) if A[row, column] == 1 else f"1/{self.size ** 2}",
                        ha="center", va="center", fontsize=7, color="white" if A[row, column] > 0.5 else "black")
        for row in range(k):
            for r, c in self.ties(row)[1:]:
                ax.plot(r * w + c, row, marker="o", markersize=9, markerfacecolor="none", markeredgecolor=_TIE)
        name = "A_MaxPool" if self.mode == "max" else "A_AvgPool"
        ties = " (orange circles: tied entries that get 0)" if self.mode == "max" else ""
        ax.set_title(f"{name}: {k} x {hw}, row {self.position} lit{ties}", fontsize=10)
        ax.set_xlabel("column = index in vec(H) (row-major)")
        ax.set_ylabel("row = output index")
        ax.set_xticks(range(0, hw, w))
        ax.set_yticks(range(k))


def _frame(ax, rows, cols, title):
    ax.set_xlim(-0.1, cols + 0.1)
    ax.set_ylim(rows + 0.1, -0.1)   # row 0 on top, like an image
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=10)


class PoolingExplorer(WindowExplorer):
    """Mode buttons, map choice, region size and stride sliders, a position control, the picture and the texts.

    ``widget`` is the VBox to display; ``controls`` maps "mode", "source", "size", "stride" to their widgets;
    ``state`` is the Pooling they change; ``text.value`` is the HTML of the texts.
    """

    LINES = ["status", "formula", "value", "matrix-row", "ties", "fit"]

    def __init__(self, mode="max", size=2, stride=2, source="notes", seed=0):
        self.state = Pooling(mode, size, stride, source, seed)
        self.controls = {
            "mode": widgets.ToggleButtons(options=[("max", "max"), ("average", "avg")], value=mode),
            "source": widgets.Dropdown(options=[("the notes' 4 x 4 map", "notes"), ("a random 6 x 6 map", "random")],
                                       value=source, description="map"),
            "size": slider("region size r", size, *LIMITS["size"], "pooling-size"),
            "stride": slider("stride s", stride, *LIMITS["stride"], "pooling-stride"),
        }
        self.controls["mode"].add_class("convnets-pooling-mode")
        self.controls["source"].add_class("convnets-pooling-source")
        self.new_map = widgets.Button(description="new random map")
        self.new_map.add_class("convnets-pooling-new-map")
        self.new_map.on_click(lambda _: self._new_random_map())
        self.position = PositionControl("pooling")
        self.image = picture("pooling-picture")
        self.text = text("pooling-text")
        for name, control in self.controls.items():
            self.watch(name, control)
        self.watch("position", self.position.slider)
        c = self.controls
        self.widget = frame([widgets.HBox([c["mode"], c["source"], self.new_map]),
                             widgets.HBox([c["size"], c["stride"]]), self.position.box, self.image, self.text],
                            "pooling")
        self.refresh()

    def _new_random_map(self):
        self.state.set(source="random", seed=self.state.seed + 1)
        self._busy = True
        try:
            self.controls["source"].value = "random"
        finally:
            self._busy = False
        self.refresh()


def pooling_explorer(mode="max", size=2, stride=2, source="notes", seed=0):
    """The pooling explorer widget, starting from the given settings.

    Args:
        mode: "max" or "avg"; size: region size r (1..5); stride: s (1..4).
        source: "notes" (the lecture notes' 4 x 4 map) or "random" (a 6 x 6 map of integers 0..3, with ties).
        seed: the random map's seed.

    Returns:
        An ipywidgets VBox (CSS class ``convnets-pooling``) to display.
    """
    return PoolingExplorer(mode, size, stride, source, seed).widget
