"""Listings that stay legible from 60 columns up, and the ``--format table|json`` they share.

:func:`print_table` lays out rows for the console's width: every column gets at least the
width of its longest word in ``whole`` columns (component names, numbers, commands: never
cut, never split; a list of names wraps between names) and a few characters elsewhere
(long words folded). When the columns do not fit, the least important ones go first
(highest ``priority`` first): merged as a dim line under the column named by
``merge_into``, or left out and named in the caption (``--format json`` has them all).
When even the essential columns do not fit, each row becomes a block: its name on a line
of its own, the other fields indented under it.

Nothing here imports rich until a table is drawn: command modules import the option
definitions when ``srarena --help`` starts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import typer

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import Console, RenderableType
    from rich.table import Table
    from rich.text import Text

    Cell = str | Text

NARROWEST = 8
"""The narrowest a column whose long words may be folded becomes."""
COMFORTABLE = 20
"""The width from which a wrapped column still reads well: columns leave before another
one has to become narrower than this."""


# --- --format ------------------------------------------------------------------------------


class Format(str, Enum):
    """How a listing is printed: a table for people or JSON for scripts."""

    table = "table"
    json = "json"


def format_option() -> Any:
    """``--format table|json``, the same on every listing command."""
    return typer.Option(Format.table, "--format", case_sensitive=False,
                        help="table (for people, fitted to the terminal's width) or json "
                             "(every field in full, for scripts).")


def json_option() -> Any:
    """``--json``, short for ``--format json``."""
    return typer.Option(False, "--json", help="Short for --format json.")


def wants_json(output: Format, as_json: bool) -> bool:
    """Whether ``--format json`` or ``--json`` was given."""
    return as_json or output is Format.json


def emit_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout (paths and other objects as strings)."""
    typer.echo(json.dumps(data, indent=2, default=str))


def short_source(text: str) -> str:
    """A URL as its host (``https://github.com/a/b/x.pth`` -> ``github.com``, ``hf://o/r/f``
    -> ``hf://o``); anything else unchanged. The full text belongs in ``--format json`` or
    ``--verbose``."""
    parts = urlsplit(text.strip())
    if not parts.scheme or not parts.netloc or " " in text.strip():
        return text
    if parts.scheme in ("http", "https"):
        return parts.netloc.removeprefix("www.")
    return f"{parts.scheme}://{parts.netloc}"  # e.g. hf://owner/repo/file -> hf://owner


# --- tables --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of a listing.

    ``key`` picks the cell from each row (a dict); ``priority`` 0 is always shown, higher
    numbers leave first as the width shrinks (ties: the rightmost first); ``whole`` keeps
    every word of the column unbroken (names, numbers, commands); a column that leaves goes
    under ``merge_into``'s cell if that column is shown, else into the caption's list.
    """

    key: str
    header: str = ""
    priority: int = 0
    whole: bool = False
    merge_into: str | None = None
    justify: Literal["left", "right"] = "left"

    @property
    def title(self) -> str:
        return self.header or self.key


def _plain(cell: Cell) -> str:
    return cell if isinstance(cell, str) else cell.plain


def _longest_word(text: str) -> int:
    """The widest word, a line's indent counted with its first word (an indented name
    stays on one line)."""
    from rich.cells import cell_len

    widths = []
    for line in text.splitlines():
        words = line.split()
        if words:
            indent = cell_len(line) - cell_len(line.lstrip())
            widths += [indent + cell_len(words[0]), *(cell_len(w) for w in words[1:])]
    return max(widths, default=0)


def _longest_line(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(line) for line in text.splitlines()), default=0)


def _joined(main: Cell, extra: Cell) -> Cell:
    """``extra`` as a dim line under ``main``."""
    from rich.text import Text

    if not _plain(extra):
        return main
    if not _plain(main):
        return Text(_plain(extra), style="dim")
    first = main if isinstance(main, Text) else Text(main)
    return Text.assemble(first, "\n", Text(_plain(extra), style="dim"))


@dataclass
class _Plan:
    columns: list[Column]
    rows: list[dict[str, Cell]]
    unbroken: list[dict[str, str]]
    """Per row and shown column, the text whose words must stay whole: its own if the
    column is ``whole``, and that of the ``whole`` columns merged into it."""
    left_out: list[Column]


def _plan(columns: Sequence[Column], rows: Sequence[dict[str, Any]],
          shown: list[Column]) -> _Plan:
    """The rows' cells for the ``shown`` columns, the others merged where they may go."""
    keys = {c.key for c in shown}
    cells: list[dict[str, Cell]] = []
    unbroken: list[dict[str, str]] = []
    for row in rows:
        cell = {c.key: row.get(c.key, "") or "" for c in shown}
        whole = {c.key: _plain(cell[c.key]) if c.whole else "" for c in shown}
        for column in columns:
            if column.key not in keys and column.merge_into in keys:
                target, extra = column.merge_into, row.get(column.key, "") or ""
                cell[target] = _joined(cell[target], extra)
                if column.whole:
                    whole[target] += "\n" + _plain(extra)
        cells.append(cell)
        unbroken.append(whole)
    left_out = [c for c in columns if c.key not in keys and c.merge_into not in keys]
    return _Plan(shown, cells, unbroken, left_out)


def _widths(plan: _Plan) -> tuple[list[int], list[int]]:
    """Each shown column's narrowest and natural width: no whole word (nor header word)
    split, other words folded down to ``NARROWEST``."""
    narrowest, natural = [], []
    for column in plan.columns:
        texts = [_plain(row[column.key]) for row in plan.rows] + [column.title]
        whole = [row[column.key] for row in plan.unbroken] + [column.title]
        foldable = min(max(_longest_word(t) for t in texts), NARROWEST)
        narrowest.append(max(foldable, max(_longest_word(t) for t in whole)))
        natural.append(max(_longest_line(t) for t in texts))
    return narrowest, natural


def _share(narrowest: list[int], natural: list[int], room: int) -> list[int]:
    """Widths that fill ``room``: every column up to one common level, none under its
    narrowest nor over its natural width (the widest columns give way first)."""

    def at(level: int) -> list[int]:
        return [max(low, min(high, level)) for low, high in zip(narrowest, natural,
                                                                  strict=True)]

    level = max(natural, default=0)
    while level > 0 and sum(at(level)) > room:
        level -= 1
    return at(level)


def _new_table(columns: Sequence[Column], widths: Sequence[int] | None, title: str | None,
               caption: str | None) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False, padding=(0, 1, 0, 0), title_justify="left",
                  caption_justify="left", title_style="bold")
    for i, column in enumerate(columns):
        table.add_column(column.title, justify=column.justify, overflow="fold",
                         width=widths[i] if widths else 1)
    return table


def _overhead(console: Console, count: int) -> int:
    """The width a table's separators and padding take beyond its columns' widths."""
    from rich.measure import Measurement

    probe = _new_table([Column(str(i)) for i in range(count)], None, None, None)
    options = console.options.update_width(10_000)
    return Measurement.get(console, options, probe).maximum - count


def _candidates(columns: Sequence[Column]) -> list[list[Column]]:
    """The column sets to try, from all of them to the essential ones: the least important
    (highest ``priority``; of equals, the rightmost) leaves first."""
    shown = list(columns)
    found = [list(shown)]
    while optional := [c for c in shown if c.priority > 0]:
        shown.remove(max(reversed(optional), key=lambda c: c.priority))
        found.append(list(shown))
    return found


def fitted_table(console: Console, columns: Sequence[Column], rows: Sequence[dict[str, Any]],
                 *, title: str | None = None, caption: str | None = None,
                 more: str = "--format json") -> RenderableType:
    """The table of ``rows`` for ``console.width`` (see the module's docstring); ``more``
    says where left-out columns can be read.

    The chosen columns are the most that fit comfortably (each at its natural width or
    ``COMFORTABLE``, whichever is less), else the essential ones if they fit at all (at
    their narrowest): a column leaves before another one must wrap to a sliver.
    """
    width = console.width
    plans = []
    for shown in _candidates(columns):
        plan = _plan(columns, rows, shown)
        narrowest, natural = _widths(plan)
        room = width - _overhead(console, len(shown))
        comfortable = sum(max(low, min(high, COMFORTABLE))
                          for low, high in zip(narrowest, natural, strict=True))
        plans.append((plan, narrowest, natural, room, comfortable))
    essential = plans[-1]
    fitting = ([p for p in plans if p[4] <= p[3]]
               or ([essential] if sum(essential[1]) <= essential[3] else []))
    if not fitting:
        return _blocks(columns, rows, title, caption)
    plan, narrowest, natural, room, _ = fitting[0]
    notes = [caption] if caption else []
    if plan.left_out:
        names = ", ".join(c.title for c in plan.left_out)
        notes.append(f"not shown at {width} columns: {names} (see {more})")
    table = _new_table(plan.columns, _share(narrowest, natural, room), title,
                       "\n".join(notes) or None)
    for row in plan.rows:
        table.add_row(*(row[c.key] for c in plan.columns))
    return table


def _blocks(columns: Sequence[Column], rows: Sequence[dict[str, Any]], title: str | None,
            caption: str | None) -> RenderableType:
    """Each row as a block: its first field alone on a line, the essential others under it."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.text import Text

    first, *others = columns
    parts: list[Any] = [Text(title, style="bold")] if title else []
    for row in rows:
        parts.append(Text(_plain(row.get(first.key, "") or ""), style="bold"))
        for column in others:
            value = row.get(column.key, "") or ""
            if column.priority == 0 and _plain(value):
                line = Text.assemble((f"{column.title}: ", "dim"), value)
                parts.append(Padding(line, (0, 0, 0, 2), expand=False))
    if caption:
        parts.append(Text(caption, style="dim"))
    return Group(*parts)


def print_table(console: Console, columns: Sequence[Column], rows: Sequence[dict[str, Any]],
                **options: Any) -> None:
    """Print :func:`fitted_table` (same options) on ``console``."""
    console.print(fitted_table(console, columns, rows, **options))
