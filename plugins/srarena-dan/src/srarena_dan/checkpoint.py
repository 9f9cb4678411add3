"""Loading official DAN checkpoints and PCA matrices safely, strictly, and checking them.

An official checkpoint is ``torch.save`` of the network's state dict (a leading ``module.``
is stripped, as the official loader does). It holds every weight and, normally, the three
buffers ``encoder`` (PCA basis), ``init_kernel`` and ``init_ker_map`` (Dirac kernel and its
code). The official model builds those buffers from its PCA matrix file at construction and
then loads the checkpoint over them; srarena does the same, so a checkpoint that lacks a
buffer (reported for some released files) gets exactly the value the official code used.
Anything else missing, unexpected or of the wrong shape is an error with a readable diff
(the official test scripts load non-strictly and would silently ignore it).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from srarena.kit import WeightsInvalid, WeightsMissing, diff_shapes, load_state, shapes

from .arch import AlternatingNet, build
from .config import Variant, parse_checkpoint_name, pca_shape

BUFFERS = ("encoder", "init_kernel", "init_ker_map")


def expected_shapes(variant: Variant) -> dict[str, tuple[int, ...]]:
    """Key -> shape of the state dict of a configuration (built on the meta device)."""
    with torch.device("meta"):
        net = build(variant)
    return shapes(net.state_dict())


def read_state(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict of an official checkpoint, ``module.`` prefixes removed."""
    state = load_state(path)
    if not isinstance(state, Mapping):
        raise WeightsInvalid(f"{path}: not a state dict (the file holds a {type(state).__name__})")
    clean = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise WeightsInvalid(f"{path}: entry {key!r} is a {type(value).__name__}, not a tensor")
        clean[key[len("module."):] if key.startswith("module.") else key] = value
    return clean


def state_problems(variant: Variant, state: Mapping[str, Any]) -> list[str]:
    """Differences between a state dict and a configuration; the buffers may be absent."""
    expected = expected_shapes(variant)
    for name in BUFFERS:
        if name not in state:
            expected.pop(name)
    return diff_shapes(expected, shapes(state))


def read_pca(path: str | Path, want: tuple[int, int]) -> torch.Tensor:
    """An official PCA matrix file: a float tensor of shape ``want`` (k², L)."""
    matrix = load_state(path)
    if not isinstance(matrix, torch.Tensor) or tuple(matrix.shape) != want:
        found = tuple(matrix.shape) if isinstance(matrix, torch.Tensor) else type(matrix).__name__
        raise WeightsInvalid(f"{path}: expected a PCA matrix of shape {want}, found {found}")
    return matrix.float()


def load_network(
    variant: Variant, checkpoint: str | Path, pca: str | Path | None = None
) -> tuple[AlternatingNet, list[str]]:
    """The network of ``variant`` with the checkpoint's weights, in eval mode, on the CPU.

    Returns it with the names of the buffers that came from the PCA file (the checkpoint
    lacked them). ``pca`` is needed only in that case.
    """
    state = read_state(checkpoint)
    problems = state_problems(variant, state)
    if problems:
        raise WeightsInvalid(
            f"{checkpoint} does not fit {variant.label}:\n  - " + "\n  - ".join(problems)
        )
    absent = [name for name in BUFFERS if name not in state]
    net = build(variant)
    if pca is not None:
        net.set_pca(read_pca(pca, (variant.kernel_size**2, variant.code_len)))
    elif absent:
        raise WeightsMissing(
            f"{checkpoint} lacks {', '.join(absent)}; the PCA matrix {variant.pca_file} of "
            f"{variant.label} is needed to rebuild them as the official code does"
        )
    result = net.load_state_dict(state, strict=False)
    assert set(result.missing_keys) == set(absent) and not result.unexpected_keys
    return net.eval(), absent


def _validate(version: str, filename: str, path: Path) -> list[str]:
    if filename.startswith("pca_"):
        try:
            read_pca(path, pca_shape(version, filename))
        except WeightsInvalid as exc:
            return [str(exc)]
        return []
    variant = parse_checkpoint_name(filename)
    if variant is None or variant.version != version:
        return [f"{filename} is not an official DAN{version} checkpoint name"]
    try:
        return state_problems(variant, read_state(path))
    except WeightsInvalid as exc:
        return [str(exc)]


def validate_v1(filename: str, path: Path) -> list[str]:
    """WeightSet validator of the DANv1 sets: problems of ``path`` as ``filename``."""
    return _validate("v1", filename, path)


def validate_v2(filename: str, path: Path) -> list[str]:
    """WeightSet validator of the DANv2 sets: problems of ``path`` as ``filename``."""
    return _validate("v2", filename, path)
