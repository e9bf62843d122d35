"""Every dashboard's figure reads at a glance, at its defaults, at each slider's two ends and at each
toggle's every option: no text
under 8 pt, no text outside the figure, no two texts on top of each other (``figure_text``)."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import ipywidgets as W  # noqa: E402
import pytest  # noqa: E402
from figure_text import text_problems  # noqa: E402

from handshake_course import dashboards as d  # noqa: E402

SLIDERS = (W.IntSlider, W.FloatSlider, W.FloatLogSlider)


def slider_ends(app: d.Dashboard):
    """Each slider at its minimum, then its maximum, then each toggle at each of its other options,
    one at a time (the others at their defaults)."""
    for name, control in list(app.controls.items()):
        if isinstance(control, SLIDERS) and not control.disabled:
            default = control.value
            for end in (control.min, control.max):
                control.value = control.base ** end if isinstance(control, W.FloatLogSlider) else end
                yield f"{name}={control.value:g}"
            control.value = default
    for name, control in list(app.controls.items()):
        if isinstance(control, W.ToggleButtons) and not control.disabled:
            default = control.value
            for option in [value for value in control._options_values if value != default]:
                control.value = option
                yield f"{name}={option}"
            control.value = default


@pytest.mark.slow
@pytest.mark.parametrize("name", list(d.APPS))
def test_every_text_of_the_figure_is_readable(name):
    app = d.APPS[name]()
    problems = [f"defaults: {p}" for p in text_problems(app.fig)]
    for state in slider_ends(app):
        assert app.error is None, f"{name} at {state}: {app.error}"
        problems += [f"{state}: {p}" for p in text_problems(app.fig)]
    assert not problems, f"{name}:\n" + "\n".join(problems)


def test_the_check_finds_what_it_is_for():
    """The checker itself: a small font, a text past the edge and two texts on one spot are found."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 3), dpi=80)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.text(0.5, 0.5, "tiny", fontsize=6)
    ax.text(0.5, 0.5, "on top", fontsize=10)
    ax.text(1.5, 0.5, "far right, past the figure's edge", fontsize=10, transform=ax.transAxes)
    found = "\n".join(text_problems(fig))
    assert "font of 6.0 pt: 'tiny'" in found
    assert "overlap: 'tiny' / 'on top'" in found
    assert "outside the figure: \"far right, past the figure's edge\"" in found
