"""Train one seeded trial and write its loss trace."""

from losscurve.joblog import redirect_to_log

redirect_to_log(snakemake.log[0])

from losscurve.trial import run_trial

run_trial(
    seed=int(snakemake.wildcards.seed),
    trial_config=snakemake.params.trial,
    config_hash=snakemake.params.config_hash,
    data_paths=(
        snakemake.input.train_images,
        snakemake.input.train_labels,
        snakemake.input.test_images,
        snakemake.input.test_labels,
    ),
    output=snakemake.output.trace,
)
