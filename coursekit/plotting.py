"""Interactive figures for the notebooks: a figure redrawn by sliders, one output, no races.

``ipywidgets.interactive(f, ...)`` with an ``f`` that draws through pyplot has two problems in
these notebooks:

* **A leaked twin.** ``interactive`` shows what ``f`` displays inside its ``Output`` widget;
  when ``f`` returns the figure instead, pyplot still holds it, and the inline backend shows
  it a second time below the widget at the end of the cell.
* **A display race under the standard executors.** Whatever ``f`` shows inside an ``Output``
  widget, ``nbclient`` (behind ``jupyter nbconvert --execute``, papermill, nbval and
  jupyter-book) mirrors by sending the widget's new state back to the kernel on the *shell*
  channel while it is still waiting on that channel for the cell's reply: the pattern of
  jupyter/nbclient#312 and jupyter/nbconvert#2029, where the run occasionally waits forever.

:func:`interactive_figure` avoids both: the figure is rendered to PNG bytes and closed (pyplot
keeps nothing), and it is shown by an ``ipywidgets.Image`` whose value the controls replace.
No ``Output`` widget is involved, so an executor never writes to the kernel during the cell.
The one output carries a static ``image/png`` of the first drawing next to the widget view,
for readers without a kernel (HTML pages, GitHub).
"""

from __future__ import annotations

import base64
import html
import inspect
import io
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

__all__ = ["InteractiveFigure", "figure_png", "interactive_figure"]


def figure_png(fig: Figure, *, dpi: float | None = None) -> bytes:
    """The PNG bytes of ``fig`` (tight bounding box, as the inline backend draws it).

    Example:
        >>> fig, ax = plt.subplots(figsize=(2, 1))
        >>> figure_png(fig)[:4]
        b'\\x89PNG'
        >>> plt.close(fig)
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi if dpi is not None else fig.dpi, bbox_inches="tight")
    return buf.getvalue()


def _widgets():
    import ipywidgets  # late import: the library works without a notebook

    return ipywidgets


class InteractiveFigure:
    """Controls and an image of ``draw(**values)``, redrawn when a control changes.

    Built by :func:`interactive_figure`; displayed as one ``VBox`` (controls, image, message).

    Attributes:
        draw: the drawing function.
        controls: name -> value widget.
        image: the ``ipywidgets.Image`` showing the current figure.
        message: an ``ipywidgets.HTML`` with the last error (``ValueError``) of ``draw``.
        widget: the ``VBox`` holding them.
        png: the PNG bytes of the current figure.
    """

    def __init__(self, draw: Callable[..., Figure], controls: dict[str, Any], dpi: float | None):
        w = _widgets()
        self.draw, self.controls, self.dpi = draw, controls, dpi
        self.image = w.Image(format="png")
        self.message = w.HTML()
        self.png = b""
        self.widget = w.VBox([*controls.values(), self.image, self.message])
        self.redraw()
        for control in controls.values():
            control.observe(lambda _change: self.redraw(), names="value")

    @property
    def values(self) -> dict[str, Any]:
        """The controls' current values, as keyword arguments of ``draw``."""
        return {name: control.value for name, control in self.controls.items()}

    def redraw(self) -> None:
        """Call ``draw`` with the current values and show its figure (or its ``ValueError``)."""
        figures_before = set(plt.get_fignums())
        try:
            fig = self.draw(**self.values)
            if not isinstance(fig, Figure):
                raise TypeError(f"draw must return a matplotlib Figure, got {type(fig).__name__}")
            self.png = figure_png(fig, dpi=self.dpi)
        except ValueError as err:  # a combination of values the drawing refuses: say why
            self.message.value = f"<pre>{html.escape(str(err))}</pre>"
            return
        finally:  # whatever draw opened leaves pyplot: no twin at the end of the cell
            for num in set(plt.get_fignums()) - figures_before:
                plt.close(num)
        self.image.value = self.png
        self.message.value = ""

    def _repr_mimebundle_(self, **kwargs) -> dict[str, Any]:
        bundle = self.widget._repr_mimebundle_(**kwargs) or {}
        bundle["image/png"] = base64.b64encode(self.png).decode("ascii")  # static fallback
        names = ", ".join(self.controls)
        bundle["text/plain"] = f"interactive figure of {getattr(self.draw, '__name__', 'draw')}({names})"
        return bundle


def interactive_figure(draw: Callable[..., Figure], /, *, dpi: float | None = None,
                       **controls: Any) -> InteractiveFigure:
    """A figure with controls: ``draw(**values)`` redrawn whenever a control changes.

    Make it the last expression of a notebook cell. The controls follow ``ipywidgets.interact``'s
    abbreviations: ``(min, max)`` or ``(min, max, step)`` gives a slider, a list or dict a
    dropdown, a bool a checkbox, or pass any value widget. Each starts at ``draw``'s default for
    that argument when it has one.

    Args:
        draw: returns a new matplotlib ``Figure`` for the given keyword values (it must not call
            ``plt.show()``); a ``ValueError`` it raises is shown under the controls, keeping the
            last figure.
        dpi: resolution of the image (default: the figure's own).
        **controls: one abbreviation or widget per keyword argument of ``draw``.

    Returns:
        An :class:`InteractiveFigure`, displayed as the controls over the figure (and a static
        PNG for readers without a kernel).

    Raises:
        ValueError: a control for an argument ``draw`` does not take, or one that cannot be
            turned into a widget.

    Example:
        >>> def draw(freq=2.0):
        ...     fig, ax = plt.subplots(figsize=(3, 2))
        ...     ax.plot([0, 1], [0, freq])
        ...     return fig
        >>> view = interactive_figure(draw, freq=(1.0, 5.0))
        >>> view.values, view.png[:4], plt.get_fignums()
        ({'freq': 2.0}, b'\\x89PNG', [])
        >>> view.controls["freq"].value = 4.0     # what moving the slider does
        >>> view.png == figure_png(draw(4.0)); plt.close("all")
        True
    """
    w = _widgets()
    try:
        params = inspect.signature(draw).parameters
    except (TypeError, ValueError):
        params = {}
    unknown = [n for n in controls if params and n not in params
               and not any(p.kind is p.VAR_KEYWORD for p in params.values())]
    if unknown:
        raise ValueError(f"{getattr(draw, '__name__', 'draw')} takes no argument(s) {unknown}; "
                         f"it takes {list(params)}")
    widgets = {}
    for name, abbrev in controls.items():
        default = params[name].default if name in params else inspect.Parameter.empty
        widget = w.interactive.widget_from_abbrev(abbrev, default)
        if widget is None or not hasattr(widget, "value"):
            raise ValueError(f"cannot make a control for {name}={abbrev!r}")
        if not getattr(widget, "description", ""):
            widget.description = name
        widgets[name] = widget
    return InteractiveFigure(draw, widgets, dpi)
