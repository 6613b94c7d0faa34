"""The sweep's charts: Pareto front, optimization history and parameter importances.

Each is written twice, as a PNG (Optuna's matplotlib backend, for READMEs and
reports) and as an interactive HTML page (its plotly backend). A chart the
study cannot draw yet (importances need several complete trials that differ)
is skipped with the reason, never faked.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path


def write_plots(study, out: str | Path) -> dict[str, str]:
    """Write every chart into ``out``; return chart name -> "written" or why not."""
    import matplotlib

    matplotlib.use("Agg")
    import optuna
    from optuna.visualization import matplotlib as static

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    quality, cost = (lambda t: t.values[0]), (lambda t: t.values[1])
    charts = {
        "pareto_front": lambda v: v.plot_pareto_front(study, target_names=["quality", "cost per kept pair"]),
        "history_quality": lambda v: v.plot_optimization_history(
            study, target=quality, target_name="quality"
        ),
        "history_cost": lambda v: v.plot_optimization_history(
            study, target=cost, target_name="cost per kept pair"
        ),
        "importances_quality": lambda v: v.plot_param_importances(
            study, target=quality, target_name="quality"
        ),
        "importances_cost": lambda v: v.plot_param_importances(
            study, target=cost, target_name="cost per kept pair"
        ),
    }
    done: dict[str, str] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna marks its matplotlib backend experimental
        for name, draw in charts.items():
            try:
                axes = draw(static)
                figure = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
                # written aside then renamed: several workers may draw at once
                tmp = out / f".{name}.{os.getpid()}"
                figure.savefig(f"{tmp}.png", dpi=120, bbox_inches="tight")
                matplotlib.pyplot.close(figure)
                os.replace(f"{tmp}.png", out / f"{name}.png")
                # offline: one plotly.min.js beside the pages
                draw(optuna.visualization).write_html(f"{tmp}.html", include_plotlyjs="directory")
                os.replace(f"{tmp}.html", out / f"{name}.html")
                done[name] = "written"
            except (ValueError, RuntimeError, ZeroDivisionError) as exc:
                done[name] = f"skipped: {exc}"
    return done
