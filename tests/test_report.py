"""Figures, coefficient tables and the report page, built by the package from trial files."""

from __future__ import annotations

import base64
import html.parser
import json
from pathlib import Path

import pytest
from PIL import Image

from losscurve.analysis import average_fits
from losscurve.config import load_schema, validate
from losscurve.figures import render_figures
from losscurve.report import (
    ANALYSIS_SECTIONS,
    CSP,
    ReportContext,
    Section,
    conditioning_verdict,
    write_report,
)
from losscurve.tables import paper_format, write_tables

from support import REPO
from trace_support import collected_and_fitted

FIT = {"degree": 4, "bootstrap_resamples": 500, "confidence_level": 0.95, "bootstrap_seed": 0}
FIGURES = ("trial_fit", "all_trials", "paper_comparison")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def default_config() -> dict:
    return validate({}, load_schema(REPO / "workflow/schemas/config.schema.yaml"))


def build(folder: Path, seeds, iterations: int) -> dict[str, Path]:
    """Every analysis output for synthetic trials, as the workflow's rules produce them."""
    traces, coefficients = collected_and_fitted(folder, seeds, iterations)
    average = folder / "fits" / "average.json"
    average_fits(coefficients, traces, FIT, average)
    outputs = {
        f"{name}_{ext}": folder / "figures" / f"{name}.{ext}"
        for name in FIGURES
        for ext in ("png", "svg")
    }
    render_figures(traces, coefficients, average, outputs)
    write_tables(coefficients, average, folder / "coefficients.md", folder / "coefficients.html")
    inputs = {"traces": traces, "coefficients": coefficients, "average": average}
    inputs |= {name: outputs[f"{name}_png"] for name in FIGURES}
    write_report(inputs, default_config(), folder / "report.html")
    return {**inputs, **outputs, "report": folder / "report.html", "folder": folder}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    return build(tmp_path_factory.mktemp("analysis"), range(1, 11), 500)


class Resources(html.parser.HTMLParser):
    """Every src and href attribute of a page, and the tags it uses."""

    def __init__(self):
        super().__init__()
        self.src, self.href, self.tags = [], [], set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        attributes = dict(attrs)
        self.src += [attributes["src"]] if "src" in attributes else []
        self.href += [attributes["href"]] if "href" in attributes else []


def resources(page: str) -> Resources:
    parser = Resources()
    parser.feed(page)
    return parser


def test_paper_format():
    assert paper_format(-8.64e-11) == "-8.64E-11"
    assert paper_format(2.29) == "2.29E+00"
    assert paper_format(None) == "n/a"


def test_coefficient_tables(built):
    markdown = (built["folder"] / "coefficients.md").read_text()
    assert "| Seed | x^4 | x^3 | x^2 | x^1 | x^0 |" in markdown
    rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    labels = [row.split("|")[1].strip() for row in rows]
    # this run: header, 10 seeds, AVG, SD; the paper: header, 10 trials, AVG
    trials = [str(n) for n in range(1, 11)]
    assert labels == ["Seed", *trials, "AVG", "SD", "Trial", *trials, "AVG"]
    assert "| 1 | -8.64E-11 | 6.69E-08 | -8.01E-06 | -6.55E-03 | 2.29E+00 |" in markdown
    average = json.loads(built["average"].read_text())
    avg_row = "| AVG | " + " | ".join(map(paper_format, average["coefficients"])) + " |"
    assert avg_row in markdown
    page = (built["folder"] / "coefficients.html").read_text()
    assert page.count('<table class="coefficients">') == 2
    assert page.count('<tr class="summary">') == 3  # AVG and SD here, AVG in the paper's


def test_figures_are_150_dpi_png_and_svg(built, tmp_path):
    for name in FIGURES:
        with Image.open(built[f"{name}_png"]) as image:
            assert image.format == "PNG"
            assert image.info["dpi"] == pytest.approx((150, 150), abs=0.1)
            assert image.width == 1200
        assert "<svg" in built[f"{name}_svg"].read_text()
    # Same data, same bytes: SVG ids and metadata carry no date or random salt.
    again = {
        f"{name}_{ext}": tmp_path / f"{name}.{ext}" for name in FIGURES for ext in ("png", "svg")
    }
    render_figures(built["traces"], built["coefficients"], built["average"], again)
    for key, path in again.items():
        assert path.read_bytes() == built[key].read_bytes(), key


def test_report_is_self_contained(built):
    page = built["report"].read_text()
    found = resources(page)
    assert len(found.src) == 3
    for src in found.src:
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix)
        assert base64.b64decode(src[len(prefix) :]).startswith(PNG_SIGNATURE)
    assert all(href.startswith("#") for href in found.href)
    assert not found.tags & {"script", "link", "iframe", "object", "embed"}
    assert f'content="{CSP}"' in page and "default-src 'none'" in CSP


def test_report_content(built):
    page = built["report"].read_text()
    average = json.loads(built["average"].read_text())
    assert average["equation"] in page
    assert "max |this run - paper| = " in page
    assert 'id="conditioning"' in page and "well conditioned" in page
    for digest in default_config()["mnist"]["sha256"].values():
        assert digest in page
    assert "91.00%" in page  # the trials' test accuracy
    assert page.count("<h2>") == len(ANALYSIS_SECTIONS)


def test_report_takes_further_sections(built, tmp_path):
    def spread_section(ctx: ReportContext) -> Section:
        sd = ctx.average["standard_deviation"][0]
        return Section("spread", "How much the seeds spread", f"<p>SD of x^4: {sd:.3g}</p>")

    inputs = {name: built[name] for name in ("traces", "coefficients", "average", *FIGURES)}
    output = tmp_path / "report.html"
    write_report(inputs, default_config(), output, sections=(*ANALYSIS_SECTIONS, spread_section))
    page = output.read_text()
    assert '<li><a href="#spread">How much the seeds spread</a></li>' in page
    assert page.index('id="provenance"') < page.index('<section id="spread">')
    assert "SD of x^4: " in page


def test_report_of_a_single_trial(tmp_path):
    built = build(tmp_path, [7], 60)
    page = built["report"].read_text()
    assert "seeds 7" in page and "n/a" in page


def test_conditioning_verdict():
    agreement = {"relative_coefficient": 1e-14, "curve": 2e-14}
    good = {"vandermonde": 1.02e11, "column_scaled": 456.0, "scaled_x": 18.8}
    verdict = conditioning_verdict({**good, "scaled_fit_max_difference": agreement})
    assert "condition number 1.02e+11" in verdict and "about 13 digits left" in verdict
    assert verdict.endswith(
        "The fit was well conditioned: rounding error is far below the spread across seeds."
    )
    bad = {**good, "column_scaled": 1e12}
    verdict = conditioning_verdict({**bad, "scaled_fit_max_difference": agreement})
    assert verdict.endswith("The fit was poorly conditioned: prefer the scaled fit's coefficients.")
    disagreeing = {**agreement, "relative_coefficient": 1e-3}
    verdict = conditioning_verdict({**good, "scaled_fit_max_difference": disagreeing})
    assert "poorly conditioned" in verdict
