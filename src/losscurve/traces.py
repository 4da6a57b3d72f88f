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


def write_trace(path: str | Path, trace: Trace) -> None:
    """Write under a temporary name in the same folder, then rename: never a half file."""
    path = Path(path)
    table = pa.Table.from_arrays(
        [pa.array(trace.iteration, pa.int64()), pa.array(trace.loss), pa.array(trace.accuracy)],
        schema=SCHEMA.with_metadata({METADATA_KEY: json.dumps(trace.metadata, sort_keys=True)}),
    )
    with atomic_output(path) as tmp:
        pq.write_table(table, tmp)


def rebuild_hint(path: str | Path) -> str:
    return f"rebuild it with: snakemake --cores 1 -f {path}"


def read_trace(
    path: str | Path, config_hash: str | None = None, iterations: int | None = None
) -> Trace:
    """Read a trial file and check its shape, and its config when ``config_hash`` is given."""
    path = Path(path)
    try:
        table = pq.read_table(path)
        metadata = json.loads(table.schema.metadata[METADATA_KEY])
    except (OSError, pa.ArrowException, KeyError, TypeError, ValueError) as exc:
        raise DamagedTraceError(
            f"{path}: not a readable trial file ({type(exc).__name__}: {exc}); {rebuild_hint(path)}"
        ) from exc
    if table.schema.remove_metadata() != SCHEMA:
        raise DamagedTraceError(
            f"{path}: columns {table.schema.names} with types "
            f"{[str(t) for t in table.schema.types]}, expected {SCHEMA.names} as "
            f"int64/float64/float64; {rebuild_hint(path)}"
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
