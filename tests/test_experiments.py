"""Experiments and the long run in the config: their trial settings and their validation."""

from __future__ import annotations

import pytest

from losscurve.config import LONG_RUN, ConfigError, load_schema, validate, variant_trials

from support import REPO

SCHEMA = load_schema(REPO / "workflow/schemas/config.schema.yaml")


def test_an_experiment_overrides_some_trial_keys_and_keeps_the_rest():
    config = validate(
        {"experiments": {"lr-0.05": {"learning_rate": 0.05, "seeds": [1, 2]}}}, SCHEMA
    )
    trials = variant_trials(config, "lr-0.05")
    assert trials == config["trials"] | {"learning_rate": 0.05, "seeds": [1, 2]}
    assert variant_trials(config) == config["trials"]


def test_the_long_run_has_its_own_seeds_and_a_multiple_of_the_iterations():
    config = validate({"trials": {"iterations": 300}}, SCHEMA)
    trials = variant_trials(config, LONG_RUN)
    assert trials["seeds"] == [1, 2, 3] and trials["iterations"] == 1200
    assert trials | {"seeds": [], "iterations": 0} == config["trials"] | {
        "seeds": [],
        "iterations": 0,
    }


@pytest.mark.parametrize(
    ("experiments", "expected"),
    [
        (
            {"long-run": {"dropout": 0.5}},
            'experiments = "long-run": not allowed; expected an experiment name',
        ),
        (
            {"a/b": {"dropout": 0.5}},
            'experiments = "a/b": not allowed; expected an experiment name',
        ),
        ({"x": {}}, "experiments.x = {}: not allowed; expected at least 1 key(s)"),
        ({"x": {"lr": 0.1}}, "experiments.x: unknown key(s) ['lr']"),
        (
            {"x": {"dropout": 1.5}},
            "experiments.x.dropout = 1.5: not allowed; expected a number < 1",
        ),
        (
            {"x": {"iterations": 3}},
            "fit.degree = 4: not allowed; a polynomial of degree d needs at least d + 1 points, "
            "and experiments.x.iterations = 3",
        ),
        (
            {"x": {"batch_size": 56000}},
            "experiments.x.batch_size = 56000: not allowed; larger than the 55000 training images",
        ),
    ],
)
def test_a_bad_experiment_is_rejected_naming_it(experiments, expected):
    with pytest.raises(ConfigError) as error:
        validate({"experiments": experiments}, SCHEMA)
    assert expected in str(error.value)
    assert "Invalid configuration (1 problem(s))" in str(error.value)


def test_a_problem_the_main_trials_share_is_reported_once():
    with pytest.raises(ConfigError) as error:
        validate({"trials": {"iterations": 3}, "experiments": {"x": {"dropout": 0.5}}}, SCHEMA)
    assert "Invalid configuration (1 problem(s))" in str(error.value)
    assert "trials.iterations = 3" in str(error.value)
