"""What a benchmark writes: tables, target checks, and the report with its JSON twin.

``--out X.md`` writes the Markdown report to ``X.md`` (keeping everything from an
existing file's ``<!-- findings -->`` line on; ``X.csv``: the main table as CSV) and
``X.json`` beside it: the figures and every target with its limit, value and verdict.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

FINDINGS_MARK = "<!-- findings -->"


@dataclass
class Table:
    """Rows of cells under a header; ``align`` has one letter per column, ``l`` or ``r``."""

    header: Sequence[str]
    rows: list[Sequence[object]]
    align: str

    def __post_init__(self) -> None:
        if len(self.align) != len(self.header):
            raise ValueError(
                f"align {self.align!r} needs one letter per column ({len(self.header)})"
            )

    def markdown(self) -> str:
        rule = "|" + "|".join("---" if a == "l" else "---:" for a in self.align) + "|"
        lines = ["| " + " | ".join(map(str, row)) + " |" for row in (self.header, *self.rows)]
        return "\n".join([lines[0], rule, *lines[1:]])

    def csv(self) -> str:
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows([self.header, *self.rows])
        return text.getvalue()


@dataclass(frozen=True)
class Check:
    """One target: ``value`` at most (``at_least``: at least) ``limit``; ``measured``: the
    value as printed; ``details``: more columns of the targets table."""

    target: str
    value: float
    limit: float
    measured: str
    at_least: bool = False
    details: dict[str, str] = field(default_factory=dict)

    @property
    def met(self) -> bool:
        return self.value >= self.limit if self.at_least else self.value <= self.limit


def checks_table(checks: Sequence[Check]) -> Table:
    """target | measured | the checks' details | met (yes / **no**)."""
    details = list(checks[0].details) if checks else []
    rows = [
        [c.target, c.measured, *c.details.values(), "yes" if c.met else "**no**"] for c in checks
    ]
    return Table(["target", "measured", *details, "met"], rows, "lr" + "r" * len(details) + "l")


@dataclass
class Report:
    """A benchmark's Markdown, its main table, its figures (JSON-ready) and target checks."""

    markdown: str
    table: Table
    figures: dict
    checks: list[Check] = field(default_factory=list)

    def write(self, out: str | Path) -> None:
        """``out`` (.md: the report; .csv: the main table) and ``out`` as .json."""
        out = Path(out)
        if out.suffix == ".csv":
            out.write_text(self.table.csv())
        else:
            old = out.read_text() if out.is_file() else ""
            kept = "\n" + old[old.index(FINDINGS_MARK) :] if FINDINGS_MARK in old else ""
            out.write_text(self.markdown + "\n" + kept)
        targets = [dict(asdict(check), met=check.met) for check in self.checks]
        text = json.dumps(dict(figures=self.figures, targets=targets), indent=1, default=str)
        out.with_suffix(".json").write_text(text + "\n")
