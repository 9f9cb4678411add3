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
        """How the cell is going (once per computed item): which stage the upscaler waits
        for."""

    def cell_finished(self, label: str) -> None:
        """The current cell finished."""

    def note(self, text: str) -> None:
        """A message worth showing (fallbacks, back-offs, a dataset made at another scale)."""

    def failed(self, component: str, where: str, reason: str) -> None:
        """One item failed: an input of a dataset, an output of an upscaler, a score of a
        metric (``component``) at ``where``, for ``reason``."""
