"""NIQE, the study's naturalness metric, in two variants (``niqe`` and ``niqe-study``).

:mod:`.metric` holds the two metrics, :mod:`.features` the feature pipeline shared by both,
:mod:`.greys` and :mod:`.refit` each variant's own steps, :mod:`.cpu` the Numba kernels,
:mod:`.torch_kernels` the same kernels on a torch device, and :mod:`.compiled` the Numba and
thread-pool plumbing they run on.
"""

from __future__ import annotations

from .metric import NIQE, NIQEStudy

__all__ = ["NIQE", "NIQEStudy"]
