"""Fit a polynomial to each trial's loss trace and write the coefficients."""

from losscurve.joblog import redirect_to_log

redirect_to_log(snakemake.log[0])

from losscurve.analysis import fit_trials

fit_trials(
    traces_path=snakemake.input.traces,
    degree=snakemake.params.degree,
    csv_output=snakemake.output.csv,
    parquet_output=snakemake.output.parquet,
)
