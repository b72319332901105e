"""The sliding-filter explorer (notebooks 01 and 02): one filter sliding over one zero-padded input plane.

``SlidingFilter`` is the plain-Python state: sizes, stride, padding, dilation and the current position, with
everything the pictures and texts show (output size, window, dot product, rows and columns never covered).
``SlidingFilterExplorer`` puts sliders on it; ``sliding_filter_explorer()`` returns the widget to display.

The input holds 1, 2, ..., H*W row-major (small integers, so the dot product can be checked by hand); the filter
holds 1, 0, 2, -1 repeated row-major (for f = 2 that is the filter of assignment 02's worked example).
"""
import numbers

import ipywidgets as widgets
import numpy as np
from matplotlib.collections import PatchCollection
from matplotlib.patches import Rectangle

from .. import kernels
from ._common import PositionControl, WindowExplorer, frame, new_figure, picture, require_int, slider, text

__all__ = ["SlidingFilter", "SlidingFilterExplorer", "sliding_filter_explorer"]

LIMITS = {"h": (1, 12), "w": (1, 12), "f": (1, 7), "stride": (1, 5), "pad": (0, 3), "dilation": (1, 3)}
FILTER_PATTERN = (1, 0, 2, -1)
_PAD, _DROPPED, _DROPPED_EDGE, _TAP, _WINDOW, _LIT = "0.82", "#f6c6c6", "#c0392b", "#aed6f1", "#1f4e9c", "#f9d84a"


def _term(value):
    """A number for a written-out sum: integers without '.0', negatives in parentheses."""
    value = int(value) if float(value).is_integer() else round(float(value), 3)
    return f"({value})" if value < 0 else str(value)


class SlidingFilter:
    """A square f x f filter (dilation d) sliding with stride S over an H x W plane padded with P zeros.

    Attributes (read them, change them with ``set``): h, w, f, stride, pad, dilation, position, bias, weights
    (f x f array). ``position`` counts output cells row-major, 0 .. H'*W' - 1.
    """

    def __init__(self, h=7, w=7, f=3, stride=1, pad=0, dilation=1, bias=0):
        if isinstance(bias, bool) or not isinstance(bias, numbers.Real):
            raise TypeError(f"bias must be a number, got {bias!r}")
        self.bias = bias
        self.h = self.w = self.f = self.stride = self.pad = self.dilation = self.position = None
        self.set(h=h, w=w, f=f, stride=stride, pad=pad, dilation=dilation, position=0)

    def set(self, **values):
        """Changes some of h, w, f, stride, pad, dilation, position (checked: ValueError/TypeError naming them).

        A position past the last output cell moves to the last one.
        """
        for name, value in values.items():
            if name == "position":
                continue
            if name not in LIMITS:
                raise TypeError(f"unknown setting {name!r}; expected one of {', '.join(LIMITS)} or position")
            setattr(self, name, require_int(name, value, *LIMITS[name]))
        self.weights = np.resize(FILTER_PATTERN, self.f * self.f).reshape(self.f, self.f)
        position = values.get("position", self.position)
        self.position = min(require_int("position", position, 0), max(self.count, 1) - 1)

    # -- sizes ---------------------------------------------------------------------------------------------------
    @property
    def span(self):
        """The effective filter size d*(f-1) + 1: the window the dilated filter spans."""
        return self.dilation * (self.f - 1) + 1

    @property
    def padded_shape(self):
        return self.h + 2 * self.pad, self.w + 2 * self.pad

    @property
    def error(self):
        """None when the filter fits the padded input, else a sentence that says why it does not."""
        ph, pw = self.padded_shape
        if self.span <= min(ph, pw):
            return None
        span = f"{self.span} (f={self.f}, dilation {self.dilation}: d*(f-1)+1)" if self.dilation > 1 else str(self.f)
        return (f"The filter does not fit: it spans {span} cells, but the padded input is only {ph} x {pw} "
                f"(H + 2P = {ph}, W + 2P = {pw}). Make the filter or the dilation smaller, the input larger, or add "
                f"padding.")

    @property
    def out_shape(self):
        """(H', W'), or None when the filter does not fit."""
        if self.error:
            return None
        return kernels.conv_output_shape((1, 1, self.h, self.w), (1, 1, self.span, self.span), self.stride, self.pad)

    @property
    def count(self):
        """Number of output cells (window positions), 0 when the filter does not fit."""
        shape = self.out_shape
        return shape[0] * shape[1] if shape else 0

    # -- the current window --------------------------------------------------------------------------------------
    @property
    def cell(self):
        """(i, j): the output cell of the current position."""
        return divmod(self.position, self.out_shape[1])

    @property
    def taps(self):
        """The f*f cells (row, col) of the padded input that the filter multiplies at the current position,
        row-major, in the order of ``weights.ravel()``."""
        i, j = self.cell
        top, left = i * self.stride, j * self.stride
        return [(top + self.dilation * p, left + self.dilation * q) for p in range(self.f) for q in range(self.f)]

    @property
    def padded_input(self):
        """The (H + 2P) x (W + 2P) plane: 1..H*W row-major inside a border of zeros."""
        plane = np.arange(1, self.h * self.w + 1).reshape(self.h, self.w)
        return np.pad(plane, self.pad)

    @property
    def output(self):
        """The H' x W' output (filter and bias), computed with helpers.kernels.conv_forward on the dilated filter."""
        dilated = np.zeros((self.span, self.span))
        dilated[::self.dilation, ::self.dilation] = self.weights
        plane = np.arange(1.0, self.h * self.w + 1).reshape(1, 1, self.h, self.w)
        out, _ = kernels.conv_forward(plane, dilated.reshape(1, 1, self.span, self.span), np.array([float(self.bias)]),
                                      stride=self.stride, pad=self.pad)
        return out[0, 0]

    def uncovered(self, axis):
        """Input rows (axis 0) or columns (axis 1), unpadded 0-based, that no filter tap ever touches."""
        size, n_out = (self.h, self.out_shape[0]) if axis == 0 else (self.w, self.out_shape[1])
        touched = {k * self.stride + self.dilation * p - self.pad for k in range(n_out) for p in range(self.f)}
        return [x for x in range(size) if x not in touched]

    # -- texts ---------------------------------------------------------------------------------------------------
    def formula_lines(self):
        """The output-size formula for rows and columns with the current numbers substituted."""
        d, f, p, s = self.dilation, self.f, self.pad, self.stride
        lines = [f"effective filter size f' = d·(f − 1) + 1 = {d}·({f} − 1) + 1 = {self.span}" if d > 1
                 else f"effective filter size f' = f = {f} (dilation 1)"]
        for out, size, name in (("H'", self.h, "H"), ("W'", self.w, "W")):
            top = size - self.span + 2 * p
            head = f"{out} = ⌊({name} − f' + 2P) / S⌋ + 1 = ⌊({size} − {self.span} + 2·{p}) / {s}⌋ + 1"
            if top < 0:
                lines.append(f"{head}: {name} − f' + 2P = {top} < 0, no position fits")
            else:
                exact = "" if top % s == 0 else f" ({top}/{s} = {top / s:.2f}, rounded down)"
                lines.append(f"{head} = ⌊{top}/{s}⌋ + 1 = {top // s + 1}{exact}")
        return lines

    def fit_text(self):
        """Which input rows and columns are never covered, or that every one is."""
        rows, cols = self.uncovered(0), self.uncovered(1)
        if not rows and not cols:
            ph, pw = self.padded_shape
            rounded = (ph - self.span) % self.stride or (pw - self.span) % self.stride
            return ("Every input row and column is covered by some window position"
                    + ("; the rounding down only drops padding." if rounded else "."))
        parts = [f"rows {rows}" if rows else "", f"columns {cols}" if cols else ""]
        return (f"Does not fit nicely: input {' and '.join(x for x in parts if x)} (0-based, without padding) are "
                f"never covered, so they cannot change the output.")

    def dot_product_text(self):
        """The current output value written as the dot product of the window and the filter (plus the bias)."""
        i, j = self.cell
        plane = self.padded_input
        values = [plane[r, c] for r, c in self.taps]
        total = float(np.dot(values, self.weights.ravel()) + self.bias)
        bias = f" + {_term(self.bias)}" if self.bias else ""
        if self.f * self.f > 16:
            terms = f"the sum of {self.f * self.f} products window · filter"
        else:
            terms = " + ".join(f"{_term(v)}·{_term(k)}" for v, k in zip(values, self.weights.ravel()))
        return f"out[{i}, {j}] = {terms}{bias} = {_term(total)}"

    def summary(self):
        """Every text of the explorer, one line each (what the widget shows below the picture)."""
        if self.error:
            return [self.error]
        h_out, w_out = self.out_shape
        return [f"H x W = {self.h} x {self.w}, f = {self.f}, S = {self.stride}, P = {self.pad}, d = {self.dilation}: "
                f"output {h_out} x {w_out}, position {self.position + 1} of {self.count}",
                *self.formula_lines(), self.fit_text(), self.dot_product_text()]

    # -- picture -------------------------------------------------------------------------------------------------
    def figure(self):
        """The padded input with the current window, and the output grid with the current cell lit."""
        ph, pw = self.padded_shape
        shape = self.out_shape or (0, 0)
        columns = pw + max(shape[1], 4)
        cell = min(0.42, 8.0 / columns)   # inches per cell: large inputs get smaller cells, not a larger picture
        fig = new_figure(cell * columns + 1.5, max(2.5, cell * max(ph, shape[0]) + 0.9))
        ax_in, ax_out = fig.subplots(1, 2, width_ratios=[pw, max(shape[1], 4)])
        self._draw_input(ax_in)
        if self.error:
            ax_out.axis("off")
            ax_out.set_title("the filter does not fit", color=_DROPPED_EDGE, fontsize=10)
        else:
            self._draw_output(ax_out)
        fig.tight_layout()
        return fig

    def _draw_input(self, ax):
        ph, pw = self.padded_shape
        plane = self.padded_input
        dropped_rows = set() if self.error else {r + self.pad for r in self.uncovered(0)}
        dropped_cols = set() if self.error else {c + self.pad for c in self.uncovered(1)}
        taps = {} if self.error else dict(zip(self.taps, self.weights.ravel()))
        numbers = max(ph, pw) <= 14
        cells = {False: ([], []), True: ([], [])}   # hatched (never covered) or not: (squares, face colours)
        for r, c in np.ndindex(ph, pw):
            padding = not (self.pad <= r < self.pad + self.h and self.pad <= c < self.pad + self.w)
            dropped = not padding and (r in dropped_rows or c in dropped_cols)
            squares, faces = cells[dropped]
            squares.append(Rectangle((c, r), 1, 1))
            faces.append(_TAP if (r, c) in taps else _PAD if padding else _DROPPED if dropped else "white")
            if numbers:
                ax.text(c + 0.5, r + 0.45, str(plane[r, c]), ha="center", va="center", fontsize=8,
                        color="0.45" if padding else "black")
            if numbers and (r, c) in taps:
                ax.text(c + 0.95, r + 0.95, f"×{taps[(r, c)]}", ha="right", va="bottom", fontsize=6, color=_WINDOW)
        for hatched, (squares, faces) in cells.items():
            ax.add_collection(PatchCollection(squares, facecolors=faces, linewidths=0.6, hatch="///" if hatched else None,
                                              edgecolors=_DROPPED_EDGE if hatched else "0.55"))
        if self.pad:
            ax.add_patch(Rectangle((self.pad, self.pad), self.w, self.h, fill=False, edgecolor="black", linewidth=1.2))
        if not self.error:
            top, left = self.taps[0]
            ax.add_patch(Rectangle((left, top), self.span, self.span, fill=False, edgecolor=_WINDOW, linewidth=2.5))
        title = f"input {self.h} x {self.w}" + (f", padded to {ph} x {pw} (grey zeros)" if self.pad else "")
        self._frame(ax, ph, pw, title)

    def _draw_output(self, ax):
        h_out, w_out = self.out_shape
        out = self.output
        for i in range(h_out):
            for j in range(w_out):
                k = i * w_out + j
                ax.add_patch(Rectangle((j, i), 1, 1, facecolor=_LIT if k == self.position else "white",
                                       edgecolor=_WINDOW if k == self.position else "0.55",
                                       linewidth=2.0 if k == self.position else 0.6))
                if k <= self.position and max(h_out, w_out) <= 10:
                    ax.text(j + 0.5, i + 0.5, _term(out[i, j]), ha="center", va="center", fontsize=7)
        # at least 3 x 3 cells of room, so that a tiny output is not drawn with giant cells
        self._frame(ax, max(h_out, 3), max(w_out, 3), f"output {h_out} x {w_out}, cell {self.cell}")

    @staticmethod
    def _frame(ax, rows, cols, title):
        ax.set_xlim(-0.1, cols + 0.1)
        ax.set_ylim(rows + 0.1, -0.1)   # row 0 on top, like an image
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(title, fontsize=9)


class SlidingFilterExplorer(WindowExplorer):
    """Sliders for H, W, f, stride, padding and dilation, a position control, the picture and the texts.

    ``widget`` is the VBox to display; ``controls`` maps each setting name to its slider; ``state`` is the
    SlidingFilter the sliders change; ``text.value`` is the HTML of the texts.
    """

    LINES = ["status", "dilation", "formula-rows", "formula-cols", "fit", "dot"]

    def __init__(self, h=7, w=7, f=3, stride=1, pad=0, dilation=1, bias=0):
        self.state = SlidingFilter(h, w, f, stride, pad, dilation, bias)
        self.controls = {name: slider(label, getattr(self.state, name), *LIMITS[name], f"sliding-{name}")
                         for name, label in (("h", "input height H"), ("w", "input width W"), ("f", "filter size f"),
                                             ("stride", "stride S"), ("pad", "padding P"), ("dilation", "dilation d"))}
        self.position = PositionControl("sliding")
        self.image = picture("sliding-picture")
        self.text = text("sliding-text")
        for name, control in self.controls.items():
            self.watch(name, control)
        self.watch("position", self.position.slider)
        sliders = list(self.controls.values())
        self.widget = frame([widgets.HBox(sliders[:3]), widgets.HBox(sliders[3:]), self.position.box, self.image,
                             self.text], "sliding-filter")
        self.refresh()


def sliding_filter_explorer(h=7, w=7, f=3, stride=1, pad=0, dilation=1, bias=0):
    """The sliding-filter explorer widget, starting from the given settings.

    Args:
        h, w: input height and width (1..12; they may differ).
        f: filter size (1..7, square filter); stride: 1..5; pad: zeros on each side, 0..3; dilation: 1..3.
        bias: added to every output value (0 by default).

    Returns:
        An ipywidgets VBox (CSS class ``convnets-sliding-filter``) to display.
    """
    return SlidingFilterExplorer(h, w, f, stride, pad, dilation, bias).widget
