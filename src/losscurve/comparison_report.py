"""The report section "How good is the quartic?", built from the comparison's outputs.

It answers, with the numbers of the run: which curve family fits best, how far each one
extrapolates, how wide the seed band of the average curve is, and which trial settings
reproduce the paper's published L(x). REPORT_SECTIONS is the whole page: the analysis
sections with this one before the provenance.

The section reads these inputs of the report rule: model_comparison and extrapolation_table
(CSV), families, extrapolation, confidence_bands and calibration (JSON), and the PNGs
model_comparison_png, extrapolation_png, confidence_bands_png and calibration_png.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from .comparison import MEAN, PAPER, published
from .curves import EXTENSION, FAMILIES, VALIDITY_KEYS, validity
from .report import (
    ANALYSIS_SECTIONS,
    ReportContext,
    Section,
    SectionBuilder,
    figure,
    provenance_section,
    table,
)

# BIC differences below this are "not worth more than a bare mention" (Kass and Raftery).
INDISTINGUISHABLE_BIC = 2


def missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def number(value: Any, digits: int = 3) -> str:
    """``digits`` significant figures; n/a for a missing value."""
    return "n/a" if missing(value) else f"{value:.{digits}g}"


def iteration(value: Any, none: str = "n/a") -> str:
    """An iteration x, or ``none`` when there is none (a check that found nothing)."""
    return none if missing(value) else f"{value:.0f}"


def horizon_text(row: Mapping[str, Any]) -> str:
    """Where an extrapolated curve leaves the tolerance, from a row of extrapolation.csv."""
    if not row["converged"]:
        return "did not converge"
    if row["stays_within"]:
        return f"to the end (x = {row['horizon_x']:.0f})"
    return f"to x = {row['horizon_x']:.0f}"


def breaks(row: Mapping[str, Any]) -> str:
    """Where a fitted curve stops behaving like a log loss, from its validity columns."""
    if not row["converged"]:
        return "n/a"
    found = [
        f"{what} x = {row[key]:.0f}"
        for what, key in (("rises after", "first_rise_x"), ("negative from", "first_negative_x"))
        if not missing(row[key])
    ]
    return ", ".join(found) or "no"


def label(name: str) -> str:
    return "Paper's published L(x)" if name == PAPER else FAMILIES[name].label


def read_json(ctx: ReportContext, name: str) -> dict[str, Any]:
    return json.loads(ctx.inputs[name].read_text(encoding="utf-8"))


# --- the answers in words --------------------------------------------------------------------


def autocorrelation_sentence(summary: pd.DataFrame, comparison: pd.DataFrame) -> str:
    """What the residuals' lag-1 autocorrelation says about the likelihoods behind AIC/BIC."""
    best = summary.nsmallest(2, "delta_bic").index
    trials = comparison[(comparison["trial"] != MEAN) & comparison["family"].isin(best)]
    per_trial = trials["lag1_autocorrelation"]
    on_mean = summary.loc[best, "lag1_autocorrelation"]
    return (
        "AIC and BIC treat the residuals as independent Gaussian noise. On single trials the "
        "residuals of the two best families are close to uncorrelated (lag-1 autocorrelation "
        f"{per_trial.min():.2f} to {per_trial.max():.2f}), but on the mean trace, where "
        "averaging over seeds leaves the misfit they share, it is "
        f"{on_mean.min():.2f} to {on_mean.max():.2f}, and a family that misses the shape has "
        "far more (table). The minibatch noise around a fitted curve is autocorrelated, the "
        "more so the worse the shape fits, so AIC and BIC rank the families but are not exact "
        "likelihoods, and their differences overstate the evidence."
    )


def best_fit_sentence(summary: pd.DataFrame, best: str | None, trials: int) -> str:
    if best is None:
        return "No family converged on every trial, so none is ranked best."
    row = summary.loc[best]
    ranked = summary["delta_bic"].dropna().sort_values()
    text = (
        f"<b>Best fit: {label(best)}</b>, with the lowest BIC summed over the {trials} trials "
        f"(lowest in {row['wins']:.0f} of them); on the mean trace its RMSE is "
        f"{number(row['rmse'])} and R² {row['r2']:.4f}. "
    )
    close = [n for n in ranked.index if n != best and ranked[n] < INDISTINGUISHABLE_BIC]
    if close:
        text += (
            ", ".join(f"{label(n)} (ΔBIC {ranked[n]:.1f})" for n in close)
            + f" is within ΔBIC {INDISTINGUISHABLE_BIC}: the data cannot tell them apart. "
        )
    if "quartic" not in ranked.index:
        return text + "The paper's quartic did not converge on every trial."
    quartic = summary.loc["quartic"]
    return text + (
        f"The paper's quartic ranks {list(ranked.index).index('quartic') + 1} of "
        f"{len(summary)} (ΔBIC {number(quartic['delta_bic'], 4)} over the trials; RMSE "
        f"{number(quartic['rmse'], 4)} on the mean trace)."
    )


def holdout_sentence(summary: pd.DataFrame, best: str | None, sizes: list[int], n: int) -> str:
    shown = [name for name in dict.fromkeys(["quartic", best]) if name is not None]
    parts = [
        f"first {m}: "
        + ", ".join(f"{label(f)} {number(summary.loc[f, f'heldout_rmse_{m}'])}" for f in shown)
        for m in sizes
    ]
    return (
        f"<b>Held out</b>: fitted to the first part of the mean trace and scored (RMSE) on the "
        f"rest of its {n} iterations, {'; '.join(parts)}."
    )


def extrapolation_sentence(extrapolation: Mapping[str, Any], rows: pd.DataFrame) -> str:
    mean = rows[rows["trial"] == MEAN].set_index("curve")
    reaches = ", ".join(
        f"{label(name)} {horizon_text(r)}"
        for name, r in mean.sort_values("horizon_x", ascending=False).iterrows()
    )
    negative = validity(published())["first_negative_x"]
    return (
        f"<b>Extrapolation</b>: fitted to the first {extrapolation['fit_iterations']} of the "
        f"{extrapolation['iterations']} iterations of the long run's mean trace "
        f"({len(extrapolation['seeds'])} seeds), the curves stay within "
        f"±{extrapolation['tolerance']:g} of the smoothed loss: {reaches}. The paper's "
        f"published L(x) goes negative from x = {iteration(negative, 'nowhere')}; it misses "
        f"this run's settings by {number(mean.loc[PAPER, 'rmse_fit'], 2)} RMSE already before "
        f"x = {extrapolation['fit_iterations']} (see the calibration below)."
    )


def band_sentence(bands: Mapping[str, Any]) -> str:
    if not bands["bands"]:
        return "<b>Seed band</b>: none, as no family converged on every seed."
    end = bands["domain"][1]
    parts = []
    for name, band in bands["bands"].items():
        width = band["width"]
        if width is None:
            parts.append(f"{label(name)}: no band (one seed)")
            continue
        parts.append(
            f"{label(name)}: {number(width['mean_in_domain'], 2)} on average over "
            f"x = 0..{end} (at most {number(width['max_in_domain'], 2)}, at x = "
            f"{width['x_of_max_in_domain']:.0f}), {number(width['at_domain_end'], 2)} at "
            f"x = {end} and {number(width[f'at_{EXTENSION}x'], 3)} at x = {EXTENSION * end}"
        )
    return (
        f"<b>Seed band</b>: the {bands['level']:.0%} bootstrap band of the average curve across "
        f"{len(bands['seeds'])} seeds is " + "; ".join(parts) + " (log loss)."
    )


def calibration_sentence(calibration: Mapping[str, Any]) -> str:
    rows = {row["variant"]: row for row in calibration["rows"]}
    closest = rows[calibration["closest"]]
    others = ", ".join(
        f"{name} {row['rmse_quartic_vs_paper']:.3f}"
        for name, row in rows.items()
        if name != calibration["closest"]
    )
    lo, hi = calibration["domain"]
    return (
        f"<b>Calibration</b>: the setting that reproduces the paper's L(x) best is "
        f"<b>{html.escape(closest['variant'])}</b> ({html.escape(closest['settings'])}): its "
        f"averaged quartic is {closest['rmse_quartic_vs_paper']:.3f} RMSE from the published one "
        f"over x = {lo}..{hi} (mean trace {closest['rmse_mean_trace_vs_paper']:.3f}), against "
        f"{html.escape(others)} for the others."
    )


# --- the tables -----------------------------------------------------------------------------


def family_table(summary: pd.DataFrame, sizes: list[int]) -> str:
    rows = [
        [
            label(name),
            FAMILIES[name].formula,
            FAMILIES[name].size,
            number(r["rmse"], 4),
            f"{r['r2']:.4f}",
            f"{r['aic']:.1f}",
            f"{r['bic']:.1f}",
            number(r["delta_bic"], 4),
            f"{r['wins']:.0f}",
            *(number(r[f"heldout_rmse_{m}"]) for m in sizes),
            f"{r['lag1_autocorrelation']:.2f}",
            f"{r['converged']:.0f}",
        ]
        for name, r in summary.iterrows()
    ]
    header = [
        "Family",
        "L(x)",
        "Parameters",
        "RMSE",
        "R²",
        "AIC",
        "BIC",
        "ΔBIC (trials)",
        "Lowest BIC (trials)",
        *(f"Held-out RMSE, fit on first {m}" for m in sizes),
        "Residual lag-1 autocorrelation",
        "Converged (trials)",
    ]
    return table(header, rows)


def validity_table(comparison: pd.DataFrame) -> str:
    """Per family: how many trial fits break as a log loss, and where the mean-trace fit does."""
    trials = comparison[comparison["trial"] != MEAN]
    mean = comparison[comparison["trial"] == MEAN].set_index("family")
    count = trials.groupby("family", sort=False)[list(VALIDITY_KEYS[2:])].sum()
    k = trials["trial"].nunique()
    rows = [
        [
            label(name),
            *(f"{c[key]:.0f} of {k}" for key in count.columns),
            iteration(mean.loc[name, "first_rise_x"], "never"),
            iteration(mean.loc[name, "first_negative_x"], "never"),
        ]
        for name, c in count.iterrows()
    ]
    paper = validity(published())
    rows.append(
        [
            label(PAPER),
            *("yes" if paper[key] else "no" for key in count.columns),
            iteration(paper["first_rise_x"], "never"),
            iteration(paper["first_negative_x"], "never"),
        ]
    )
    header = [
        "Curve",
        "Negative in domain",
        "Rises in domain",
        f"Negative within {EXTENSION}x",
        f"Rises within {EXTENSION}x",
        "Mean fit rises after x",
        "Mean fit negative from x",
    ]
    return table(header, rows)


def extrapolation_table(rows: pd.DataFrame, extrapolation: Mapping[str, Any]) -> str:
    trials = rows[rows["trial"] != MEAN].groupby("curve", sort=False)["horizon_x"]
    low, high = trials.min(), trials.max()
    n = extrapolation["fit_iterations"]
    body = [
        [
            label(name),
            number(r["rmse_fit"]),
            number(r["rmse_beyond"]),
            number(r[f"rmse_beyond_{EXTENSION}x"]),
            horizon_text(r),
            f"{iteration(low[name])} .. {iteration(high[name])}",
            f"{number(r['predicted_at_last_x'])} vs {number(r['observed_at_last_x'])}",
            breaks(r),
        ]
        for name, r in rows[rows["trial"] == MEAN].set_index("curve").iterrows()
    ]
    header = [
        "Curve",
        f"RMSE, x < {n}",
        f"RMSE, x >= {n}",
        f"RMSE, x >= {EXTENSION * n}",
        "Horizon (mean trace)",
        "Horizon per seed",
        "Predicted vs smoothed loss at the end",
        f"Breaks within {EXTENSION}x of its domain",
    ]
    return table(header, body)


def calibration_table(calibration: Mapping[str, Any]) -> str:
    rows = [
        [
            row["variant"],
            row["settings"],
            row["seeds"],
            row["iterations"],
            f"{row['rmse_quartic_vs_paper']:.3f}",
            f"{row['max_abs_quartic_vs_paper']:.3f}",
            f"{row['rmse_mean_trace_vs_paper']:.3f}",
            f"{row['test_accuracy']:.2%}",
        ]
        for row in calibration["rows"]
    ]
    header = [
        "Variant",
        "Settings",
        "Seeds",
        "Iterations",
        "RMSE of averaged quartic vs paper",
        "Max |difference|",
        "RMSE of mean trace vs paper",
        "Test accuracy",
    ]
    return table(header, rows)


# --- the section ----------------------------------------------------------------------------


def quartic_section(ctx: ReportContext) -> Section:
    families = read_json(ctx, "families")
    summary = pd.DataFrame(families["summary"]).set_index("family")
    comparison = pd.read_csv(ctx.inputs["model_comparison"], dtype={"trial": str})
    extrapolation = read_json(ctx, "extrapolation")
    extrapolation_rows = pd.read_csv(ctx.inputs["extrapolation_table"], dtype={"trial": str})
    bands = read_json(ctx, "confidence_bands")
    calibration = read_json(ctx, "calibration")
    sizes, n, k = families["train_sizes"], families["iterations"], len(families["seeds"])
    failures = comparison[~comparison["converged"]]
    answers = [
        best_fit_sentence(summary, families["best"], k),
        holdout_sentence(summary, families["best"], sizes, n),
        extrapolation_sentence(extrapolation, extrapolation_rows),
        band_sentence(bands),
        calibration_sentence(calibration),
    ]
    body = (
        "<ul>" + "".join(f"<li>{a}</li>" for a in answers) + "</ul>"
        "<h3>Curve families</h3>"
        f"<p>Every family fitted to each of the {k} trials and to their mean trace "
        "(numpy.polyfit for the quartic; scipy.optimize.curve_fit with bounds keeping each "
        "other curve decreasing and above zero, from several starting values). Scores are on "
        f"the mean trace over x = {families['scored_from']:.0f}..{n - 1}, where every family is "
        "defined (the power law is infinite at 0); ΔBIC and the count of lowest BIC are over "
        f"the trials. {autocorrelation_sentence(summary, comparison)}</p>"
        + family_table(summary, sizes)
        + (
            "<p>Every fit converged.</p>"
            if failures.empty
            else "<p>Fits that did not converge: "
            + html.escape(
                "; ".join(
                    f"{r.family} on trial {r.trial} ({r.message})" for r in failures.itertuples()
                )
            )
            + ".</p>"
        )
        + figure(
            ctx.image("model_comparison_png", "Every family fitted to the mean trace"),
            "Every family fitted to the mean trace (top) and its residuals as a moving average "
            "(bottom): a family that misses the shape leaves a systematic residual.",
        )
        + "<h3>Validity</h3><p>Where a fitted curve stops behaving like a log loss (falling, "
        f"never below zero), within the iterations it was fitted on and out to {EXTENSION} "
        "times that.</p>"
        + validity_table(comparison)
        + "<h3>Extrapolation over the long run</h3>"
        + extrapolation_table(extrapolation_rows, extrapolation)
        + figure(
            ctx.image("extrapolation_png", "Every family extrapolated over the long run"),
            f"Fitted on x &lt; {extrapolation['fit_iterations']} (dotted line), extrapolated to "
            f"x = {extrapolation['iterations'] - 1}; below, each curve minus the long run's "
            f"{extrapolation['smoothing_window']}-iteration moving average, with the tolerance "
            f"±{extrapolation['tolerance']:g}.",
        )
        + "<h3>Seed bands</h3>"
        + figure(
            ctx.image("confidence_bands_png", "Bootstrap bands of the average curves"),
            f"{html.escape(bands['method'])}, {bands['resamples']} resamples, seed "
            f"{bands['bootstrap_seed']}: the mean of the per-seed fitted curves with its "
            f"{bands['level']:.0%} band, out to {EXTENSION} times the trials' length.",
        )
        + "<h3>Calibration against the published L(x)</h3>"
        "<p>The paper's curve falls more slowly than its stated settings make this "
        "implementation's loss fall; each experiment changes trial settings to see which "
        "reproduces it.</p>"
        + calibration_table(calibration)
        + figure(
            ctx.image("calibration_png", "Each variant's averaged quartic against the paper"),
            "Each variant's averaged quartic (bold) and mean trace (faint) against the published "
            "L(x) (dashed); below, each variant minus the paper.",
        )
    )
    return Section("quartic", "How good is the quartic?", body)


REPORT_SECTIONS: tuple[SectionBuilder, ...] = (
    *(build for build in ANALYSIS_SECTIONS if build is not provenance_section),
    quartic_section,
    provenance_section,
)
