"""Between srarena's images (RGB float32 HWC in [0, 1]) and spandrel's tensors (NCHW)."""

from __future__ import annotations

from typing import Any

import numpy as np

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
"""RGB to grey for one-channel models (ITU-R BT.601, as OpenCV's and chaiNNer's)."""


def to_tensor(images: np.ndarray, channels: int, device: Any, dtype: Any) -> Any:
    """(N, H, W, 3) RGB float32 to an (N, channels, H, W) tensor: grey for one-channel
    models, an opaque alpha channel added for four-channel ones."""
    import torch

    images = np.asarray(images, dtype=np.float32)
    if channels == 1:
        images = (images @ LUMA)[..., None]
    elif channels == 4:
        images = np.concatenate([images, np.ones_like(images[..., :1])], axis=-1)
    elif channels != 3:
        raise ValueError(f"a model with {channels} input channels cannot take RGB images")
    tensor = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    return tensor.to(device=device, dtype=dtype)


def from_tensor(tensor: Any, channels: int) -> np.ndarray:
    """An (N, channels, H, W) output tensor in [0, 1] to (N, H, W, 3) RGB float32: a grey
    output is repeated on the three channels, an alpha channel dropped."""
    out = tensor.detach().float().clamp(0, 1).cpu().numpy().transpose(0, 2, 3, 1)
    if channels == 1:
        out = np.repeat(out, 3, axis=-1)
    elif channels == 4:
        out = out[..., :3]
    return np.ascontiguousarray(out, dtype=np.float32)
