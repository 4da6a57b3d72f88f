"""Fit every curve family to the start of the long run and score it on the rest."""

from losscurve.joblog import redirect_to_log

redirect_to_log(snakemake.log[0])

from losscurve.comparison import extrapolate

extrapolate(
    traces_path=snakemake.input.traces,
    fit_iterations=snakemake.params.fit_iterations,
    tolerance=snakemake.params.tolerance,
    csv_output=snakemake.output.csv,
    json_output=snakemake.output.json,
)
