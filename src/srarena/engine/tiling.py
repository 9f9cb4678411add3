"""Tiled upscaling with overlap and feathered blending, backing off on out-of-memory."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

UpscaleFn = Callable[[np.ndarray], np.ndarray]


def is_out_of_memory(exc: BaseException) -> bool:
    """True for CUDA/MPS/CPU allocation failures (torch raises RuntimeError subclasses)."""
    if isinstance(exc, MemoryError):
        return True
    text = str(exc).lower()
    return "out of memory" in text or "cannot allocate memory" in text


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


def _ramp(length: int, overlap: int, at_start: bool, at_end: bool) -> np.ndarray:
    """1-D blending weights: linear ramps over the overlap except at the image border."""
    weights = np.ones(length, dtype=np.float32)
    if overlap > 0:
        ramp = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
        if not at_start:
            weights[:overlap] = np.minimum(weights[:overlap], ramp)
        if not at_end:
            weights[-overlap:] = np.minimum(weights[-overlap:], ramp[::-1])
    return weights


def upscale_tiled(
    upscale: UpscaleFn, image: np.ndarray, scale: int, tile: int, overlap: int = 16
) -> np.ndarray:
    """Upscale ``image`` in tiles of ``tile`` LR pixels overlapping by ``overlap``."""
    height, width, channels = image.shape
    overlap = min(overlap, tile // 2)
    out = np.zeros((height * scale, width * scale, channels), dtype=np.float32)
    total = np.zeros((height * scale, width * scale, 1), dtype=np.float32)
    ys, xs = _starts(height, tile, overlap), _starts(width, tile, overlap)
    for y in ys:
        for x in xs:
            patch = image[y : y + tile, x : x + tile]
            result = np.asarray(upscale(patch), dtype=np.float32)
            ph, pw = result.shape[:2]
            wy = _ramp(ph, overlap * scale, y == 0, y == ys[-1])
            wx = _ramp(pw, overlap * scale, x == 0, x == xs[-1])
            weight = (wy[:, None] * wx[None, :])[..., None]
            oy, ox = y * scale, x * scale
            out[oy : oy + ph, ox : ox + pw] += result * weight
            total[oy : oy + ph, ox : ox + pw] += weight
    return out / np.maximum(total, 1e-8)


def upscale_with_backoff(
    upscale: UpscaleFn,
    image: np.ndarray,
    scale: int,
    tile: int | None,
    min_tile: int = 32,
    overlap: int = 16,
    on_backoff: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, int | None]:
    """Upscale whole (``tile=None``) or tiled, halving the tile on out-of-memory.

    Returns the SR image and the tile size finally used (None when untiled).
    """
    current = tile
    while True:
        try:
            if current is None or current >= max(image.shape[:2]):
                return np.asarray(upscale(image), dtype=np.float32), None
            return upscale_tiled(upscale, image, scale, current, overlap), current
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            _free_accelerator_memory()
            start = current if current is not None else max(image.shape[:2])
            current = start // 2
            if current < min_tile:
                raise MemoryError(
                    f"out of memory even with {start}px tiles; use a smaller --tile, "
                    f"--precision fp16/bf16 or another device"
                ) from exc
            if on_backoff is not None:
                on_backoff(current)


def _free_accelerator_memory() -> None:
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
