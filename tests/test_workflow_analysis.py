"""The whole pipeline through the real Snakemake CLI: trials, analysis, figures and the report.

One synthetic run (three seeds, 50 iterations) is shared by the tests of this module; the page
it builds is also opened in a real headless Chromium. The run on the real MNIST files needs
MNIST_MIRROR.
"""

from __future__ import annotations

import html
import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from losscurve.analysis import format_equation, read_parquet

from support import copy_project, require, snakemake, synthetic_overlay, write_overlay

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
FIGURES = [
    f"results/figures/{name}.{ext}"
    for name in ("trial_fit", "all_trials", "paper_comparison")
    for ext in ("png", "svg")
]
OUTPUTS = [
    "results/report.html",
    "results/loss_traces.parquet",
    "results/fits/coefficients.csv",
    "results/fits/coefficients.parquet",
    "results/fits/average.json",
    "results/tables/coefficients.md",
    "results/tables/coefficients.html",
    *FIGURES,
]


@pytest.fixture(scope="module")
def run(tmp_path_factory, mirror_dir, payloads) -> tuple[Path, Path]:
    """A project copy after `snakemake --cores 2` (rule all) on synthetic data, and its overlay."""
    project = copy_project(tmp_path_factory.mktemp("pipeline") / "project")
    overlay = write_overlay(
        project / "synthetic.yaml", synthetic_overlay([str(mirror_dir)], payloads)
    )
    snakemake(project, "--cores", "2", overlays=(overlay,))
    return project, overlay


def test_rule_all_builds_every_output(run):
    project, _ = run
    for output in OUTPUTS:
        assert (project / output).stat().st_size > 0, output


def test_collected_traces_match_the_trial_files(run):
    project, _ = run
    traces, metadata = read_parquet(project / "results/loss_traces.parquet")
    assert list(traces.columns) == ["seed", "iteration", "loss", "accuracy"]
    assert traces["seed"].tolist() == [1] * 50 + [2] * 50 + [3] * 50
    assert traces["iteration"].tolist() == list(range(50)) * 3
    assert metadata["seeds"] == [1, 2, 3]
    trial = pd.read_parquet(project / "results/trials/seed-2.parquet")
    np.testing.assert_array_equal(traces.loc[traces.seed == 2, "loss"], trial["loss"])
    assert {t["config_hash"] for t in metadata["trials"]} == {metadata["config_hash"]}


def test_fits_and_average(run):
    project, _ = run
    csv = pd.read_csv(project / "results/fits/coefficients.csv")
    assert list(csv.columns) == ["seed", "x4", "x3", "x2", "x1", "x0", "r2", "rmse"]
    assert csv["seed"].tolist() == [1, 2, 3]
    traces, _ = read_parquet(project / "results/loss_traces.parquet")
    for seed, row in csv.set_index("seed").iterrows():
        y = traces.loc[traces.seed == seed, "loss"].to_numpy()
        np.testing.assert_allclose(
            row[["x4", "x3", "x2", "x1", "x0"]], np.polyfit(np.arange(50), y, 4)
        )
    average = json.loads((project / "results/fits/average.json").read_text())
    mean = csv[["x4", "x3", "x2", "x1", "x0"]].mean().to_numpy()
    np.testing.assert_allclose(average["coefficients"], mean, rtol=1e-12)
    assert average["domain"] == [0, 49]
    assert average["confidence_interval"]["resamples"] == 200  # from the overlay
    assert average["equation"] == format_equation(average["coefficients"])
    assert average["equation"] in (project / "results/report.html").read_text()


def test_second_run_has_nothing_to_do(run):
    project, overlay = run
    result = snakemake(project, "--cores", "1", "--dry-run", overlays=(overlay,))
    assert "Nothing to be done" in result.stdout + result.stderr


def test_snakemake_report_holds_the_figures_and_tables(run):
    project, overlay = run
    snakemake(project, "--report", "results/snakemake-report.html", overlays=(overlay,))
    page = (project / "results/snakemake-report.html").read_text()
    for name in ("trial_fit.png", "all_trials.svg", "paper_comparison.png", "coefficients.md"):
        assert name in page
    assert "Figure 4.4, redrawn from this run" in page  # a caption from workflow/report


def test_damaged_trial_is_refused_by_collect(run, tmp_path):
    project, overlay = run
    damaged = tmp_path / "project"
    shutil.copytree(project, damaged, symlinks=True)
    trial = damaged / "results/trials/seed-2.parquet"
    trial.write_bytes(b"not parquet")
    result = snakemake(damaged, "--cores", "1", overlays=(overlay,), check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "results/trials/seed-2.parquet: not a readable trial file" in output
    assert "rebuild it with: snakemake --cores 1 -f results/trials/seed-2.parquet" in output


# --- the page in a real browser ------------------------------------------------------------


def chromium(url: str, *args: str, profile: Path) -> subprocess.CompletedProcess:
    """Run headless Chromium on ``url`` with a fresh profile; DNS is sent nowhere."""
    return subprocess.run(
        [
            CHROMIUM,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            *args,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


# Runs before the page's Content-Security-Policy (which forbids scripts) takes effect; once the
# page has loaded it lists every image and whether it decoded.
PROBE = """<script>addEventListener("load", () => {
  const found = [...document.images].map(i => ({alt: i.alt, width: i.naturalWidth}));
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(found);
  document.body.append(out);
});</script>"""
BROKEN_IMAGE = '<img src="data:image/png;base64,iVBORw0KGgoAAAAN" alt="broken on purpose">'


@pytest.mark.browser
def test_report_page_in_headless_chromium(run, tmp_path):
    require("browser", Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM}")
    project, _ = run
    page = (project / "results/report.html").read_text()
    # The probe goes into a copy; a broken image shows that the probe tells failures apart.
    probe = tmp_path / "probe.html"
    probe.write_text(
        page.replace("<head>", "<head>" + PROBE, 1).replace("</body>", BROKEN_IMAGE + "</body>")
    )
    dom = chromium(
        probe.as_uri(), "--virtual-time-budget=10000", "--dump-dom", profile=tmp_path / "p1"
    ).stdout
    start = dom.index('<pre id="probe">') + len('<pre id="probe">')
    images = json.loads(html.unescape(dom[start : dom.index("</pre>", start)]))
    assert [i["alt"] for i in images][-1] == "broken on purpose" and images[-1]["width"] == 0
    assert len(images) == 8  # three analysis figures, four of the curve comparison, the broken one
    assert all(i["width"] > 0 for i in images[:-1]), images

    # The page itself, as a person opens it: the screenshot is not blank.
    shot = tmp_path / "report.png"
    chromium(
        (project / "results/report.html").as_uri(),
        "--hide-scrollbars",
        "--window-size=1280,2400",
        f"--screenshot={shot}",
        profile=tmp_path / "p2",
    )
    with Image.open(shot) as image:
        pixels = np.asarray(image.convert("L"))
    assert pixels.shape == (2400, 1280)
    assert (pixels < 200).mean() > 0.02  # text, tables and figures, not an empty page
    assert len(np.unique(pixels)) > 50


# --- the real data -------------------------------------------------------------------------


@pytest.mark.mnist
def test_full_pipeline_on_real_mnist(real_project):
    project, overlay = real_project  # the default config, only the mirror changed
    snakemake(project, "--cores", "2", overlays=(overlay,), timeout=900)
    average = json.loads((project / "results/fits/average.json").read_text())
    assert average["seeds"] == list(range(1, 11)) and average["domain"] == [0, 499]
    fits = pd.read_csv(project / "results/fits/coefficients.csv")
    assert (fits["r2"] > 0.9).all()
    model = np.poly1d(average["coefficients"])
    # An untrained 10-class softmax starts near ln 10; 500 SGD steps bring the loss far down.
    assert model(0) == pytest.approx(math.log(10), abs=0.15)
    assert model(499) < 0.8
    conditioning = average["conditioning"]
    assert conditioning["column_scaled"] < 1e3
    assert conditioning["scaled_fit_max_difference"]["relative_coefficient"] < 1e-9
    comparison = average["paper_comparison"]
    assert comparison["domain"] == [0, 499] and comparison["max_abs_difference"] > 0
    assert average["equation"] in (project / "results/report.html").read_text()
