"""CUDA settings for implementations that must match their official float32 results."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def exact_cuda(device: Any) -> Iterator[None]:
    """On a CUDA ``device`` (a torch device or its name): deterministic cuDNN, no
    autotuning and no TF32 while inside, restored afterwards; elsewhere nothing. For
    methods that amplify tiny differences (per-image fine-tuning, kernel refinement), whose
    official code predates TF32."""
    if not str(device).startswith("cuda"):
        yield
        return
    import torch

    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    saved = (cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32)
    cudnn.deterministic, cudnn.benchmark = True, False
    cudnn.allow_tf32 = matmul.allow_tf32 = False
    try:
        yield
    finally:
        cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32 = saved
