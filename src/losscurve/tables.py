"""The paper's Figure 4.3 redrawn from this run, beside the published table.

One row per trial plus an AVG row (mean across trials) and an SD row (standard deviation across
trials), columns x^4 .. x^0, each value in the paper's format (-8.64E-11). Written as Markdown
and as HTML; the report page embeds the same HTML.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from . import reference
from .analysis import read_parquet
from .files import atomic_output

Row = tuple[str, Sequence[float | None]]
SUMMARY_ROWS = ("AVG", "SD")


def paper_format(value: float | None) -> str:
    """Three significant figures in E notation, as printed in the paper: -8.64E-11."""
    return "n/a" if value is None else f"{value:.2E}"


def run_rows(fits: pd.DataFrame, average: Mapping[str, Any]) -> list[Row]:
    """This run's table: one row per seed, then AVG and SD (SD is n/a for a single trial)."""
    names = average["names"]
    rows: list[Row] = [
        (str(seed), list(values))
        for seed, *values in fits[["seed", *names]].itertuples(index=False)
    ]
    sd = average["standard_deviation"] or [None] * len(names)
    return [*rows, ("AVG", average["coefficients"]), ("SD", sd)]


def paper_rows() -> list[Row]:
    return [(str(trial), values) for trial, values in reference.TRIALS.items()] + [
        ("AVG", reference.AVERAGE)
    ]


def markdown_table(first_column: str, powers: Sequence[int], rows: Sequence[Row]) -> str:
    header = [first_column, *(f"x^{p}" for p in powers)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [
        "| " + " | ".join([label, *map(paper_format, values)]) + " |" for label, values in rows
    ]
    return "\n".join(lines)


def html_table(caption: str, first_column: str, powers: Sequence[int], rows: Sequence[Row]) -> str:
    header = "".join(f"<th>x<sup>{p}</sup></th>" for p in powers)
    body = "".join(
        ('<tr class="summary">' if label in SUMMARY_ROWS else "<tr>")
        + f"<th>{html.escape(label)}</th>"
        + "".join(f"<td>{paper_format(v)}</td>" for v in values)
        + "</tr>"
        for label, values in rows
    )
    return (
        f'<table class="coefficients"><caption>{html.escape(caption)}</caption>'
        f"<thead><tr><th>{first_column}</th>{header}</tr></thead><tbody>{body}</tbody></table>"
    )


def run_caption(average: Mapping[str, Any]) -> str:
    n = len(average["seeds"])
    return f"This run: degree-{average['degree']} fit of each of {n} trials, with AVG and SD"


def paper_caption() -> str:
    return f"Published: {reference.SOURCE}"


def coefficient_tables_html(fits: pd.DataFrame, average: Mapping[str, Any]) -> str:
    """Both tables side by side (an HTML fragment), this run's first."""
    powers = range(average["degree"], -1, -1)
    return (
        '<div class="tables">'
        + html_table(run_caption(average), "Seed", powers, run_rows(fits, average))
        + html_table(paper_caption(), "Trial", reference.POWERS, paper_rows())
        + "</div>"
    )


TABLE_STYLE = """
.tables { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
table.coefficients { border-collapse: collapse; font-variant-numeric: tabular-nums;
  font-size: 0.9em; }
table.coefficients caption { caption-side: top; text-align: left; font-weight: bold;
  max-width: 30em; padding-bottom: 0.4em; }
table.coefficients th, table.coefficients td { border: 1px solid #bbb; padding: 0.2em 0.5em;
  text-align: right; }
table.coefficients tr.summary { background: #eee; }
"""


def write_tables(
    coefficients_path: str | Path,
    average_path: str | Path,
    markdown_output: str | Path,
    html_output: str | Path,
) -> None:
    """Write the coefficient table and the paper's as Markdown and as a small HTML page."""
    fits, _ = read_parquet(coefficients_path)
    average = json.loads(Path(average_path).read_text(encoding="utf-8"))
    powers = range(average["degree"], -1, -1)
    markdown = "\n\n".join(
        [
            "# Coefficients of the fitted polynomials (the paper's Figure 4.3)",
            f"## {run_caption(average)}",
            markdown_table("Seed", powers, run_rows(fits, average)),
            f"## {paper_caption()}",
            markdown_table("Trial", reference.POWERS, paper_rows()),
        ]
    )
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>Coefficients of the fitted polynomials</title>"
        f"<style>{TABLE_STYLE}</style></head><body>"
        f"<h1>Coefficients of the fitted polynomials (the paper's Figure 4.3)</h1>"
        f"{coefficient_tables_html(fits, average)}</body></html>\n"
    )
    with atomic_output(markdown_output) as tmp:
        tmp.write_text(markdown + "\n", encoding="utf-8")
    with atomic_output(html_output) as tmp:
        tmp.write_text(page, encoding="utf-8")
