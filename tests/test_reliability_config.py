"""Bad configs, generated: each is rejected at start-up with a message naming the key.

The properties run against the real schema file through losscurve.config.validate (what
workflow/rules/common.smk calls before any job); a few cases go through the real Snakemake CLI.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from losscurve.config import MNIST_TRAIN_IMAGES, ConfigError, load_schema, validate

from support import REPO, snakemake, write_overlay

SCHEMA = load_schema(REPO / "workflow/schemas/config.schema.yaml")
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def keys(schema: dict, path: tuple[str, ...] = ()):
    """(key path, subschema) of every key, sections included."""
    for key, sub in schema.get("properties", {}).items():
        yield (*path, key), sub
        yield from keys(sub, (*path, key))


KEYS = dict(keys(SCHEMA))
SECTIONS = [()] + [path for path, sub in KEYS.items() if "properties" in sub]


def kind(sub: dict) -> str:
    return sub.get("type") or SCHEMA["$defs"][sub["$ref"].rsplit("/", 1)[1]]["type"]


def nest(path: tuple, value: Any) -> dict:
    for key in reversed(path):
        value = {key: value}
    return value


def merge(a: dict, b: dict) -> dict:
    merged = dict(a)
    for key, value in b.items():
        both = isinstance(merged.get(key), dict) and isinstance(value, dict)
        merged[key] = merge(merged[key], value) if both else value
    return merged


def dotted(path: tuple) -> str:
    return ".".join(map(str, path)) or "(top level)"


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8))
NOT_OF_KIND = {
    # 3.0 is an integer to JSON Schema but not to a trial; NaN and inf pass every bound.
    "integer": st.one_of(st.none(), st.booleans(), st.floats(), st.text(max_size=8)),
    "number": st.one_of(
        st.none(), st.booleans(), st.sampled_from([math.nan, math.inf, -math.inf]), st.text()
    ),
    "string": st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.lists(scalars)),
    "array": st.one_of(scalars, st.dictionaries(st.text(max_size=4), scalars, max_size=2)),
    "object": st.one_of(scalars, st.lists(scalars, max_size=3)),
}


def out_of_bounds(sub: dict) -> st.SearchStrategy:
    """Values of the right type beyond one of the key's bounds (empty when it has none)."""
    whole = kind(sub) == "integer"
    options = []
    if "minimum" in sub:
        m = sub["minimum"]
        options.append(
            st.integers(max_value=m - 1)
            if whole
            else st.floats(max_value=m, exclude_max=True, allow_nan=False, allow_infinity=False)
        )
    if "exclusiveMinimum" in sub:
        m = sub["exclusiveMinimum"]
        options.append(st.floats(max_value=m, allow_nan=False, allow_infinity=False))
    if "maximum" in sub:
        m = sub["maximum"]
        options.append(
            st.integers(min_value=m + 1)
            if whole
            else st.floats(min_value=m, exclude_min=True, allow_nan=False, allow_infinity=False)
        )
    if "exclusiveMaximum" in sub:
        options.append(st.floats(min_value=sub["exclusiveMaximum"], allow_nan=False))
    if "enum" in sub:
        options.append(st.text(max_size=10).filter(lambda v: v not in sub["enum"]))
    if "minItems" in sub:
        options.append(st.just([]))
    return st.one_of(options) if options else st.nothing()


@st.composite
def schema_violations(draw) -> tuple[dict, str]:
    """An overlay breaking one key's type or bounds, and the start of the expected message."""
    path = draw(st.sampled_from(sorted(KEYS)))
    sub = KEYS[path]
    value = draw(st.one_of(NOT_OF_KIND[kind(sub)], out_of_bounds(sub)))
    return nest(path, value), f"{dotted(path)} = "


@st.composite
def unknown_keys(draw) -> tuple[dict, str]:
    section = draw(st.sampled_from(SECTIONS))
    known = set((KEYS[section] if section else SCHEMA).get("properties", {}))
    names = st.one_of(st.text(min_size=1, max_size=12), st.integers())
    key = draw(names.filter(lambda k: k not in known))
    return nest(section, {key: draw(scalars)}), f"{dotted(section)}: unknown key(s) ["


@st.composite
def foreign_mirrors(draw) -> tuple[dict, str]:
    """A mirror list with one entry of a scheme other than http, https and file."""
    scheme = draw(
        st.one_of(
            st.from_regex(r"\A[A-Za-z][A-Za-z0-9+.-]{0,9}\Z").filter(
                lambda s: s not in ("http", "https", "file")
            ),
            st.sampled_from(["ftp", "javascript", "data", "gopher", "HTTP", "File"]),
        )
    )
    rest = draw(st.text(max_size=20))
    good = draw(st.lists(st.sampled_from(["https://a.example/m/", "/data/m", "m/"]), max_size=2))
    at = draw(st.integers(0, len(good)))
    mirrors = [*good[:at], f"{scheme}:{rest}", *good[at:]]
    return {"mnist": {"mirrors": mirrors}}, f"mnist.mirrors.{at} = "


@st.composite
def bad_seeds(draw) -> tuple[dict, str]:
    seeds = draw(st.lists(st.integers(0, 10**6), min_size=1, max_size=6))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(seeds) - 1))
        seeds.insert(draw(st.integers(0, len(seeds))), seeds[at])
        return {"trials": {"seeds": seeds}}, "trials.seeds = "
    at = draw(st.integers(0, len(seeds) - 1))
    seeds[at] = draw(st.integers(max_value=-1))
    return {"trials": {"seeds": seeds}}, f"trials.seeds.{at} = "


@st.composite
def beyond_the_data(draw) -> tuple[dict, str]:
    """Settings that are each in range but together ask for more than MNIST or the trace holds."""
    choice = draw(st.sampled_from(["batch", "validation", "degree"]))
    if choice == "batch":
        held_out = draw(st.integers(0, MNIST_TRAIN_IMAGES - 1))
        batch = draw(st.integers(MNIST_TRAIN_IMAGES - held_out + 1, 10**7))
        trials = {"validation_size": held_out, "batch_size": batch}
        return {"trials": trials}, f"trials.batch_size = {batch}: not allowed; larger than the"
    if choice == "validation":
        held_out = draw(st.integers(MNIST_TRAIN_IMAGES, 10**7))
        return {"trials": {"validation_size": held_out}}, f"trials.validation_size = {held_out}"
    degree = draw(st.integers(1, 10))
    iterations = draw(st.integers(1, degree))
    return (
        {"fit": {"degree": degree}, "trials": {"iterations": iterations}},
        f"fit.degree = {degree}: not allowed; a polynomial of degree d needs at least d + 1",
    )


def assert_rejected_naming(overlay: dict, *expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        validate(overlay, SCHEMA)
    message = str(error.value)
    for fragment in expected:
        assert fragment in message
    assert message.startswith("Invalid configuration (")
    assert "config/README.md" in message


@SETTINGS
@given(schema_violations())
@example(({"trials": {"iterations": 50.0}}, "trials.iterations = 50.0"))
@example(({"trials": {"learning_rate": 0}}, "trials.learning_rate = 0"))
@example(({"trials": {"learning_rate": -0.1}}, "trials.learning_rate = -0.1"))
@example(({"trials": {"learning_rate": math.nan}}, "trials.learning_rate = NaN"))
@example(({"mnist": {"timeout": 1e300}}, "mnist.timeout = 1e+300"))
def test_wrong_types_and_out_of_range_values_are_rejected(case):
    assert_rejected_naming(*case)


@SETTINGS
@given(st.one_of(st.floats(max_value=0, allow_nan=False), st.integers(max_value=0)))
def test_a_zero_or_negative_learning_rate_is_rejected(rate):
    assert_rejected_naming({"trials": {"learning_rate": rate}}, "trials.learning_rate = ")


@SETTINGS
@given(unknown_keys())
def test_unknown_keys_are_rejected(case):
    assert_rejected_naming(*case)


@SETTINGS
@given(foreign_mirrors())
@example(({"mnist": {"mirrors": ["javascript:alert(1)"]}}, "mnist.mirrors.0 = "))
@example(({"mnist": {"mirrors": ["ftp://mirror.example/mnist/"]}}, "mnist.mirrors.0 = "))
def test_mirrors_other_than_http_https_file_or_a_folder_are_rejected(case):
    assert_rejected_naming(*case, "expected an http://, https:// or file:// URL, or a local folder")


@SETTINGS
@given(bad_seeds())
def test_duplicate_or_negative_seeds_are_rejected(case):
    assert_rejected_naming(*case)


@SETTINGS
@given(beyond_the_data())
def test_settings_the_data_or_the_trace_cannot_support_are_rejected(case):
    assert_rejected_naming(*case)


@SETTINGS
@given(st.lists(schema_violations(), min_size=2, max_size=3, unique_by=lambda c: next(iter(c[0]))))
def test_every_problem_is_named_at_once(cases):
    overlay = {}
    for case_overlay, _ in cases:
        overlay = merge(overlay, case_overlay)
    assert_rejected_naming(overlay, *(fragment for _, fragment in cases))


@SETTINGS
@given(
    seeds=st.lists(st.integers(0, 2**63), min_size=1, max_size=5, unique=True),
    iterations=st.integers(11, 10**5),
    degree=st.integers(1, 10),
    learning_rate=st.floats(1e-6, 10.0),
    mirrors=st.lists(
        st.sampled_from(["https://a.example/m/", "http://b.example/", "file:///m/", "/m", "m"]),
        min_size=1,
    ),
)
def test_valid_settings_are_accepted_unchanged(seeds, iterations, degree, learning_rate, mirrors):
    """The other side of the properties above: the checks do not reject what is allowed."""
    overlay = {
        "mnist": {"mirrors": mirrors},
        "trials": {"seeds": seeds, "iterations": iterations, "learning_rate": learning_rate},
        "fit": {"degree": degree},
    }
    config = validate(overlay, SCHEMA)
    assert merge(config, overlay) == config


BAD_OVERLAYS = {
    "float-iterations": ("trials:\n  iterations: 50.0\n", "trials.iterations = 50.0: not allowed"),
    "yaml-text-number": (
        "trials:\n  learning_rate: 1e-3\n",
        'trials.learning_rate = "1e-3": not allowed; expected a finite number; YAML reads 1e-3 '
        "as text",
    ),
    "ftp-mirror": (
        "mnist:\n  mirrors: [ftp://mirror.example/mnist/]\n",
        'mnist.mirrors.0 = "ftp://mirror.example/mnist/": not allowed',
    ),
    "unknown-key": ("trials:\n  seed: [1, 2]\n", "trials: unknown key(s) ['seed']"),
    "degree-beyond-iterations": (
        "trials:\n  iterations: 3\n",
        "fit.degree = 4: not allowed; a polynomial of degree d needs at least d + 1 points",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(BAD_OVERLAYS))
def test_snakemake_refuses_a_bad_config_before_any_job(case, project, mirror_dir, payloads):
    text, expected = BAD_OVERLAYS[case]
    base = write_overlay(project / "synthetic.yaml", {"mnist": {"mirrors": [str(mirror_dir)]}})
    bad = project / "bad.yaml"
    bad.write_text(text)  # as a user types it: YAML reads an unquoted 1e-3 as text
    result = snakemake(project, "--cores", "1", overlays=(base, bad), check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Invalid configuration (1 problem(s)):" in output
    assert expected in output
    assert "Error in rule" not in output
    assert not (project / "results").exists()
