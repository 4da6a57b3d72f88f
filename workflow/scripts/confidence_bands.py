"""Bootstrap bands across seeds for the average quartic and the best curve family."""

from losscurve.joblog import redirect_to_log

redirect_to_log(snakemake.log[0])

from losscurve.comparison import confidence_bands

confidence_bands(
    families_path=snakemake.input.families,
    fit_config=snakemake.params.fit,
    json_output=snakemake.output.json,
)
