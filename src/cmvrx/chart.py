"""Draw a treatment course: CMV viral load (log10) above ANC, platelets and CrCl on a
shared time axis, with the therapy periods (drug, dose) as shaded bands listed in a
legend above the chart.

matplotlib is imported here only, lazily, with the Agg backend (no display needed);
``import cmvrx`` never imports it. Every series carries a ``gid`` (SVG element id) so a
test can find it in the SVG without looking at pixels. Not-detected PCRs are drawn as
open triangles at the assay's limit; the limit itself as a dashed line.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from cmvrx.chart_data import crcl_series as _crcl_series
from cmvrx.chart_data import lab_series as _lab_series
from cmvrx.engine.course.review import review_course
from cmvrx.engine.course.state import BLOOD_SPECIMENS, ordered_events, therapy_periods
from cmvrx.errors import StorageError
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.model.course import CmvPcr, Course, Event
from cmvrx.model.plan import DISCLAIMER

_BAND_COLOURS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860")


def draw_course(
    course: Course,
    k: Knowledge,
    *,
    as_of: datetime,
    png_path: str | Path | None = None,
    svg_path: str | Path | None = None,
) -> list[Path]:
    """Write the chart to the given paths (PNG and/or SVG); the paths written."""
    if png_path is None and svg_path is None:
        raise ValueError("give png_path and/or svg_path")
    # Only what the assessment uses: no event entered in error, invalid or held (one bad
    # stored event must not break the chart).
    course = review_course(course, k, as_of).course
    plt = _pyplot()
    events = [e for e in ordered_events(course) if e.at <= as_of]
    fig, axes = plt.subplots(
        4, 1, sharex=True, figsize=(11, 9), gridspec_kw={"height_ratios": [2.2, 1, 1, 1]}
    )
    fig.suptitle(
        f"CMV course {course.course_id} — as of {as_of:%Y-%m-%d %H:%M %Z}", fontweight="bold"
    )
    _viral_load(axes[0], events)
    _series(axes[1], _lab_series(events, course, "anc"), "ANC (cells/µL)", "anc", "#2F4B7C")
    _series(
        axes[2],
        _lab_series(events, course, "platelets"),
        "Platelets (cells/µL)",
        "platelets",
        "#665191",
    )
    _series(axes[3], _crcl_series(course, k, events), "CrCl (mL/min, C–G)", "crcl", "#A05195")
    therapy_lines = _therapy_bands(axes, events, as_of)
    _thresholds(axes, k)
    for ax in axes:
        ax.axvline(as_of, color="black", linewidth=1, linestyle=":", gid="as_of")
        ax.grid(True, alpha=0.3)
    axes[-1].set_xlabel("Date")
    fig.autofmt_xdate()
    fig.text(0.01, 0.005, DISCLAIMER, fontsize=6.5, color="#555555")
    fig.tight_layout(rect=(0, 0.02, 1, 0.95 - 0.022 * (therapy_lines + 1)))
    written: list[Path] = []
    for path, fmt in ((png_path, "png"), (svg_path, "svg")):
        if path is not None:
            target = Path(path)
            fig.savefig(target, format=fmt, dpi=110)
            written.append(target)
    plt.close(fig)
    return written


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise StorageError("charts need matplotlib: pip install 'cmvrx[course]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _viral_load(ax: Any, events: Sequence[Event]) -> None:
    pcrs = [e for e in events if isinstance(e, CmvPcr) and e.specimen in BLOOD_SPECIMENS]
    ax.set_yscale("log")
    ax.set_ylabel("CMV DNA, blood PCR\n(IU/mL, log10 axis)")
    detected = [(p.at, p.value) for p in pcrs if p.result == "detected" and p.value]
    if detected:
        ax.plot(
            *zip(*detected, strict=True),
            marker="o",
            color="#C0392B",
            label="detected (IU/mL)",
            gid="cmv_pcr_detected",
        )
    below = [
        (p.at, p.lower_limit)
        for p in pcrs
        if p.result != "not_detected" and not (p.result == "detected" and p.value)
    ]
    if below:
        ax.plot(
            *zip(*below, strict=True),
            linestyle="none",
            marker="s",
            markerfacecolor="white",
            markeredgecolor="#C0392B",
            markersize=8,
            label="detected, below the limit",
            gid="cmv_pcr_below_limit",
        )
    nd = [(p.at, p.lower_limit) for p in pcrs if p.result == "not_detected"]
    if nd:
        ax.plot(
            *zip(*nd, strict=True),
            linestyle="none",
            marker="v",
            markerfacecolor="white",
            markeredgecolor="#27AE60",
            markersize=9,
            label="not detected (at assay limit)",
            gid="cmv_pcr_not_detected",
        )
    if pcrs:
        limit = pcrs[-1].lower_limit
        ax.axhline(
            limit,
            color="#27AE60",
            linestyle="--",
            linewidth=1,
            label=f"detection limit {limit:g} IU/mL",
            gid="detection_limit",
        )
        top = max((v for _, v in detected), default=limit)
        ax.set_ylim(limit / 3, max(top * 3, limit * 10))
    else:
        ax.text(0.5, 0.5, "no blood CMV PCR recorded", transform=ax.transAxes, ha="center")
    ax.legend(loc="upper right", fontsize=8)


def _series(
    ax: Any, points: list[tuple[datetime, float]], label: str, gid: str, colour: str
) -> None:
    ax.set_ylabel(label)
    if points:
        ax.plot(*zip(*points, strict=True), marker=".", color=colour, label=label, gid=gid)
        ax.set_ylim(0, max(v for _, v in points) * 1.25)
    else:
        ax.text(
            0.5, 0.5, f"no {label.split(' (')[0]} recorded", transform=ax.transAxes, ha="center"
        )


def _therapy_bands(axes: Any, events: Sequence[Event], as_of: datetime) -> int:
    """Each therapy period as a shaded band on every panel, listed in a legend on top;
    the number of legend lines."""
    from matplotlib.patches import Patch

    periods = [p for p in therapy_periods(events) if p.orders]
    colours: dict[str, str] = {}
    handles = []
    labels: list[str] = []
    for i, period in enumerate(periods):
        doses = " + ".join(f"{o.drug.value} {o.dose_mg:g} mg {o.interval}" for o in period.orders)
        key = f"{period.phase}: {doses}"  # each distinct dosing its own colour
        colour = colours.setdefault(key, _BAND_COLOURS[len(colours) % len(_BAND_COLOURS)])
        end = period.end or as_of
        for j, ax in enumerate(axes):
            ax.axvspan(period.start, end, color=colour, alpha=0.13, gid=f"therapy_{i}_{j}")
        label = (
            f"{period.start:%m-%d} → {'ongoing' if period.end is None else format(end, '%m-%d')} "
            f"{period.phase.replace('_', '-')}: {doses}"
        )
        handles.append(Patch(facecolor=colour, alpha=0.35, label=label))
        labels.append(label)
    if handles:
        from matplotlib.legend import Legend

        legend = Legend(
            axes[0],
            handles,
            labels,
            loc="lower left",
            bbox_to_anchor=(0, 1.01),
            fontsize=8,
            ncol=1 if len(handles) < 4 else 2,
            frameon=False,
            title="Therapy (shaded bands)",
            title_fontsize=8,
            alignment="left",
        )
        legend.set_gid("therapy_legend")
        axes[0].add_artist(legend)
    return len(handles) if len(handles) < 4 else (len(handles) + 1) // 2


def _thresholds(axes: Any, k: Knowledge) -> None:
    anc = k.number("ganciclovir_min_anc")
    platelets = k.number("ganciclovir_min_platelets")
    axes[1].axhline(
        anc,
        color="#C0392B",
        linestyle="--",
        linewidth=0.8,
        gid="anc_threshold",
        label=f"ganciclovir hold < {anc:g}",
    )
    axes[2].axhline(
        platelets,
        color="#C0392B",
        linestyle="--",
        linewidth=0.8,
        gid="platelet_threshold",
        label=f"ganciclovir hold < {platelets:g}",
    )
    for ax in axes[1:3]:
        ax.legend(loc="best", fontsize=8)
