"""What the three explorers share: checked integer arguments, a figure rendered to PNG, the widget frame.

Pictures are drawn on a plain ``matplotlib.figure.Figure`` (never pyplot), rendered to PNG bytes and shown in an
``ipywidgets.Image``: nothing depends on the notebook's matplotlib backend, and the same code runs in JupyterLab,
under nbclient and in unit tests without a kernel.
"""
import html
import io
import numbers

import ipywidgets as widgets
from matplotlib.figure import Figure

DPI = 80


def require_int(name, value, minimum, maximum=None):
    """Returns ``value`` as an int after checking it is an integer in [minimum, maximum].

    Raises:
        TypeError: if value is not an integer (a bool or a float such as 3.0 is rejected).
        ValueError: if value < minimum or value > maximum, naming the argument.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ValueError(f"{name} must be {bounds}, got {value}")
    return int(value)


def new_figure(width, height):
    """A Figure of width x height inches that belongs to no pyplot state (it is never shown by itself)."""
    return Figure(figsize=(width, height), dpi=DPI)


def png_bytes(fig):
    """The figure rendered to PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def slider(description, value, low, high, css):
    """An IntSlider that follows the keyboard (arrow keys) and carries the CSS class ``convnets-<css>``."""
    control = widgets.IntSlider(value=value, min=low, max=high, description=description, continuous_update=False,
                                style={"description_width": "initial"}, layout=widgets.Layout(width="250px"))
    control.add_class(f"convnets-{css}")
    return control


class PositionControl:
    """The position of a sliding window: an IntSlider, a Play button linked to it in the browser, one-step buttons.

    ``box`` is what to display; ``slider.value`` is the position; ``set_count(n)`` allows positions 0..n-1.
    """

    def __init__(self, css):
        self.slider = slider("position", 0, 0, 0, f"{css}-position")
        self.play = widgets.Play(value=0, min=0, max=0, interval=700, description="play")
        self.play.add_class(f"convnets-{css}-play")
        widgets.jslink((self.play, "value"), (self.slider, "value"))
        back = widgets.Button(description="\u25c0", tooltip="one step back", layout=widgets.Layout(width="40px"))
        forward = widgets.Button(description="\u25b6", tooltip="one step forward", layout=widgets.Layout(width="40px"))
        back.add_class(f"convnets-{css}-back")
        forward.add_class(f"convnets-{css}-forward")
        back.on_click(lambda _: self.step(-1))
        forward.on_click(lambda _: self.step(+1))
        self.box = widgets.HBox([self.play, back, forward, self.slider])

    def step(self, delta):
        """Moves the position by delta, staying within 0..count-1."""
        self.slider.value = min(self.slider.max, max(0, self.slider.value + delta))

    def set_count(self, n):
        """Allows positions 0..n-1 (n >= 1); a position past the end moves to the last one."""
        last = max(n, 1) - 1
        self.slider.value = min(self.slider.value, last)
        self.slider.max = self.play.max = last


def picture(css):
    """An empty PNG Image widget with the CSS class ``convnets-<css>``."""
    image = widgets.Image(format="png")
    image.add_class(f"convnets-{css}")
    return image


def text(css):
    """An empty HTML widget with the CSS class ``convnets-<css>``."""
    html = widgets.HTML()
    html.add_class(f"convnets-{css}")
    return html


def frame(children, css):
    """A VBox of the children with the CSS class ``convnets-<css>``: an explorer's top-level widget."""
    box = widgets.VBox(children)
    box.add_class(f"convnets-{css}")
    return box


def lines_html(lines):
    """HTML for (css, line) pairs: one monospace div per line, with the CSS class ``convnets-<css>``."""
    return "".join(f'<div class="convnets-{css}" style="font-family: monospace; white-space: pre-wrap">'
                   f'{html.escape(line)}</div>' for css, line in lines)


class WindowExplorer:
    """What the sliding-window explorers share: keeping the position control, the picture and the text in line
    with ``self.state`` (an object with set(**values), count, position, error, summary() and figure()).

    Subclasses set ``state``, ``position`` (a PositionControl), ``image``, ``text`` and call ``watch`` on each
    control; ``LINES`` names the CSS classes (``convnets-<name>``) of the summary's lines.
    """

    LINES = ()

    def watch(self, name, control):
        """Makes a change of control's value set the state's ``name`` and refresh the explorer."""
        control.observe(lambda change: self._changed(name, change["new"]), names="value")

    def _changed(self, name, value):
        if getattr(self, "_busy", False):
            return
        self.state.set(**{name: value})
        self.refresh()

    def refresh(self):
        """Brings the position control, the picture and the texts in line with the state."""
        self._busy = True
        try:
            self.position.set_count(self.state.count)
            self.position.slider.value = self.state.position
        finally:
            self._busy = False
        self.image.value = png_bytes(self.state.figure())
        css = ["error"] if self.state.error else self.LINES
        self.text.value = lines_html(zip(css, self.state.summary()))
