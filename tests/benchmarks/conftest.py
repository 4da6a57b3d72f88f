"""Benchmark fixtures: the real MNIST arrays prepared once, and the table of figures.

Each benchmark adds its rows to ``figures``; the whole table (Markdown, as pasted into
docs/performance.md) is printed at the end of the session together with the machine's load
before and after, so a noisy run can be told from a quiet one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Figure:
    name: str
    value: str
    goal: str
    met: bool | None  # None: informative only, or not measured


class Figures:
    def __init__(self):
        self.rows: list[Figure] = []

    def add(self, name: str, value: str, goal: str = "", met: bool | None = None) -> None:
        self.rows.append(Figure(name, value, goal, met))
        print(f"\n{name}: {value}" + (f" (goal {goal})" if goal else ""))

    def markdown(self) -> str:
        mark = {True: "met", False: "NOT met", None: ""}
        lines = ["| Figure | Measured | Goal | |", "|---|---|---|---|"]
        lines += [f"| {f.name} | {f.value} | {f.goal} | {mark[f.met]} |" for f in self.rows]
        return "\n".join(lines)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


@pytest.fixture(scope="session")
def figures():
    table = Figures()
    before = load()
    yield table
    if table.rows:
        print(f"\n\nLoad average (1, 5, 15 min) before: {before}; after: {load()}\n")
        print(table.markdown())


@pytest.fixture(scope="session")
def mnist_arrays(real_project) -> Path:
    """The folder of the prepared real arrays (train/test images/labels .npy)."""
    project, _ = real_project
    return project / "results" / "mnist"
