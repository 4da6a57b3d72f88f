"""Send a Snakemake job's stderr and log records to its log file."""

from __future__ import annotations

import logging
import sys


def redirect_to_log(path: str) -> None:
    """Append stderr (tracebacks included) and INFO-level logging to ``path``, line-buffered."""
    sys.stderr = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - lives for the job
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
