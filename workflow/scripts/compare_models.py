"""Fit every curve family to every trial and to the mean trace, and score them."""

from losscurve.joblog import redirect_to_log

redirect_to_log(snakemake.log[0])

from losscurve.comparison import compare_models

compare_models(
    traces_path=snakemake.input.traces,
    holdout_fractions=snakemake.params.holdout_fractions,
    csv_output=snakemake.output.csv,
    json_output=snakemake.output.json,
)
