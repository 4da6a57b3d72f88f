"""Rank the main run and the experiments by closeness to the paper's published L(x)."""

from losscurve.joblog import redirect_to_log

redirect_to_log(snakemake.log[0])

from losscurve.comparison import calibrate

calibrate(
    experiments=snakemake.params.experiments,
    averages=snakemake.input.averages,
    traces=snakemake.input.traces,
    csv_output=snakemake.output.csv,
    json_output=snakemake.output.json,
)
