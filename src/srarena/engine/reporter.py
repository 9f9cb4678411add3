"""How the engine tells the user what it is doing (rich progress, or nothing in tests)."""

from __future__ import annotations


class Reporter:
    """Silent reporter; the CLI's rich reporter overrides these."""

    def cell_started(self, label: str, total: int) -> None:
        """A cell (one upscaler on one dataset) starts with ``total`` items."""

    def item_done(self, label: str) -> None:
        """One item of the current cell finished (computed, reused or failed)."""

    def inner(self, done: int, total: int, what: str) -> None:
        """An implementation's inner loop (fine-tuning, training) advanced."""

    def stage(self, label: str, text: str) -> None:
        """How the cell is going: items/s and which stage the upscaler waits for."""

    def cell_finished(self, label: str) -> None:
        """The current cell finished."""

    def note(self, text: str) -> None:
        """A message worth showing (skips, fallbacks, back-offs)."""
