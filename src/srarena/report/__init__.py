"""``srarena report``: a run as one HTML page (and its Markdown twin) that people open,
share and read at a glance.

From Python::

    from srarena.report import build_report

    written = build_report("runs/my-run")          # RUN/report/index.html, index.md, assets/
    written.html, written.markdown

See ``docs/report.md``.
"""

from __future__ import annotations

from .build import ReportOptions, Written, build_report
from .visuals import ReportError, VisualOptions

__all__ = ["ReportError", "ReportOptions", "VisualOptions", "Written", "build_report"]
