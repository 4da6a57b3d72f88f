"""Draw the curve-family figures: comparison, extrapolation, seed bands, calibration."""

from losscurve.joblog import redirect_to_log

redirect_to_log(snakemake.log[0])

from losscurve.comparison_figures import render_comparison_figures

render_comparison_figures(
    traces_path=snakemake.input.traces,
    families_path=snakemake.input.families,
    long_run_path=snakemake.input.long_run,
    extrapolation_path=snakemake.input.extrapolation,
    bands_path=snakemake.input.bands,
    calibration_path=snakemake.input.calibration,
    outputs=dict(snakemake.output.items()),
)
