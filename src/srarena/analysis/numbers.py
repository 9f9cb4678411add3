"""How numbers are written, alike in the terminal, Markdown and the HTML report."""

from __future__ import annotations

import math
from typing import Any


def fmt(value: Any, digits: int = 4) -> str:
    """A number with ``digits`` significant digits; NaN as an en dash."""
    if value is None:
        return "–"
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return "–"
        if isinstance(value, int) or float(value).is_integer() and abs(value) < 1e6:
            return str(int(value))
        return f"{value:.{digits}g}" if abs(value) < 1e-3 or abs(value) >= 1e4 else _fixed(
            value, digits)
    return str(value)


def _fixed(value: float, digits: int) -> str:
    magnitude = int(math.floor(math.log10(abs(value)))) if value else 0
    return f"{value:.{max(0, digits - 1 - magnitude)}f}"


def fmt_p(p: float) -> str:
    """A p-value: three significant digits, '<1e-10' below that."""
    if p is None or not math.isfinite(p):
        return "–"
    return "<1e-10" if p < 1e-10 else f"{p:.3g}"


def p_is(p: float) -> str:
    """'p = 0.0123', or 'p < 1e-10'."""
    text = fmt_p(p)
    return f"p {text[0]} {text[1:]}" if text.startswith("<") else f"p = {text}"
