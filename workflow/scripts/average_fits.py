"""Average the per-trial coefficients into L(x), with its spread, interval and conditioning."""

from losscurve.joblog import redirect_to_log

redirect_to_log(snakemake.log[0])

from losscurve.analysis import average_fits

average_fits(
    coefficients_path=snakemake.input.coefficients,
    traces_path=snakemake.input.traces,
    fit_config=snakemake.params.fit,
    output=snakemake.output.average,
)
