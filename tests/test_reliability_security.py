"""Config values never reach a shell, nothing is unpickled, metadata is JSON.

The static checks read the package, the job scripts and the rules; the last test feeds shell
syntax through a real Snakemake run and checks that nothing executed it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from support import REPO, snakemake, synthetic_overlay, write_overlay

PYTHON = sorted([*(REPO / "src/losscurve").glob("*.py"), *(REPO / "workflow/scripts").glob("*.py")])
RULES = sorted([REPO / "Snakefile", *(REPO / "workflow/rules").glob("*.smk")])
# Modules that run commands or unpickle: none of them belongs in the pipeline's code.
FORBIDDEN_MODULES = {"subprocess", "pickle", "shelve", "marshal", "dill", "cloudpickle"}
FORBIDDEN_CALLS = {"eval", "exec", "os.system", "os.popen", "yaml.load", "yaml.unsafe_load"}
LOADERS = {"np.load", "numpy.load"}


def dotted_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted_name(node.value)}.{node.attr}"
    return ""


def problems(tree: ast.AST) -> list[str]:
    """Imports of FORBIDDEN_MODULES, calls of FORBIDDEN_CALLS, numpy loads that may unpickle."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [alias.name for alias in node.names]
            if {n.split(".")[0] for n in names} & FORBIDDEN_MODULES:
                found.append(ast.unparse(node))
        if isinstance(node, ast.Call):
            name = dotted_name(node.func)
            pickle = {k.arg: k.value for k in node.keywords}.get("allow_pickle")
            refused = isinstance(pickle, ast.Constant) and pickle.value is False
            if name in FORBIDDEN_CALLS or (name in LOADERS and not refused):
                found.append(ast.unparse(node))
    return found


@pytest.mark.parametrize("path", PYTHON, ids=lambda p: str(p.relative_to(REPO)))
def test_no_shell_no_eval_no_pickle_in_the_code(path):
    assert problems(ast.parse(path.read_text(), filename=str(path))) == []


def test_the_check_finds_each_forbidden_pattern():
    lines = [
        "import subprocess",
        "from pickle import loads",
        "np.load(path)",
        "numpy.load(path, allow_pickle=True)",
        "eval(text)",
        "os.system(command)",
        "yaml.load(stream)",
    ]
    assert problems(ast.parse("\n".join(lines))) == lines
    assert problems(ast.parse("np.load(path, mmap_mode='r', allow_pickle=False)")) == []


@pytest.mark.parametrize("path", RULES, ids=lambda p: str(p.relative_to(REPO)))
def test_rules_run_python_scripts_never_a_shell_command(path):
    """Each job is a `script:`; a `shell:` or `run:` block could interpolate config values."""
    directives = re.findall(r"^\s+(shell|run|script|notebook|wrapper|cwl):", path.read_text(), re.M)
    assert set(directives) <= {"script"}, path


def test_trial_metadata_is_json():
    traces = (REPO / "src/losscurve/traces.py").read_text()
    assert "json.dumps(trace.metadata" in traces
    assert "json.loads(" in traces


@pytest.mark.slow
def test_shell_syntax_in_a_mirror_is_a_path_and_nothing_runs(project, tmp_path, payloads):
    """A mirror is the one free-text value in the config: it must stay a path."""
    marker = tmp_path / "executed"
    hostile = [
        f"$(touch {marker})/",
        f"`touch {marker}`/",
        f"x; touch {marker} #/",
        f"x | touch {marker}/",
    ]
    overlay = write_overlay(project / "hostile.yaml", synthetic_overlay(hostile, payloads))
    name = "t10k-labels-idx1-ubyte"
    result = snakemake(
        project, "--cores", "1", f"results/mnist/{name}.gz", overlays=(overlay,), check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"Could not download {name}.gz from any of 4 mirror(s)" in output
    listed = re.findall(rf"^  - file://\S+/{name}.gz: not found: ", output, re.MULTILINE)
    assert len(listed) == len(hostile)
    assert not marker.exists()
    assert not list(Path(project).glob("**/executed"))
