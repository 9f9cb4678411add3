"""The shared listing layout: fitted to 60, 80 and 120 columns, names never cut, and the
``--format`` option."""

from __future__ import annotations

import io
import json

import pytest
import typer
from rich.console import Console
from rich.text import Text
from typer.testing import CliRunner

from srarena.cli.layout import (
    Column,
    Format,
    emit_json,
    fitted_table,
    format_option,
    json_option,
    print_table,
    short_source,
    wants_json,
)

NAMES = ["spandrel:realesr-general-x4v3", "spandrel:hat-real-x4-sharper", "bicubic",
         "moesr-emad2022", "dan-v1-setting2"]
SOURCE = ("https://github.com/xinntao/Real-ESRGAN/releases/download/v0.2.5.0/"
          "realesr-general-x4v3.pth")
COLUMNS = [
    Column("name", whole=True),
    Column("status", priority=1, whole=True),
    Column("reason", priority=3),
    Column("fix", priority=2, whole=True),
    Column("version", priority=4, merge_into="name", whole=True),
]


def rows() -> list[dict]:
    return [{"name": name, "status": Text("needs weights", style="yellow"),
             "reason": f"weights missing: {name}.pth from {short_source(SOURCE)} (a long "
                       "explanation that has to wrap at narrow widths)",
             "fix": f"srarena weights fetch {name}", "version": "1.0.0"} for name in NAMES]


def render(width: int, columns=COLUMNS, data=None, **options) -> str:
    console = Console(file=io.StringIO(), width=width, force_terminal=False)
    print_table(console, columns, data if data is not None else rows(), **options)
    return console.file.getvalue()


@pytest.mark.parametrize("width", [60, 80, 120])
def test_every_name_appears_whole_and_no_line_is_wider_than_the_terminal(width):
    text = render(width, title="components")
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    words = text.split()
    for name in NAMES:
        assert name in words, f"{name} cut at {width} columns:\n{text}"
    assert "…" not in text
    if "fix" in lines[1].split():  # the fix column is shown: every word of it whole
        assert {"srarena", "weights", "fetch"} <= set(words)


def test_columns_leave_by_priority_and_say_where_they_went():
    wide, narrow = render(200), render(60)
    header = next(line for line in wide.splitlines() if line.strip())
    assert header.split() == ["name", "status", "reason", "fix", "version"]
    narrow_header = next(line for line in narrow.splitlines() if line.strip())
    assert "reason" not in narrow_header and "version" not in narrow_header
    assert "name" in narrow_header and "status" in narrow_header
    # version merged under the name (dim line), reason left out and named in the caption
    assert "1.0.0" in narrow
    caption = " ".join(narrow.split())
    assert "not shown at 60 columns: reason" in caption and "(see --format json)" in caption


def test_merge_goes_to_the_caption_when_its_target_leaves():
    columns = [Column("name", whole=True), Column("a", priority=2, whole=True),
               Column("b", priority=1, merge_into="a", whole=True)]
    data = [{"name": "n" * 20, "a": "x" * 30, "b": "y" * 30}]
    text = " ".join(render(40, columns, data).split())
    assert "n" * 20 in text and "x" * 30 not in text and "y" * 30 not in text
    assert "not shown at 40 columns: a, b" in text


def test_rows_become_blocks_when_even_the_essential_columns_do_not_fit():
    columns = [Column("name", whole=True), Column("command", whole=True)]
    data = [{"name": name, "command": f"srarena weights fetch {name}"} for name in NAMES]
    text = render(50, columns, data, title="blocks")
    lines = [line.rstrip() for line in text.splitlines()]
    assert lines[0] == "blocks"
    for name in NAMES:  # the name alone on its line, the command under it (wrapped whole)
        block = lines[lines.index(name) + 1:][:2]
        assert block[0].startswith("  command: srarena weights fetch")
        assert name in " ".join(block).split()
    assert max(len(line) for line in lines) <= 50


def test_wide_terminals_show_everything_on_one_line_per_row():
    text = render(400)
    body = [line for line in text.splitlines() if "spandrel:" in line]
    assert len(body) == 2 and all(short_source(SOURCE) in line for line in body)
    assert "not shown" not in text


def test_a_table_can_be_rendered_without_printing():
    console = Console(file=io.StringIO(), width=60)
    table = fitted_table(console, COLUMNS, rows(), caption="mine", more="the report")
    console.print(table)
    text = " ".join(console.file.getvalue().split())
    assert "mine" in text and "(see the report)" in text


def test_short_source_keeps_the_host_only():
    assert short_source(SOURCE) == "github.com"
    assert short_source("https://www.dropbox.com/s/abc/file.pth?dl=1") == "dropbox.com"
    assert short_source("hf://owner/repo/model.safetensors") == "hf://owner"
    assert short_source("by hand from the authors") == "by hand from the authors"


def test_format_options_and_json_output():
    app = typer.Typer()

    @app.command()
    def listing(output: Format = format_option(), as_json: bool = json_option()) -> None:
        if wants_json(output, as_json):
            emit_json([{"name": "bicubic", "path": output}])
        else:
            typer.echo("table")

    runner = CliRunner()
    assert runner.invoke(app, []).output == "table\n"
    for args in (["--format", "json"], ["--format", "JSON"], ["--json"]):
        result = runner.invoke(app, args)
        assert json.loads(result.output)[0]["name"] == "bicubic", args
    refused = runner.invoke(app, ["--format", "yaml"])
    assert refused.exit_code == 2 and "yaml" in refused.output


def test_a_merged_column_keeps_its_own_rule_for_long_words():
    """A column that may fold, merged under a name column, folds there: it does not force
    the table into blocks nor out of sight."""
    columns = [Column("name", whole=True), Column("fix", whole=True),
               Column("reason", priority=1, merge_into="name")]
    long_file = "003_realSR_BSRGAN_DFOWMFC_s64w8_SwinIR-L_x4_GAN.pth"
    data = [{"name": "spandrel:swinir", "fix": "srarena weights fetch swinir",
             "reason": f"weights missing: {long_file}"}]
    text = render(40, columns, data)
    lines = text.splitlines()
    assert lines[0].split() == ["name", "fix"] and max(len(line) for line in lines) <= 40
    assert "spandrel:swinir" in text.split() and "not shown" not in text
    assert long_file not in text and "".join(text.split()).count(long_file) == 1  # folded


def test_an_indented_name_keeps_its_indent_and_stays_whole():
    """A whole column is as wide as its longest word plus the indent before it, so an
    indented name is not folded by the two spaces before it."""
    long_file = "003_realSR_BSRGAN_DFOWMFC_s64w8_SwinIR-L_x4_GAN.pth"
    columns = [Column("name", whole=True), Column("status", whole=True)]
    data = [{"name": "spandrel-swinir-l-x4-real", "status": "0/1"},
            {"name": f"  {long_file}", "status": "missing"}]
    lines = render(80, columns, data).splitlines()
    assert any(line.startswith(f"  {long_file} ") for line in lines), "\n".join(lines)
