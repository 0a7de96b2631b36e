"""Tables that read in a narrow terminal: one line per row, names never cut.

Rich shrinks a table that is wider than the console by wrapping or cutting its cells
(`order_paym…`, a timestamp over three lines). These tables are laid out without borders,
every cell on one line; when they would still be too wide, the least needed columns are left
out, in the order the caller ranks them.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.table import Table
from rich.text import Text

GAP = 2  # columns are set apart by two spaces


@dataclass(frozen=True)
class Column:
    """One column.

    Attributes:
        header: Its heading.
        right: Right-aligned (numbers).
        drop: 0 if it must stay; otherwise the order in which columns are left out when the
            table is too wide for the console (1 first).
    """

    header: str
    right: bool = False
    drop: int = 0


def fitted_table(
    console: Console, columns: list[Column], rows: list[list[str]], styles: list[str | None] | None = None
) -> Table:
    """A borderless table of `rows` (cells may hold Rich markup; `styles`: one per row), as wide as its cells.

    Columns with a `drop` rank are left out, first rank first, until the table fits
    `console.width`; then the columns close up to one space apart. A table that still does not
    fit keeps the first column's names whole and cuts the other cells.
    """
    widths = [max([len(c.header)] + [Text.from_markup(row[i]).cell_len for row in rows]) for i, c in enumerate(columns)]
    shown = list(range(len(columns)))
    gap = GAP

    def width() -> int:
        return sum(widths[i] for i in shown) + gap * (len(shown) - 1)

    for rank in sorted({c.drop for c in columns if c.drop}):
        if width() <= console.width:
            break
        shown = [i for i in shown if columns[i].drop != rank]
    if width() > console.width:
        gap = 1
    table = Table(box=None, padding=(0, 0, 0, gap), pad_edge=False, header_style="bold", show_edge=False,
                  collapse_padding=True)
    for position, i in enumerate(shown):
        # The first column (the names) keeps its width; if the table is still too wide, the others give way.
        table.add_column(columns[i].header, justify="right" if columns[i].right else "left", no_wrap=True,
                         min_width=widths[i] if position == 0 else None)
    for row, style in zip(rows, styles or [None] * len(rows), strict=True):
        table.add_row(*(row[i] for i in shown), style=style)
    return table
