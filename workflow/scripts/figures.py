"""Draw the paper's figures from this run (PNG and SVG)."""

from losscurve.joblog import redirect_to_log

redirect_to_log(snakemake.log[0])

from losscurve.figures import render_figures

render_figures(
    traces_path=snakemake.input.traces,
    coefficients_path=snakemake.input.coefficients,
    average_path=snakemake.input.average,
    outputs=dict(snakemake.output.items()),
)
