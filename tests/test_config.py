"""The config schema: defaults, every key described, invalid values named with what is allowed."""

from __future__ import annotations

import pytest
import yaml

from losscurve.config import ConfigError, apply_defaults, load_schema, validate

from support import REPO, snakemake, write_overlay

SCHEMA = load_schema(REPO / "workflow/schemas/config.schema.yaml")


def schema_keys(schema, prefix=""):
    for key, sub in schema.get("properties", {}).items():
        yield f"{prefix}{key}", sub
        yield from schema_keys(sub, f"{prefix}{key}.")


def test_every_key_has_a_description_and_a_default_and_is_documented():
    readme = (REPO / "config/README.md").read_text()
    for key, sub in schema_keys(SCHEMA):
        assert sub.get("description"), f"{key} has no description"
        assert "default" in sub, f"{key} has no default"
        assert f"`{key}`" in readme, f"{key} is not documented in config/README.md"


def test_config_yaml_spells_out_exactly_the_schema_defaults():
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    # Beyond the defaults it ships the calibration experiments (optional: none by default).
    experiments = config.pop("experiments")
    assert validate(config, SCHEMA) == apply_defaults({}, SCHEMA)
    assert apply_defaults({}, SCHEMA)["experiments"] == {}
    assert validate({"experiments": experiments}, SCHEMA)["experiments"] == experiments
    assert validate({}, SCHEMA)["trials"]["seeds"] == list(range(1, 11))


@pytest.mark.parametrize(
    ("overlay", "expected"),
    [
        (
            {"trials": {"learning_rate": 0}},
            "trials.learning_rate = 0: not allowed; expected a number > 0",
        ),
        (
            {"trials": {"seeds": [1, 2, 2]}},
            "trials.seeds = [1, 2, 2]: not allowed; expected a list without repeated values",
        ),
        ({"trials": {"seeds": [-1]}}, "trials.seeds.0 = -1: not allowed; expected a number >= 0"),
        (
            {"trials": {"iterations": "500"}},
            'trials.iterations = "500": not allowed; expected a value of type integer',
        ),
        ({"trials": {"dtype": "float16"}}, "expected one of ['float32', 'float64']"),
        (
            {"trials": {"batch_size": 60000}},
            "trials.batch_size = 60000: not allowed; larger than the 55000 training images",
        ),
        (
            {"fit": {"degree": 4}, "trials": {"iterations": 4}},
            "fit.degree = 4: not allowed; a polynomial of degree d needs at least d + 1 points",
        ),
        (
            {"mnist": {"mirrors": ["ftp://example.org/mnist/"]}},
            'mnist.mirrors.0 = "ftp://example.org/mnist/": not allowed',
        ),
        (
            {"mnist": {"sha256": {"train-images-idx3-ubyte": "abc"}}},
            "mnist.sha256.train-images-idx3-ubyte",
        ),
        ({"trails": {}}, "(top level): unknown key(s) ['trails']"),
        ({"trials": {"learning_rte": 0.1}}, "trials: unknown key(s) ['learning_rte']; allowed:"),
    ],
)
def test_invalid_values_are_rejected_naming_key_value_and_what_is_allowed(overlay, expected):
    with pytest.raises(ConfigError) as error:
        validate(overlay, SCHEMA)
    assert expected in str(error.value)
    assert "config/README.md" in str(error.value)


def test_mirror_kinds_accepted():
    mirrors = ["https://a.example/m/", "http://b.example/m/", "file:///data/m/", "/data/m", "rel/m"]
    assert validate({"mnist": {"mirrors": mirrors}}, SCHEMA)["mnist"]["mirrors"] == mirrors


@pytest.mark.slow
def test_invalid_config_stops_snakemake_before_any_job(project):
    overlay = write_overlay(project / "bad.yaml", {"trials": {"learning_rate": -1}})
    result = snakemake(project, "--cores", "1", overlays=(overlay,), check=False)
    assert result.returncode != 0
    assert (
        "trials.learning_rate = -1: not allowed; expected a number > 0"
        in result.stderr + result.stdout
    )
    assert not (project / "results").exists()


@pytest.mark.slow
def test_mirror_overlay_keeps_the_rest_of_the_config(project, mirror_dir):
    """An overlay holding only mnist.mirrors changes the mirrors and keeps the pins (merge).

    The synthetic mirror does not serve canonical MNIST, so the kept pins reject it.
    """
    overlay = write_overlay(project / "mirror.yaml", {"mnist": {"mirrors": [str(mirror_dir)]}})
    result = snakemake(
        project,
        "--cores",
        "1",
        "results/mnist/train-labels-idx1-ubyte.gz",
        overlays=(overlay,),
        check=False,
    )
    assert result.returncode != 0
    pinned = yaml.safe_load((REPO / "config/config.yaml").read_text())["mnist"]["sha256"]
    assert f"pinned {pinned['train-labels-idx1-ubyte']}" in result.stdout + result.stderr
    assert (mirror_dir / "train-labels-idx1-ubyte.gz").as_uri() in result.stdout + result.stderr


@pytest.mark.slow
def test_snakemake_lint_reports_nothing():
    result = snakemake(REPO, "--lint")
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr
