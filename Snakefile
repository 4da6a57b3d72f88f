# Log loss over training iterations of a 784-256-10 MNIST classifier: seeded trials,
# quartic fits, an averaged model and a report. See README.md and config/README.md.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/trials.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/comparison.smk"


rule all:
    default_target: True
    input:
        get_final_outputs(),
