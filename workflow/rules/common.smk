import importlib.util
import re

from losscurve.config import LONG_RUN, config_hash, load_schema, validate, variant_trials
from losscurve.mnist import FILES

# Fill defaults and stop before any job when the config is invalid.
config.update(validate(config, load_schema(workflow.source_path("../schemas/config.schema.yaml"))))

FIGURES = ("trial_fit", "all_trials", "paper_comparison")
COMPARISON_FIGURES = ("model_comparison", "extrapolation", "confidence_bands", "calibration")


# A run is the main one (results/) or an experiment (results/experiments/{experiment}/); the
# helpers below take a job's wildcards and read the experiment from them, if any.
def get_experiment(wildcards=None):
    return (wildcards or {}).get("experiment")


def get_experiments():
    """Every experiment: those of config experiments, then the long run."""
    return [*config["experiments"], LONG_RUN]


def get_run_folder(wildcards=None):
    experiment = get_experiment(wildcards)
    return "results" if experiment is None else f"results/experiments/{experiment}"


def get_seeds(wildcards=None):
    return variant_trials(config, get_experiment(wildcards))["seeds"]


def get_iterations(wildcards=None):
    return variant_trials(config, get_experiment(wildcards))["iterations"]


def get_trial_config(wildcards=None):
    """The trial settings every seed of a run shares (a change to any of them reruns its trials)."""
    trials = variant_trials(config, get_experiment(wildcards))
    return {k: v for k, v in trials.items() if k != "seeds"}


def get_trial_config_hash(wildcards=None):
    return config_hash(get_trial_config(wildcards))


def get_trial_files(wildcards=None):
    return expand(
        "{folder}/trials/seed-{seed}.parquet",
        folder=get_run_folder(wildcards),
        seed=get_seeds(wildcards),
    )


def get_calibration_inputs(name):
    """The file ``name`` (e.g. fits/average.json) of the main run, then of every experiment
    but the long run, in the order of config experiments."""
    return [f"results/{name}"] + [
        f"results/experiments/{experiment}/{name}" for experiment in config["experiments"]
    ]


def get_trial_code():
    """The package modules a trial runs, so that editing them marks trials out of date."""
    modules = ("network", "trial", "traces")
    return [importlib.util.find_spec(f"losscurve.{m}").origin for m in modules]


def get_download_settings():
    mnist = config["mnist"]
    return {
        "timeout": mnist["timeout"],
        "retries": mnist["retries"],
        "backoff": mnist["backoff"],
        "max_decompressed_bytes": int(mnist["max_decompressed_mb"] * 2**20),
    }


def get_final_outputs():
    """The report page and every table and figure it is built from."""
    figures = expand("results/figures/{name}.{ext}", name=FIGURES, ext=("png", "svg"))
    return [
        "results/report.html",
        "results/loss_traces.parquet",
        "results/fits/coefficients.csv",
        "results/fits/coefficients.parquet",
        "results/fits/average.json",
        "results/tables/coefficients.md",
        "results/tables/coefficients.html",
        *figures,
        "results/model_comparison.csv",
        "results/fits/families.json",
        "results/fits/confidence_bands.json",
        "results/tables/extrapolation.csv",
        "results/tables/calibration.csv",
        *expand("results/figures/{name}.{ext}", name=COMPARISON_FIGURES, ext=("png", "svg")),
    ]
