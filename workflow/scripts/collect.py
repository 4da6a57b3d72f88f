"""Gather every trial's loss trace into one long Parquet table."""

from losscurve.joblog import redirect_to_log

redirect_to_log(snakemake.log[0])

from losscurve.analysis import collect_traces

collect_traces(
    paths=snakemake.input.traces,
    seeds=snakemake.params.seeds,
    config_hash=snakemake.params.config_hash,
    iterations=snakemake.params.iterations,
    output=snakemake.output.traces,
)
