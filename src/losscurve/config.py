"""Validation of the workflow configuration against its JSON schema.

The schema (``workflow/schemas/config.schema.yaml``) is the single source of defaults and
descriptions; this module applies the defaults, reports every violation with the dotted key,
the offending value and what is allowed, and adds the checks JSON Schema cannot express.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

# Canonical MNIST: 60,000 training images, of which ``validation_size`` are held out.
MNIST_TRAIN_IMAGES = 60_000


class ConfigError(ValueError):
    """The configuration violates its schema; the message lists every problem."""


def _is_integer(checker, instance) -> bool:
    # JSON Schema counts 3.0 as an integer; a trial would then fail on it as a count or index.
    return isinstance(instance, int) and not isinstance(instance, bool)


def _is_finite_number(checker, instance) -> bool:
    # NaN passes every bound (each comparison is false) and inf passes every lower bound.
    return _is_integer(checker, instance) or (
        isinstance(instance, float) and math.isfinite(instance)
    )


_Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine_many(
        {"integer": _is_integer, "number": _is_finite_number}
    ),
)


def load_schema(path: str | Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def apply_defaults(config: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``config`` with every missing key that has a schema default filled in."""
    filled = copy.deepcopy(dict(config))
    for key, subschema in schema.get("properties", {}).items():
        if key not in filled and "default" in subschema:
            filled[key] = copy.deepcopy(subschema["default"])
        if isinstance(filled.get(key), Mapping) and "properties" in subschema:
            filled[key] = apply_defaults(filled[key], subschema)
    return filled


def _key(path) -> str:
    return ".".join(str(part) for part in path) or "(top level)"


TYPE_WORDS = {
    "integer": "a value of type integer (a whole number, no decimal point)",
    "number": "a finite number",
}


def _allowed(error: jsonschema.ValidationError) -> str:
    """What the schema allows at the failing key, in words."""
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    rule, bound = error.validator, error.validator_value
    words = {
        "type": TYPE_WORDS.get(str(bound), f"a value of type {bound}"),
        "minimum": f"a number >= {bound}",
        "maximum": f"a number <= {bound}",
        "exclusiveMinimum": f"a number > {bound}",
        "exclusiveMaximum": f"a number < {bound}",
        "enum": f"one of {bound}",
        "uniqueItems": "a list without repeated values",
        "minItems": f"a list of at least {bound} item(s)",
        "minLength": f"a string of at least {bound} character(s)",
        "minProperties": f"at least {bound} key(s)",
        "required": f"the keys {bound}",
    }
    if rule == "additionalProperties":
        known = sorted(schema.get("properties", {}))
        return f"only the keys {known}"
    if rule == "pattern":
        return schema.get("description") or f"a string matching {bound}"
    return words.get(rule, error.message)


def _describe(error: jsonschema.ValidationError) -> str:
    key = _key(error.absolute_path)
    if error.validator == "additionalProperties":
        known = set(error.schema.get("properties", {}))
        unknown = sorted((k for k in error.instance if k not in known), key=str)
        return f"{key}: unknown key(s) {unknown}; allowed: {_allowed(error)}"
    value = json.dumps(error.instance, default=str)
    if len(value) > 80:
        value = value[:77] + "..."
    return f"{key} = {value}: not allowed; expected {_allowed(error)}{_number_hint(error)}"


def _number_hint(error: jsonschema.ValidationError) -> str:
    """Why a number arrived as text: quotes, or YAML reading 1e-3 (no decimal point) as text."""
    text = error.instance
    if error.validator != "type" or not isinstance(text, str):
        return ""
    try:
        float(text)
    except ValueError:
        return ""
    if "e" in text.lower() and "." not in text:
        return f"; YAML reads {text} as text: write it with a decimal point, e.g. 1.0e-3"
    return "; write the number without quotes"


def trial_errors(trials: Mapping[str, Any], fit: Mapping[str, Any], key: str) -> dict[str, str]:
    """The cross-key problems of one trials section (named ``key`` in messages), by check."""
    errors = {}
    if fit["degree"] >= trials["iterations"]:
        errors["degree"] = (
            f"fit.degree = {fit['degree']}: not allowed; a polynomial of degree d needs at least "
            f"d + 1 points, and {key}.iterations = {trials['iterations']} records only that many "
            f"losses: lower fit.degree or raise {key}.iterations"
        )
    train_size = MNIST_TRAIN_IMAGES - trials["validation_size"]
    if train_size < 1:
        errors["validation_size"] = (
            f"{key}.validation_size = {trials['validation_size']}: not allowed; it must leave "
            f"training images out of the {MNIST_TRAIN_IMAGES} in MNIST"
        )
    elif trials["batch_size"] > train_size:
        errors["batch_size"] = (
            f"{key}.batch_size = {trials['batch_size']}: not allowed; larger than the "
            f"{train_size} training images left after {key}.validation_size"
        )
    return errors


def semantic_errors(config: Mapping[str, Any]) -> list[str]:
    """Checks across keys that JSON Schema cannot express (run after the schema passed).

    Each experiment is checked with its overrides applied; a problem it shares with the main
    trials is reported once, for trials. The long run only adds seeds and iterations, which
    no check can fail on when trials passes.
    """
    main = trial_errors(config["trials"], config["fit"], "trials")
    errors = list(main.values())
    for name in config["experiments"]:
        own = trial_errors(variant_trials(config, name), config["fit"], f"experiments.{name}")
        errors += [message for check, message in own.items() if check not in main]
    return errors


# The experiment name under which the long run (config long_run) is stored; the schema
# reserves it.
LONG_RUN = "long-run"


def variant_trials(config: Mapping[str, Any], experiment: str | None = None) -> dict[str, Any]:
    """The trials section of one run: the main run (None), a named experiment or LONG_RUN.

    An experiment overrides some keys of ``trials``; the long run takes ``long_run.seeds`` and
    records ``long_run.iterations_factor`` times trials.iterations losses.
    """
    trials = dict(config["trials"])
    if experiment is None:
        return trials
    if experiment == LONG_RUN:
        long_run = config["long_run"]
        factor = long_run["iterations_factor"]
        return trials | {"seeds": long_run["seeds"], "iterations": factor * trials["iterations"]}
    return trials | config["experiments"][experiment]


def validate(config: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Fill defaults, validate, and return the complete configuration.

    Raises ConfigError naming every offending key, its value and what is allowed.
    """
    filled = apply_defaults(config, schema)
    validator = _Validator(schema)
    problems = [
        _describe(e) for e in sorted(validator.iter_errors(filled), key=lambda e: list(e.path))
    ]
    if not problems:
        problems = semantic_errors(filled)
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise ConfigError(
            f"Invalid configuration ({len(problems)} problem(s)):\n{listing}\n"
            "Fix the key(s) in your config file or overlay; config/README.md documents each key."
        )
    return filled


def config_hash(section: Mapping[str, Any]) -> str:
    """A short, stable digest of a config section (keys sorted, JSON-encoded)."""
    canonical = json.dumps(section, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
