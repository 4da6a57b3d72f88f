"""One trial's loss trace as a Parquet file: written atomically, read back with checks.

Columns: ``iteration`` (int64), ``loss`` (float64), ``accuracy`` (float64), one row per
iteration. The file's key-value metadata holds one JSON document under ``losscurve``: the seed,
the trial config and its hash, test loss and accuracy, wall time, versions, and the SLURM job id
when the trial ran under SLURM. Uses pyarrow only (no pandas), so a trial job stays light.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .files import atomic_output

METADATA_KEY = b"losscurve"
SCHEMA = pa.schema([("iteration", pa.int64()), ("loss", pa.float64()), ("accuracy", pa.float64())])


class DamagedTraceError(ValueError):
    """A trial file is unreadable, malformed, or from another configuration."""


@dataclass
class Trace:
    iteration: np.ndarray  # (n,) int64, 0 .. n - 1
    loss: np.ndarray  # (n,) float64
    accuracy: np.ndarray  # (n,) float64
    metadata: dict[str, Any]


def arrow_array(values: np.ndarray, type_: pa.DataType) -> pa.Array:
    """A 1-D numpy array as an Arrow array of ``type_``, zero-copy where the dtype matches.

    Built from its buffer because ``pa.array(ndarray)`` imports pandas (a third of a second)
    to check for pandas types, and a trial job has no other use for pandas.
    """
    values = np.ascontiguousarray(values, dtype=type_.to_pandas_dtype())
    return pa.Array.from_buffers(type_, len(values), [None, pa.py_buffer(values)])


def write_trace(path: str | Path, trace: Trace) -> None:
    """Write under a temporary name in the same folder, then rename: never a half file."""
    path = Path(path)
    columns = (trace.iteration, trace.loss, trace.accuracy)
    table = pa.Table.from_arrays(
        [arrow_array(c, field.type) for c, field in zip(columns, SCHEMA, strict=True)],
        schema=SCHEMA.with_metadata({METADATA_KEY: json.dumps(trace.metadata, sort_keys=True)}),
    )
    try:
        with atomic_output(path) as tmp:
            pq.write_table(table, tmp)
    except OSError as exc:
        # pyarrow's message names neither the file nor the fix (e.g. "Error writing bytes")
        raise OSError(
            exc.errno,
            f"cannot write {path}: {exc.strerror or exc}; make room on (or get write access to) "
            f"{path.parent}, then rerun",
        ) from exc


def rebuild_hint(path: str | Path) -> str:
    return f"rebuild it with: snakemake --cores 1 -f {path}"


def trial_metadata(schema: pa.Schema) -> dict[str, Any] | None:
    """The JSON object stored under METADATA_KEY, or None when it is missing or malformed."""
    try:
        metadata = json.loads((schema.metadata or {})[METADATA_KEY])
    except (KeyError, ValueError):
        return None
    return metadata if isinstance(metadata, dict) else None


def read_trace(
    path: str | Path, config_hash: str | None = None, iterations: int | None = None
) -> Trace:
    """Read a trial file and check its shape, and its config when ``config_hash`` is given."""
    path = Path(path)
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise DamagedTraceError(
            f"{path}: not a readable trial file ({type(exc).__name__}: {exc}); {rebuild_hint(path)}"
        ) from exc
    if table.schema.remove_metadata() != SCHEMA:
        raise DamagedTraceError(
            f"{path}: columns {table.schema.names} with types "
            f"{[str(t) for t in table.schema.types]}, expected {SCHEMA.names} as "
            f"int64/float64/float64; {rebuild_hint(path)}"
        )
    metadata = trial_metadata(table.schema)
    if metadata is None:
        raise DamagedTraceError(
            f"{path}: no trial metadata (key {METADATA_KEY.decode()!r}), so not a trial file of "
            f"this workflow; {rebuild_hint(path)}"
        )
    iteration = table["iteration"].to_numpy()
    n = len(iteration) if iterations is None else iterations
    if len(iteration) != n or not np.array_equal(iteration, np.arange(n)):
        raise DamagedTraceError(
            f"{path}: holds {len(iteration)} rows, expected iterations 0 .. {n - 1}; "
            f"{rebuild_hint(path)}"
        )
    if config_hash is not None and metadata.get("config_hash") != config_hash:
        raise DamagedTraceError(
            f"{path}: written for trial config {metadata.get('config_hash')}, the current config "
            f"is {config_hash}; {rebuild_hint(path)}"
        )
    return Trace(
        iteration=iteration,
        loss=table["loss"].to_numpy(),
        accuracy=table["accuracy"].to_numpy(),
        metadata=metadata,
    )
