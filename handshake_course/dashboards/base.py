"""Shared machinery of the dashboards.

A dashboard is a handful of ipywidgets controls, one matplotlib figure and an event inspector,
wired so that a control change re-simulates and redraws **in place**:

* The figure is a plain ``matplotlib.figure.Figure`` on an Agg canvas (no pyplot), created once,
  so it is never auto-shown and never leaks. Each update clears and redraws its axes, draws the
  canvas once and sends the pixels as PNG to an ``ipywidgets.Image``: the picture changes without
  flicker, in plain JupyterLab, with no ipympl. An axes that does not change with the controls is
  drawn once and its pixels reused (``draw_once``, ``frames``); an unchanged picture is not encoded
  again.
* Simulations are remembered per scenario (``memo``): a control moved back to an earlier value
  redraws without simulating. An update whose simulations take seconds shows a progress bar
  (``progress``).
* Everything runs kernel-side: tests and notebook cells drive ``app.controls[...]`` and read
  ``app.result``; no browser is needed.
* A bad combination (a sysctl the chosen version lacks, a value out of range) becomes a friendly
  message above the figure, never a traceback. The last good figure stays.
* Where no widget front end runs (GitHub, nbviewer, nbval), the dashboard's output still carries a
  PNG of its current figure (see ``DashboardBox``).
"""

from __future__ import annotations

import base64
import html
import re
import time
from collections.abc import Callable, Collection, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import ipywidgets as W
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.transforms import Bbox

from ..model import SETTINGS, VERSIONS, Kernel, Result, Scenario, TraceEvent
from ..model.result import trace_fields
from ..views.style import column
from . import memo
from .frames import FrameRenderer, place
from .links import linked_path
from .progress import UpdateProgress

DESCRIPTION_WIDTH = "300px"
CONTROL_WIDTH = "600px"
EDGE_PAD = 0.15  # inches around each axes: room for an x tick label centred on the axis's end, which
#                 constrained layout does not make room for
DPI = 80


# ---- controls ------------------------------------------------------------------------------------

def _style() -> dict[str, str]:
    return {"description_width": DESCRIPTION_WIDTH}


def _layout() -> W.Layout:
    return W.Layout(width=CONTROL_WIDTH)


def int_slider(label: str, value: int, lo: int, hi: int, step: int = 1) -> W.IntSlider:
    """An integer slider that fires only on release (continuous_update=False)."""
    return W.IntSlider(value=value, min=lo, max=hi, step=step, description=label,
                       continuous_update=False, style=_style(), layout=_layout())


def float_slider(label: str, value: float, lo: float, hi: float, step: float,
                 fmt: str = ".2f") -> W.FloatSlider:
    """A float slider that fires only on release."""
    return W.FloatSlider(value=value, min=lo, max=hi, step=step, description=label, readout_format=fmt,
                         continuous_update=False, style=_style(), layout=_layout())


def log_slider(label: str, value: float, lo: float, hi: float, fmt: str = ",.0f") -> W.FloatLogSlider:
    """A logarithmic slider (value from lo to hi, both > 0) that fires only on release."""
    import math

    return W.FloatLogSlider(value=value, base=10, min=math.log10(lo), max=math.log10(hi), step=0.05,
                            description=label, readout_format=fmt, continuous_update=False,
                            style=_style(), layout=_layout())


def int_text(label: str, value: int) -> W.IntText:
    """A free integer box: any value can be typed, the model says whether it is valid."""
    return W.IntText(value=value, description=label, continuous_update=False, style=_style(), layout=_layout())


def dropdown(label: str, options: Sequence[Any], value: Any) -> W.Dropdown:
    return W.Dropdown(options=options, value=value, description=label, style=_style(), layout=_layout())


def toggle(label: str, options: Sequence[Any], value: Any) -> W.ToggleButtons:
    """Buttons as wide as their labels (the default width cuts longer labels off)."""
    return W.ToggleButtons(options=options, value=value, description=label,
                           style={**_style(), "button_width": "auto"})


def checkbox(label: str, value: bool) -> W.Checkbox:
    return W.Checkbox(value=value, description=label, indent=False, layout=W.Layout(width=CONTROL_WIDTH))


def version_dropdown(value: str = "6.18") -> W.Dropdown:
    """The kernel version; choosing one loads that version's defaults into the other controls."""
    return dropdown("kernel version (loads its defaults)", [(f"Linux {v}", v) for v in VERSIONS], value)


TIMERS = [("kernel (on ticks, late)", "kernel"), ("textbook (exactly on time)", "textbook")]


def timers_toggle(value: str = "kernel") -> W.ToggleButtons:
    """Kernel timers (the version's timer wheel: they fire on ticks, a few ms to a few percent
    late, and timers armed close together fire together) or textbook timers (exactly on time)."""
    return toggle("timers", TIMERS, value)


def default_of(setting: str, version: str) -> Any:
    """The default of a sysctl or switch on a version, or None if the version lacks it."""
    return SETTINGS[setting].defaults.get(version)


def kernel_from(version: str, timers: str = "kernel", **settings: Any) -> Kernel:
    """A Kernel with the given settings, leaving out the sysctls this version does not have and
    the values equal to the version's default (so the Kernel's repr stays short); ``timers`` is
    the value of a ``timers_toggle`` ("textbook" sets timer_wheel="off")."""
    if timers == "textbook":
        settings["timer_wheel"] = "off"
    keep = {name: value for name, value in settings.items()
            if version in SETTINGS[name].defaults and value != SETTINGS[name].defaults[version]}
    return Kernel(version, **keep)


# ---- the static fallback ------------------------------------------------------------------------

class DashboardBox(W.VBox):
    """A VBox whose notebook output also carries a PNG of the dashboard's figure and a text summary.

    A front end with the widget manager (JupyterLab, Notebook 7, VS Code) ranks the widget view
    first and shows the live dashboard; a renderer without it (GitHub, nbviewer, nbconvert without
    widget state) falls back to the picture, so an executed notebook still shows its figures.
    """

    def __init__(self, children: Sequence[W.Widget], app: Dashboard) -> None:
        super().__init__(children=list(children))
        self._app = app

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data = super()._repr_mimebundle_(**kwargs)
        png = self._app.png
        if png:
            data["image/png"] = base64.b64encode(png).decode("ascii")
        data["text/plain"] = self._app.text_summary()
        return data


# ---- the event inspector --------------------------------------------------------------------------

def _event_label(ev: TraceEvent) -> str:
    who = "server" if ev.host == "server" else "client"
    if ev.client is not None:
        who += f" / conn {ev.client}"
    elif ev.action.startswith("syn") and ev.host == "server":
        who += " / spoofed"
    return f"{ev.time:9.4f} s  {who:<22} {ev.action}"


class EventInspector:
    """A dropdown over the kernel events of a result; the selected one is shown with its function
    path (each function linked to its source for the chosen version), the counters it bumped and the
    queue lengths after it."""

    def __init__(self, describe: Callable[[TraceEvent], str] | None = None, limit: int = 400) -> None:
        self.limit = limit
        self.describe = describe
        self.selector = W.Dropdown(options=[("(no events)", -1)], value=-1, description="kernel event",
                                   style={"description_width": "90px"},
                                   layout=W.Layout(width="760px"))
        self.html = W.HTML()
        self.widget = W.VBox([self.selector, self.html])
        self.result: Result | None = None
        self.selector.observe(self._on_select, names="value")

    def events(self, result: Result, keep: Callable[[TraceEvent], bool] | None, clients: int | None = None,
               actions: Collection[str] | None = None) -> Iterator[tuple[int, TraceEvent]]:
        """(index, event) of the events to list: those of real clients (with ``clients``, only
        those numbered below it) and the listener, of the ``actions`` if given; a flood's spoofed
        SYNs only up to a few, so that the list stays usable."""
        trace = result.trace
        # the raw columns, decoded all at once: events left out cost no objects
        client, action = trace_fields(column(trace.info))
        listed = np.ones(len(trace), dtype=bool)
        listed[np.flatnonzero(client < 0)[20:]] = False  # no client: the listener, or a spoofed SYN
        if clients is not None:
            listed &= client < clients
        if actions is not None:
            listed &= np.isin(action, [i for i, a in enumerate(trace.actions) if a.name in actions])
        for i in np.flatnonzero(listed).tolist():
            ev = trace[i]
            if keep is None or keep(ev):
                yield i, ev

    def show(self, result: Result, keep: Callable[[TraceEvent], bool] | None = None,
             select: int | None = None, clients: int | None = None,
             actions: Collection[str] | None = None) -> None:
        """List the events of `result` (those ``keep`` keeps; only those of the clients numbered
        below ``clients`` and of no client, and of the ``actions``, if given); select the event at
        index `select` or keep the position."""
        old_pos = self._position()
        self.result = result
        options: list[tuple[str, int]] = []
        for i, ev in self.events(result, keep, clients, actions):
            options.append((_event_label(ev), i))
            if len(options) >= self.limit:
                break
        if not options:
            options = [("(no events)", -1)]
        values = [v for _, v in options]
        if select is None or select not in values:
            select = values[min(old_pos, len(values) - 1)]
        self.selector.unobserve(self._on_select, names="value")
        try:
            self.selector.options = options
            self.selector.value = select
        finally:
            self.selector.observe(self._on_select, names="value")
        self.render()

    def _position(self) -> int:
        values = [v for _, v in self.selector.options]
        return values.index(self.selector.value) if self.selector.value in values else 0

    def _on_select(self, _: Any) -> None:
        self.render()

    @property
    def event(self) -> TraceEvent | None:
        """The selected kernel event."""
        if self.result is None or self.selector.value is None or self.selector.value < 0:
            return None
        return self.result.trace[self.selector.value]

    def render(self) -> None:
        self.html.value = event_html(self.event, self.result, self.describe)


def event_html(ev: TraceEvent | None, result: Result | None,
               describe: Callable[[TraceEvent], str] | None = None) -> str:
    """The kernel trace behind one event, as HTML: ``views.describe_event`` (what happened, the
    function path, the counters bumped, the queues after it) and the path again as source links."""
    if ev is None or result is None:
        return "<i>No kernel event to show.</i>"
    if describe is not None:
        text = describe(ev)
    else:
        from .. import views

        text = views.describe_event(ev, result)
    version = result.kernel.version
    return (
        f"<pre style='font-size:12px;line-height:1.35;margin:2px 0'>{html.escape(text)}</pre>"
        f"<div style='font-size:12px'>Source of each function on Linux {version}: "
        f"{linked_path(version, ev.path)}</div>"
    )


# ---- the dashboard ---------------------------------------------------------------------------------

def message_html(text: str, kind: str = "error") -> str:
    colour = {"error": "#b00020", "note": "#555"}[kind]
    icon = "&#9888; " if kind == "error" else ""
    return f"<div style='color:{colour};font-size:13px;margin:2px 0'>{icon}{html.escape(text)}</div>"


class Dashboard:
    """Base class: subclasses make their controls, axes, and implement ``compute`` and ``draw``.

    Attributes a notebook or a test uses:

    * ``widget`` -- what to display;
    * ``controls`` -- name -> ipywidgets control; set ``.value`` to drive the dashboard;
    * ``result`` -- the current Result (``results`` when several are simulated);
    * ``error`` -- the message shown for a bad combination, or None;
    * ``update()`` -- re-simulate and redraw (control changes call it);
    * ``fig`` / ``axes`` -- the matplotlib figure and its axes; ``png`` -- its last rendering.

    Subclasses simulate with ``self.simulate(scenario)`` or ``self.simulate_all({label: scenario})``
    (remembered per scenario, with the progress bar), and draw an axes that changes with few
    controls through ``self.draw_once``.
    """

    title = ""
    intro = ""
    figsize: tuple[float, float] = (9.5, 4.0)
    version_settings: tuple[str, ...] = ()  # controls named after settings, reset when the version changes
    inspected_clients: int | None = None
    """The inspector lists events of the clients numbered below this (and of no client) only:
    checked on the raw trace before ``keep_event``, so a run of thousands of clients costs no event
    objects for the clients it leaves out. None: every client."""
    inspected_actions: tuple[str, ...] | None = None
    """Likewise, the only actions the inspector lists (None: every action)."""
    steady_axes: tuple[int, ...] = ()
    """Axes (indices) that keep the left and right edges the first layout gave them, whatever the
    other axes' tick labels and legends do later: an axes drawn with ``draw_once`` stays in place,
    so it need not be drawn again when a slider changes the axes above it."""

    def __init__(self, controls: dict[str, W.ValueWidget], describe: Callable[[TraceEvent], str] | None = None,
                 inspector: bool = True) -> None:
        self.controls = controls
        self.result: Result | None = None
        self.error: str | None = None
        self.png = b""
        self.update_seconds = 0.0  # wall time of the last update()
        self.update_cpu_seconds = 0.0  # CPU time of the last update()
        self._batch_depth = 0
        self.fig = Figure(figsize=self.figsize, dpi=DPI)
        self.canvas = FigureCanvasAgg(self.fig)
        self._layout = ConstrainedLayoutEngine(w_pad=EDGE_PAD)
        self._layout_key: tuple[Any, ...] | None = None
        self._layouts: dict[tuple[Any, ...], list[Any]] = {}  # layout key -> axes positions
        self._layouts_by_size: dict[tuple[float, float], dict[tuple[Any, ...], list[Any]]] = {}  # see resize
        self._steady_edges: dict[int, tuple[float, float]] = {}  # steady axes -> its left and right edges
        self.timings: dict[str, float] = {}  # seconds spent in the parts of the last update
        self._t_draw = 0.0
        self.frames = FrameRenderer(self.canvas)
        self._drawn_with: dict[Axes, Hashable] = {}  # axes drawn by draw_once -> what it was drawn from
        self._still: set[Axes] = set()  # axes draw_once left as they were, this frame
        self.axes: list[Axes] = self.make_axes(self.fig)
        self.message = W.HTML()
        self.progress = UpdateProgress()
        self.summary = W.HTML()
        self.image = W.Image(format="png", layout=W.Layout(max_width="100%"))
        self.inspector = EventInspector(describe) if inspector else None
        for name, control in controls.items():
            control.observe(self._on_version if name == "version" else self._on_change, names="value")
        header = W.HTML(f"<h4 style='margin:4px 0'>{html.escape(self.title)}</h4>"
                        f"<div style='font-size:13px;color:#444'>{self.intro}</div>")
        controls_box = W.VBox(list(controls.values()))
        parts: list[W.Widget] = [header, controls_box, self.message, self.progress.widget, self.image,
                                 self.summary]
        if self.inspector is not None:
            parts.append(self.inspector.widget)
        self.widget = DashboardBox(parts, self)
        self.sync_controls()
        self.update()

    # -- to implement ----------------------------------------------------------------------------
    def make_axes(self, fig: Figure) -> list[Axes]:
        """Create the axes once."""
        return [fig.add_subplot(1, 1, 1)]

    def compute(self) -> None:
        """Simulate from the control values; set ``self.result``. Raise ValueError for bad input."""
        raise NotImplementedError

    def draw(self) -> None:
        """Redraw every axis from the current result(s)."""
        raise NotImplementedError

    def summary_html(self) -> str:
        """A few lines under the figure."""
        return ""

    def keep_event(self, ev: TraceEvent) -> bool:
        """Which kernel events the inspector lists."""
        return True

    def sync_controls(self) -> None:
        """Enable or disable controls that depend on others (e.g. a sysctl the version lacks)."""

    # -- for subclasses ------------------------------------------------------------------------------
    def simulate(self, scenario: Scenario) -> Result:
        """The result of ``scenario``: remembered from an earlier update, or simulated now (with the
        progress bar if that takes long)."""
        return self.simulate_all({"": scenario})[""]

    def simulate_all(self, scenarios: Mapping[str, Scenario]) -> dict[str, Result]:
        """The results of several scenarios (label -> scenario), one progress bar over them all; those
        not remembered run side by side in worker processes (``workers``)."""
        return dict(zip(scenarios, memo.simulated_all(list(scenarios.values()), self.progress.callback), strict=True))

    def draw_once(self, ax: Axes, key: Hashable, paint: Callable[[], object]) -> None:
        """Draw ``ax`` with ``paint()`` only when ``key`` (everything its picture depends on) or the
        axes' place in the figure changed since it was last drawn; otherwise leave its artists as they
        are, and the frame reuses its pixels instead of rendering them again (``frames``)."""
        drawn_with = (key, place(ax))
        if self._drawn_with.get(ax) == drawn_with:
            self._still.add(ax)
            return
        paint()
        self._drawn_with[ax] = drawn_with

    def resize(self, width: float, height: float) -> None:
        """Give the figure a new size in inches, for a picture that grows with what it shows (lesson
        12: one lane per captured attempt). Layouts are kept per size (a size must always go with the
        same arrangement of axes), so going back to an earlier size lays nothing out again."""
        old = (float(self.fig.get_size_inches()[0]), float(self.fig.get_size_inches()[1]))
        if old == (width, height):
            return
        self._layouts_by_size[old] = self._layouts
        self.fig.set_size_inches(width, height)
        self._layouts = self._layouts_by_size.get((width, height), {})
        self._layout_key = None
        self._steady_edges.clear()
        self.frames.forget()

    # -- machinery ---------------------------------------------------------------------------------
    def value(self, name: str) -> Any:
        return self.controls[name].value

    @property
    def version(self) -> str:
        return str(self.value("version")) if "version" in self.controls else "6.18"

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Change several controls and update once, at the end."""
        self._batch_depth += 1
        try:
            yield
        finally:
            self._batch_depth -= 1
        if self._batch_depth == 0:
            self.update()

    @contextmanager
    def batch_silently(self) -> Iterator[None]:
        """Change controls from inside an update (``sync_controls``) without starting another."""
        self._batch_depth += 1
        try:
            yield
        finally:
            self._batch_depth -= 1

    def _on_change(self, _: Any) -> None:
        if self._batch_depth == 0:
            self.update()

    def _on_version(self, change: dict[str, Any]) -> None:
        """Load the new version's defaults into the controls named after its settings, then update
        once."""
        with self.batch():
            for name in self.version_settings:
                default = default_of(name, change["new"])
                if default is not None and name in self.controls:
                    self.controls[name].value = default

    def update(self, *_: Any) -> None:
        """Re-simulate and redraw; a bad combination shows a message and keeps the last figure."""
        start, cpu = time.perf_counter(), time.process_time()
        self.sync_controls()
        try:
            t = time.perf_counter()
            self.progress.start()
            try:
                self.compute()
            finally:
                self.progress.finish()
            self.timings["simulate"] = time.perf_counter() - t
        except (ValueError, TypeError, OverflowError) as err:
            self.error = str(err)
            self.message.value = message_html(
                f"{err}. The figure still shows the last valid setting.")
            self.update_seconds = time.perf_counter() - start
            self.update_cpu_seconds = time.process_time() - cpu
            return
        try:
            self.redraw()
            t = time.perf_counter()
            self.summary.value = self.summary_html()
            if self.inspector is not None and self.result is not None:
                self.inspector.show(self.result, self.keep_event, clients=self.inspected_clients,
                                    actions=self.inspected_actions)
            self.timings["summary"] = time.perf_counter() - t
        except Exception as err:  # a bug, not a bad setting: still no traceback in the dashboard
            self.error = f"could not draw this result ({type(err).__name__}: {err})"
            self.message.value = message_html(self.error)
        else:
            self.error = None
            self.message.value = self.note()
        self.update_seconds = time.perf_counter() - start
        self.update_cpu_seconds = time.process_time() - cpu  # this process only: robust to a busy machine

    def note(self) -> str:
        """A remark shown where errors go, e.g. about a setting the version treats differently."""
        return ""

    def redraw(self) -> None:
        """Draw the figure and send it to the Image widget as PNG."""
        self._t_draw = time.perf_counter()
        self._still = set()
        self.draw()  # each plot empties its own axes (views do it lightly, keeping tick objects)
        key = layout_key(self.axes)
        reused = False
        t = time.perf_counter()
        if key != self._layout_key:  # constrained layout costs a third of a frame: only when sizes change
            if key in self._layouts:
                for ax, position in zip(self.axes, self._layouts[key], strict=True):
                    ax.set_position(position)
                    ax.set_in_layout(True)  # set_position takes an axes out of the layout otherwise
                reused = True
            else:
                self._lay_out(key)
            self._layout_key = key
        self.timings["layout"] = time.perf_counter() - t
        self.timings["draw"] = time.perf_counter() - self._t_draw
        t = time.perf_counter()
        self.png = self.frames.render(self._still, self._drawn_with)
        if reused and overflows(self.fig):  # the key said "same layout", the texts say otherwise
            self._lay_out(key)
            self.png = self.frames.render(self._still, self._drawn_with)
        self.timings["render"] = time.perf_counter() - t
        self.image.value = self.png

    def _lay_out(self, key: tuple[Any, ...]) -> None:
        """Constrained layout, with each axes' corners moved to the nearest whole pixel (layouts for
        slightly different texts then often place an axes exactly where it was, so that
        ``draw_once`` can keep it and its pixels) and the ``steady_axes`` kept at their first left and
        right edges."""
        self._layout.execute(self.fig)
        width, height = self.fig.bbox.size
        for i, ax in enumerate(self.axes):
            box = ax.get_position()
            x0, x1 = (round(x * width) / width for x in (box.x0, box.x1))
            y0, y1 = (round(y * height) / height for y in (box.y0, box.y1))
            if i in self.steady_axes:
                x0, x1 = self._steady_edges.setdefault(i, (x0, x1))
            ax.set_position(Bbox.from_extents(x0, y0, x1, y1))
            ax.set_in_layout(True)  # set_position takes an axes out of the layout otherwise
        self._layouts[key] = [ax.get_position() for ax in self.axes]

    def text_summary(self) -> str:
        """The plain-text stand-in for the dashboard."""
        if self.error:
            return f"{self.title}: {self.error}"
        text = html.unescape(re.sub(r"<br>|</tr>|</li>|</p>", "\n", self.summary.value))
        text = re.sub(r"<[^>]+>", " ", text)
        text = "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())
        return f"{self.title} (run the notebook in JupyterLab for the controls)\n{text}"

    def _ipython_display_(self) -> None:  # pragma: no cover - only in a notebook
        from IPython.display import display

        display(self.widget)


def layout_key(axes: Sequence[Axes]) -> tuple[Any, ...]:
    """What decides the layout of the figure: the lengths of titles, axis labels, the widest legend
    entry and y tick label. Equal keys give (nearly) the same constrained layout, so it need not be
    computed again."""
    key: list[Any] = []
    for ax in axes:
        legend = ax.get_legend()
        entries = max((len(t.get_text()) for t in legend.get_texts()), default=0) if legend is not None else -1
        yticks = max((len(t.get_text()) for t in ax.get_yticklabels()), default=0)
        low, high = sorted(ax.get_xlim())
        xticks = [t.get_text() for loc, t in zip(ax.get_xticks(), ax.get_xticklabels(), strict=False)
                  if low <= loc <= high]  # drawn ones: the outer ones may stick out sideways
        key.append((ax.get_visible(), len(ax.get_title()), ax.get_xlabel().count("\n"), len(ax.get_ylabel()),
                    entries, yticks, len(xticks), len(xticks[-1]) if xticks else 0))
    return tuple(key)


def overflows(fig: Figure) -> bool:
    """Whether a title, axis label, tick label or legend of a drawn figure reaches past its edges."""
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        legend = ax.get_legend()
        boxes = [ax.title.get_window_extent(renderer), legend.get_window_extent(renderer) if legend else None]
        if ax.axison:  # an axes drawn without its axes (the state graph) keeps tick objects it never draws
            boxes += [ax.xaxis.get_tightbbox(renderer), ax.yaxis.get_tightbbox(renderer)]
        for box in boxes:
            if box is not None and (box.x0 < page.x0 - 1 or box.y0 < page.y0 - 1 or box.x1 > page.x1 + 1
                                    or box.y1 > page.y1 + 1):
                return True
    return False


def note_html(text: str) -> str:
    return message_html(text, "note")


def syncookies_note(kernel: Kernel | None) -> str:
    """A note when the learner set tcp_syncookies=2 on a kernel that acts on it as 1 (before 3.12)."""
    if kernel is None or kernel.syncookies_always or kernel.tcp_syncookies != 2:
        return ""
    return note_html(f"Linux {kernel.version} accepts tcp_syncookies=2 but acts as with 1 (the value 2 "
                     "arrived in 3.12).")


def axes_texts(ax: Axes) -> list[str]:
    """Every piece of text an axis shows (title, labels, legend, annotations): for tests."""
    texts = [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
    texts += [t.get_text() for t in ax.texts]
    legend = ax.get_legend()
    if legend is not None:
        texts += [t.get_text() for t in legend.get_texts()]
    return texts
