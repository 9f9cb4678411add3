"""What could not run and what failed, said once: counted by cause, with the command that
fixes most of it, and failures grouped by (component, reason) with one example and a fix
derived from the data.

Pure functions of the rows the engine records (no rich, no torch): the console and
``srarena plugins`` print what these return.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..availability import FIRST_USE_FIX, NEEDS_GPU

FETCH_ALL = "srarena weights fetch --all"
LISTED = 3
"""A cause names its components when it has at most this many."""
KINDS = ("upscaler", "metric", "dataset")
"""The order kinds are counted in."""


@dataclass
class Cause:
    """One reason components could not run, and what fixes it for all of them."""

    what: str
    fix: str
    names: dict[str, list[str]] = field(default_factory=dict)  # kind -> names

    @property
    def count(self) -> int:
        return sum(len(names) for names in self.names.values())

    def line(self) -> str:
        """E.g. ``9 upscalers, 1 metric need weights: srarena weights fetch --all``."""
        parts = [counted(len(names), kind) for kind, names in self.names.items()]
        every = [name for names in self.names.values() for name in names]
        listed = f" ({', '.join(every)})" if len(every) <= LISTED else ""
        verb = self.what if self.count > 1 else singular(self.what)
        return f"{', '.join(parts)}{listed} {verb}" + (f": {self.fix}" if self.fix else "")


def counted(count: int, noun: str) -> str:
    """``1 upscaler``, ``2 upscalers``."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def singular(verb_phrase: str) -> str:
    """``need weights`` -> ``needs weights`` (the first word takes an s)."""
    first, _, rest = verb_phrase.partition(" ")
    return f"{first}s" + (f" {rest}" if rest else "")


def _cause_of(row: Mapping[str, str]) -> tuple[str, str] | None:
    """(what, fix) shared by every component with this row's cause; None for a cause that
    is told one by one (an unreadable dataset, an unreachable scale, a load failure)."""
    fix, reason = row.get("fix") or "", row.get("reason") or ""
    if fix.startswith("srarena weights fetch "):
        return "need weights", FETCH_ALL
    if fix.startswith("srarena weights add "):
        return "need weights added by hand", "see srarena weights list"
    if fix == FIRST_USE_FIX:
        return "need one run online first (their library downloads its files)", (
            "run them once without SRARENA_OFFLINE/HF_HUB_OFFLINE")
    if fix.startswith("pip install "):
        return "need an extra", fix
    if reason.startswith(NEEDS_GPU):
        return "need a CUDA GPU", "--device cuda on a machine with one"
    return None


def not_run(rows: Iterable[Mapping[str, str]]) -> tuple[list[Cause], list[Mapping[str, str]]]:
    """The causes shared by several components (most components first), and the rows told
    one by one. ``rows``: ``kind``, ``name``, ``reason``, ``fix`` (``Summary.skipped``)."""
    causes: dict[tuple[str, str], Cause] = {}
    alone = []
    for row in rows:
        cause = _cause_of(row)
        if cause is None:
            alone.append(row)
            continue
        found = causes.setdefault(cause, Cause(*cause))
        found.names.setdefault(row["kind"], []).append(row["name"])
    for cause in causes.values():
        cause.names = dict(sorted(cause.names.items(), key=lambda kv: KINDS.index(kv[0])
                                  if kv[0] in KINDS else len(KINDS)))
    return sorted(causes.values(), key=lambda c: -c.count), alone


def fix_hint(fix: str) -> str:
    """A fix as said to the user: an srarena command as "run `...`", words as they are."""
    return f"run `{fix}`" if fix.startswith("srarena ") else fix


# --- failures --------------------------------------------------------------------------------

SIZES = re.compile(r"SR size \((\d+), (\d+)\) differs from HR size \((\d+), (\d+)\)")


def reason_key(reason: str) -> str:
    """A reason with its numbers blanked: the same failure on images of other sizes."""
    return re.sub(r"\d+", "#", reason)


def component_of(row: Mapping[str, Any]) -> str:
    """Who failed: the metric of a score, the upscaler of an output or cell, the dataset of
    an input."""
    if row["kind"] == "score":
        return str(row["metric"])
    if row["kind"] == "input":
        return str(row["dataset"])
    return str(row["upscaler"])


def scale_fix(reason: str, scale: int | None) -> str:
    """For "SR size differs from HR size": the scale at which the sizes agree, read from
    the sizes (``the HR is 8x the LR: use --scale 8``); empty if they say nothing clear."""
    match = SIZES.search(reason)
    if match is None or not scale:
        return ""
    sr_h, sr_w, hr_h, hr_w = (int(g) for g in match.groups())
    ratios = {hr_h * scale / sr_h, hr_w * scale / sr_w}
    if len(ratios) != 1:
        return ""
    ratio = ratios.pop()
    if ratio != int(ratio) or int(ratio) == scale:
        return ""
    return f"the HR is {int(ratio)}x the LR: use --scale {int(ratio)}"


@dataclass
class FailureGroup:
    """The items that failed the same way: one component, one reason (numbers aside)."""

    kind: str
    component: str
    status: str
    example: Mapping[str, Any]
    count: int = 0
    fix: str = ""

    @property
    def where(self) -> str:
        """The example's dataset/image (or dataset)."""
        return "/".join(str(self.example[k]) for k in ("dataset", "image_id")
                        if self.example.get(k))

    def headline(self) -> str:
        """E.g. ``psnr: 6 scores refused: SR size (256, 256) differs from HR size (512, 512)``
        or, for one item, ``mixed: 1 input failed at mixed/empty: ImageError: ...``."""
        verb = "refused" if self.status == "refused" else "failed"
        noun = counted(self.count, self.kind)
        at = f" at {self.where}" if self.count == 1 and self.where else ""
        return f"{self.component}: {noun} {verb}{at}: {self.example['reason'] or 'no reason'}"

    def detail(self) -> str:
        """Where the example of several is from, and the fix when one is known."""
        example = f"e.g. {self.where}" if self.count > 1 and self.where else ""
        return "; ".join(part for part in (example, self.fix and f"fix: {self.fix}") if part)


def failure_groups(rows: Iterable[Mapping[str, Any]], scale: int | None) -> list[FailureGroup]:
    """Failures (``Store.failures()`` rows) grouped by (kind, component, reason), the
    largest group first."""
    groups: dict[tuple[str, str, str], FailureGroup] = {}
    for row in rows:
        reason = row.get("reason") or ""
        key = (row["kind"], component_of(row), reason_key(reason))
        group = groups.get(key)
        if group is None:
            group = groups[key] = FailureGroup(row["kind"], key[1], str(row.get("status")),
                                               row, fix=scale_fix(reason, scale))
        group.count += 1
    return sorted(groups.values(), key=lambda g: -g.count)
