"""The report page: one self-contained HTML file a person opens after a run.

The page is a list of sections. Each section comes from a builder, a function that reads what
it needs from a ReportContext (the report rule's named inputs and the workflow config) and
returns a Section. ANALYSIS_SECTIONS builds the analysis (model, coefficient table, figures,
comparison with the paper, conditioning, provenance); another module adds its own section by
passing ``sections=(*ANALYSIS_SECTIONS, its_builder)`` to write_report, with the files it
reads added to the rule's inputs.

Images are embedded as data: URIs and a Content-Security-Policy forbids every fetch, so the
page shows the same offline, from any folder, as it does next to the results.
"""

from __future__ import annotations

import base64
import html
import json
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import scipy
import yaml

from . import __version__, reference
from .analysis import read_parquet
from .figures import comparison_caption
from .files import atomic_output
from .tables import TABLE_STYLE, coefficient_tables_html, paper_format

TITLE = "Log loss over training iterations: the fitted model"
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
# float64 keeps about 16 significant digits; a solve loses about log10(condition) of them.
FLOAT64_DIGITS = 16


@dataclass(frozen=True)
class Section:
    id: str  # HTML anchor
    title: str
    body: str  # HTML fragment


class ReportContext:
    """What section builders read: the report rule's named input files and the config."""

    def __init__(self, inputs: Mapping[str, str | Path], config: Mapping[str, Any]):
        self.inputs = {name: Path(path) for name, path in inputs.items()}
        self.config = config

    @cached_property
    def average(self) -> dict[str, Any]:
        return json.loads(self.inputs["average"].read_text(encoding="utf-8"))

    @cached_property
    def fits(self) -> pd.DataFrame:
        return read_parquet(self.inputs["coefficients"])[0]

    @cached_property
    def trials(self) -> list[dict[str, Any]]:
        """Every trial's own metadata (seed, test accuracy, wall time, versions), by seed."""
        return read_parquet(self.inputs["traces"])[1]["trials"]

    def image(self, name: str, alt: str) -> str:
        """An <img> of the PNG input ``name``, embedded as a data: URI."""
        data = base64.b64encode(self.inputs[name].read_bytes()).decode("ascii")
        return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


SectionBuilder = Callable[[ReportContext], Section]


def figure(image: str, caption: str) -> str:
    return f"<figure>{image}<figcaption>{caption}</figcaption></figure>"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain HTML table; cells are escaped."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f'<table class="plain"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


# --- the analysis sections -----------------------------------------------------------------


def model_section(ctx: ReportContext) -> Section:
    average = ctx.average
    lo, hi = average["domain"]
    interval = average["confidence_interval"]
    missing = [None] * len(average["names"])  # SD and interval need two trials or more
    columns = zip(
        range(average["degree"], -1, -1),
        average["coefficients"],
        average["standard_deviation"] or missing,
        interval["low"] or missing,
        interval["high"] or missing,
        strict=True,
    )
    rows = [[f"x^{p}", *map(paper_format, values)] for p, *values in columns]
    level = f"{interval['level']:.0%}"
    body = (
        f'<p class="equation">{html.escape(average["equation"])}, &nbsp; {lo} &le; x &le; {hi}</p>'
        f"<p>The mean of the degree-{average['degree']} least-squares fits (numpy.polyfit) of "
        f"{len(average['seeds'])} trials (seeds {', '.join(map(str, average['seeds']))}). "
        f"SD is the standard deviation across trials; the {level} interval is a "
        f"{html.escape(interval['method'])}, {interval['resamples']} resamples, seed "
        f"{interval['seed']}.</p>"
        + table(["Term", "Mean", "SD", f"{level} CI low", f"{level} CI high"], rows)
        + f'<p>Published: <span class="equation">{html.escape(reference.EQUATION)}</span>. '
        f"{html.escape(comparison_caption(average['paper_comparison']))}</p>"
    )
    return Section("model", "The fitted model L(x)", body)


def coefficients_section(ctx: ReportContext) -> Section:
    body = (
        "<p>The paper's Figure 4.3 redrawn from this run (left) beside the published table "
        "(right). Values in the paper's format, three significant figures.</p>"
        + coefficient_tables_html(ctx.fits, ctx.average)
    )
    return Section("coefficients", "Coefficients per trial (Figure 4.3)", body)


def figures_section(ctx: ReportContext) -> Section:
    seed = ctx.average["seeds"][0]
    body = figure(
        ctx.image("trial_fit", f"Loss per iteration of seed {seed} and its fit"),
        f"Figure 4.2, redrawn: the batch log loss of seed {seed} at every training iteration "
        "and its fitted polynomial (equation in the legend).",
    ) + figure(
        ctx.image("all_trials", "Every trial's loss trace with the average fit"),
        "Figure 4.4, redrawn: every trial's loss trace (one colour per seed) with the average "
        "fit L(x) drawn bold on top.",
    )
    return Section("figures", "The paper's figures, redrawn", body)


def comparison_section(ctx: ReportContext) -> Section:
    average = ctx.average
    comparison = average["paper_comparison"]
    body = figure(
        ctx.image("paper_comparison", "Published L(x) against this run's average fit"),
        "The published L(x) (dashed) against this run's average fit (solid), over the band "
        "holding 5-95 % of the per-seed traces at each iteration; below, this run minus the "
        f"paper. {html.escape(comparison_caption(comparison))}",
    )
    interval = average["confidence_interval"]
    if average["degree"] == len(reference.POWERS) - 1 and interval["low"]:
        rows = [
            [
                f"x^{p}",
                paper_format(ours),
                f"{paper_format(low)} .. {paper_format(high)}",
                paper_format(paper),
                "yes" if low <= paper <= high else "no",
            ]
            for p, ours, low, high, paper in zip(
                reference.POWERS,
                average["coefficients"],
                interval["low"],
                interval["high"],
                reference.AVERAGE,
                strict=True,
            )
        ]
        level = f"{interval['level']:.0%}"
        body += f"<p>Coefficient by coefficient, against this run's {level} interval:</p>"
        body += table(["Term", "This run", f"{level} CI", "Paper", "Paper inside CI"], rows)
    return Section("comparison", "Against the published L(x)", body)


def conditioning_verdict(conditioning: Mapping[str, Any]) -> str:
    """How well conditioned the fit was, in words, from the numbers average_fits recorded."""
    digits = FLOAT64_DIGITS - np.log10(conditioning["column_scaled"])
    agreement = conditioning["scaled_fit_max_difference"]
    trusted = digits >= 8 and agreement["relative_coefficient"] < 1e-6
    return (
        f"The raw Vandermonde matrix [x^d .. x^0] has condition number "
        f"{conditioning['vandermonde']:.3g}: solved as it stands, it could lose about "
        f"{np.log10(conditioning['vandermonde']):.0f} of float64's {FLOAT64_DIGITS} digits. "
        f"numpy.polyfit scales its columns to unit norm before the least-squares solve, which "
        f"brings the condition number to {conditioning['column_scaled']:.3g} (about "
        f"{digits:.0f} digits left); in x mapped onto [-1, 1] it is "
        f"{conditioning['scaled_x']:.3g}. The fits done that way (Polynomial.fit, converted "
        f"back) agree with polyfit's to a relative {agreement['relative_coefficient']:.2g} in "
        f"the coefficients and {agreement['curve']:.2g} in the fitted loss. "
        + (
            "The fit was well conditioned: rounding error is far below the spread across seeds."
            if trusted
            else "The fit was poorly conditioned: prefer the scaled fit's coefficients."
        )
    )


def conditioning_section(ctx: ReportContext) -> Section:
    body = f"<p>{html.escape(conditioning_verdict(ctx.average['conditioning']))}</p>"
    return Section("conditioning", "Numerical conditioning of the fit", body)


def analysis_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scipy": scipy.__version__,
        "matplotlib": matplotlib.__version__,
        "losscurve": __version__,
    }


def provenance_section(ctx: ReportContext) -> Section:
    fits = ctx.fits.set_index("seed")
    rows = [
        [
            t["seed"],
            f"{t['test_loss']:.4f}",
            f"{t['test_accuracy']:.2%}",
            f"{t['wall_time_s']:.2f}",
            f"{fits.loc[t['seed'], 'r2']:.4f}",
            f"{fits.loc[t['seed'], 'rmse']:.4f}",
            t.get("slurm_job_id") or "-",
        ]
        for t in ctx.trials
    ]
    total = sum(t["wall_time_s"] for t in ctx.trials)
    trial_versions = sorted({json.dumps(t["versions"], sort_keys=True) for t in ctx.trials})
    checksums = [[name, digest] for name, digest in ctx.config["mnist"]["sha256"].items()]
    body = (
        f"<p>Trial config hash <code>{html.escape(ctx.average['config_hash'])}</code>; "
        f"seeds {', '.join(str(t['seed']) for t in ctx.trials)}; the trials' training wall "
        f"times add up to {total:.1f} s.</p>"
        + table(
            ["Seed", "Test loss", "Test accuracy", "Wall time (s)", "R²", "RMSE", "SLURM job"],
            rows,
        )
        + "<h3>Data</h3><p>SHA-256 of each decompressed MNIST file (config mnist.sha256); "
        "every download was checked against it.</p>"
        + table(["File", "SHA-256"], checksums)
        + "<h3>Software</h3>"
        + table(
            ["Step", "Versions"],
            [["trials", v] for v in trial_versions]
            + [["analysis", json.dumps(analysis_versions(), sort_keys=True)]],
        )
        + "<h3>Configuration</h3><pre>"
        + html.escape(yaml.safe_dump(dict(ctx.config), sort_keys=False))
        + "</pre>"
    )
    return Section("provenance", "Provenance", body)


ANALYSIS_SECTIONS: tuple[SectionBuilder, ...] = (
    model_section,
    coefficients_section,
    figures_section,
    comparison_section,
    conditioning_section,
    provenance_section,
)


# --- the page ------------------------------------------------------------------------------

PAGE_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 76em; margin: 2em auto; padding: 0 1em;
  line-height: 1.45; color: #222; }
.equation { font-family: ui-monospace, monospace; font-size: 1.1em; }
p.equation { background: #f4f4f4; padding: 0.6em 0.8em; border-left: 4px solid #333; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #444; }
table.plain { border-collapse: collapse; margin: 0.8em 0; font-variant-numeric: tabular-nums; }
table.plain th, table.plain td { border: 1px solid #bbb; padding: 0.2em 0.6em; }
pre { background: #f4f4f4; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
nav ol { columns: 2; }
"""


def render_page(title: str, sections: Sequence[Section]) -> str:
    """The whole page: a table of contents, then each section under its own heading."""
    toc = "".join(f'<li><a href="#{s.id}">{html.escape(s.title)}</a></li>' for s in sections)
    parts = "".join(
        f'<section id="{s.id}"><h2>{html.escape(s.title)}</h2>{s.body}</section>' for s in sections
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title>"
        f"<style>{PAGE_STYLE}{TABLE_STYLE}</style></head>\n<body>"
        f"<h1>{html.escape(title)}</h1><nav><ol>{toc}</ol></nav>{parts}</body></html>\n"
    )


def write_report(
    inputs: Mapping[str, str | Path],
    config: Mapping[str, Any],
    output: str | Path,
    sections: Sequence[SectionBuilder] = ANALYSIS_SECTIONS,
) -> None:
    """Build every section from ``inputs`` and ``config`` and write the page atomically.

    ``inputs`` names the files the builders read: for ANALYSIS_SECTIONS, traces (the collected
    Parquet), coefficients (Parquet), average (JSON) and the PNGs trial_fit, all_trials and
    paper_comparison.
    """
    ctx = ReportContext(inputs, config)
    page = render_page(TITLE, [build(ctx) for build in sections])
    with atomic_output(output) as tmp:
        tmp.write_text(page, encoding="utf-8")
