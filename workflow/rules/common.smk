import importlib.util

from losscurve.config import config_hash, load_schema, validate
from losscurve.mnist import FILES

# Fill defaults and stop before any job when the config is invalid.
config.update(validate(config, load_schema(workflow.source_path("../schemas/config.schema.yaml"))))

SPLITS = {"train": "train", "test": "t10k"}
FIGURES = ("trial_fit", "all_trials", "paper_comparison")


def get_seeds():
    return config["trials"]["seeds"]


def get_trial_config():
    """The trial settings every seed shares (a change to any of them reruns the trials)."""
    return {k: v for k, v in config["trials"].items() if k != "seeds"}


def get_trial_config_hash():
    return config_hash(get_trial_config())


def get_trial_code():
    """The package modules a trial runs, so that editing them marks trials out of date."""
    modules = ("network", "trial", "traces")
    return [importlib.util.find_spec(f"losscurve.{m}").origin for m in modules]


def get_idx_files(wildcards):
    prefix = SPLITS[wildcards.split]
    kind = {"images": "idx3", "labels": "idx1"}
    return {
        part: f"results/mnist/{prefix}-{part}-{kind[part]}-ubyte.gz"
        for part in ("images", "labels")
    }


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
    ]
