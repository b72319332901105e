"""The architecture explorer (notebook 04): the layer table of a classic network, with memory and parameter bars.

``ArchitectureTable`` is the plain-Python state: which network, log or linear bars, and the rows that
``helpers.architectures.layer_table`` computes (name, kind, output shape, activations, params, multiply-adds).
``ArchitectureExplorer`` puts a menu on it; ``architecture_explorer()`` returns the widget to display.
"""
import html

import ipywidgets as widgets

from ..plots import plot_layer_bars
from ._common import frame, lines_html, new_figure, picture, png_bytes, text

__all__ = ["ArchitectureTable", "ArchitectureExplorer", "architecture_explorer"]

BYTES_PER_VALUE = 4   # float32, what networks are trained in
_COLUMNS = ("layer", "kind", "output shape", "activations", "params", "multiply-adds")


def _mib(count):
    return f"{count * BYTES_PER_VALUE / 2**20:,.1f} MiB"


def _shape(shape):
    return " x ".join(str(n) for n in shape)


class ArchitectureTable:
    """One network of ``module.ARCHITECTURES`` as a layer table.

    Args:
        name: a key of module.ARCHITECTURES ("VGG-16", ...); None for the first one.
        log: True for logarithmic bar charts.
        module: what provides ARCHITECTURES, layer_table(name) and totals(rows); helpers.architectures when None.
    """

    def __init__(self, name=None, log=True, module=None):
        if module is None:
            from .. import architectures as module
        self.module = module
        self.names = list(module.ARCHITECTURES)
        self.name = self.log = None
        self.set(name=self.names[0] if name is None else name, log=log)

    def set(self, **values):
        """Changes name and/or log (ValueError for a name that module.ARCHITECTURES does not have)."""
        for key, value in values.items():
            if key == "name":
                if value not in self.names:
                    raise ValueError(f"name must be one of {', '.join(self.names)}, got {value!r}")
                self.name = value
            elif key == "log":
                self.log = bool(value)
            else:
                raise TypeError(f"unknown setting {key!r}; expected name or log")
        self.rows = self.module.layer_table(self.name)
        self.totals = self.module.totals(self.rows)

    def summary(self):
        """The totals in one sentence (counts, and memory in float32 for one image)."""
        t = self.totals
        return (f"{self.name}: {len(self.rows)} rows, {t['params']:,} parameters ({_mib(t['params'])} in float32), "
                f"{t['activations']:,} activation values per image ({_mib(t['activations'])} in float32), "
                f"{t['macs']:,} multiply-adds per image")

    def table_html(self):
        """The layer table as an HTML table, with a totals row."""
        head = "".join(f"<th>{c}</th>" for c in _COLUMNS)
        body = "".join(
            f"<tr><td>{html.escape(r.name)}</td><td>{html.escape(r.kind)}</td><td>{_shape(r.output_shape)}</td>"
            f"<td>{r.activations:,}</td><td>{r.params:,}</td><td>{r.macs:,}</td></tr>" for r in self.rows)
        t = self.totals
        total = (f"<tr style='font-weight: bold'><td>total</td><td></td><td></td><td>{t['activations']:,}</td>"
                 f"<td>{t['params']:,}</td><td>{t['macs']:,}</td></tr>")
        return (f"<style>.convnets-architecture-rows td, .convnets-architecture-rows th {{padding: 1px 10px}}</style>"
                f"<table class='convnets-architecture-rows' style='font-family: monospace; text-align: right'>"
                f"<thead><tr>{head}</tr></thead><tbody>{body}{total}</tbody></table>")

    def figure(self):
        """Bar charts of activations and parameters per layer (helpers.plots.plot_layer_bars)."""
        fig = new_figure(11.0, 0.24 * len(self.rows) + 1.4)
        plot_layer_bars([r.name for r in self.rows], [r.activations for r in self.rows],
                        [r.params for r in self.rows], ax=fig.subplots(1, 2, sharey=True), log=self.log)
        return fig


class ArchitectureExplorer:
    """A network menu and a log-scale checkbox over an ArchitectureTable; the bar charts and the layer table.

    ``widget`` is the VBox to display; ``controls`` maps "name" and "log" to their widgets; ``state`` is the
    ArchitectureTable; ``text.value`` is the summary and ``table.value`` the layer table, both HTML.
    """

    def __init__(self, name=None, log=True, module=None):
        self.state = ArchitectureTable(name, log, module)
        self.controls = {"name": widgets.Dropdown(options=self.state.names, value=self.state.name,
                                                  description="network"),
                         "log": widgets.Checkbox(value=self.state.log, description="log scale")}
        self.controls["name"].add_class("convnets-architecture-name")
        self.controls["log"].add_class("convnets-architecture-log")
        self.image = picture("architecture-picture")
        self.text = text("architecture-text")
        self.table = text("architecture-table")
        self.table.layout = widgets.Layout(max_height="420px", overflow="auto")
        for key, control in self.controls.items():
            control.observe(lambda change, key=key: self._changed(key, change["new"]), names="value")
        self.widget = frame([widgets.HBox(list(self.controls.values())), self.text, self.image, self.table],
                            "architecture")
        self.refresh()

    def _changed(self, key, value):
        self.state.set(**{key: value})
        self.refresh()

    def refresh(self):
        """Brings the picture and the texts in line with the state."""
        self.image.value = png_bytes(self.state.figure())
        self.text.value = lines_html([("summary", self.state.summary())])
        self.table.value = self.state.table_html()


def architecture_explorer(name=None, log=True):
    """The architecture explorer widget.

    Args:
        name: the network to show first, a key of helpers.architectures.ARCHITECTURES ("LeNet-5", "AlexNet",
            "VGG-16", "GoogLeNet", "ResNet-18", ...); None for the first one.
        log: True for logarithmic bar charts (the counts span several powers of ten).

    Returns:
        An ipywidgets VBox (CSS class ``convnets-architecture``) to display.
    """
    return ArchitectureExplorer(name, log).widget
