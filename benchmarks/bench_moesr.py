"""Time and peak memory of MoESR (moesr-emad2022) for one 128x128 -> 1024x1024 image.

x2 then x4, as the study ran it: each step sweeps the 85 kernel hypotheses through its 25
experts (64 features, 12 convolutions; two stacked per hypothesis at x4) and ISE, runs KEN,
fine-tunes the chosen expert on the image, and makes the final pass. The experts, ISE and KEN
are the full official sizes with random weights in the official checkpoint layout, so the
compute equals the released checkpoints' (which this script does not need).

The official fine-tuning is 1000 iterations per step. That is the default on CUDA; on CPU
the default is 5 iterations per step (the full run takes hours there) and the script says
so and prints the per-iteration time; ``--iterations`` overrides either.

``--steps 2`` or ``--steps 4`` times one step alone (x4 alone starts from a random image of
twice the size, as the x2 step would hand it over).

    python benchmarks/bench_moesr.py [--device cuda] [--size 128] [--iterations N] [--steps 2 4]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import tempfile
import time
from pathlib import Path

from devices import describe_memory, device_name, reset_peak, sync

OFFICIAL_ITERATIONS = 1000
CPU_ITERATIONS = 5


def seeded_weights(folder: Path, features: int = 64) -> dict[str, Path]:
    """Random checkpoints for both scales under srarena's file names (official widths: 64
    features; the plugin reads the width from the files)."""
    import torch
    from srarena_moesr.arch import ISENet, KENNet, SRNet
    from srarena_moesr.method import NETS_PER_EXPERT, expert_ids

    torch.manual_seed(0)
    paths = {}
    for scale in (2, 4):
        experts = {key: [SRNet(features).state_dict() for _ in range(NETS_PER_EXPERT[scale])]
                   for key in expert_ids(scale)}
        for name, obj in (("SR_networks_ensemble.pt", experts),
                          ("ISE.pt", ISENet(features).state_dict()),
                          ("KEN.pt", KENNet().state_dict())):
            path = folder / f"x{scale}_{name}"
            torch.save(obj, path)
            paths[path.name] = path
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")
    parser.add_argument("--size", type=int, default=128, help="LR side (output is 8x)")
    parser.add_argument("--iterations", type=int, default=None,
                        help=f"fine-tuning iterations per step (official {OFFICIAL_ITERATIONS})")
    parser.add_argument("--steps", type=int, nargs="+", default=[2, 4], choices=[2, 4],
                        help="which steps of the x2 -> x4 chain to run (default both)")
    args = parser.parse_args()

    import numpy as np
    import torch
    from srarena_moesr.plugin import SPEC
    from srarena_moesr.upscaler import MoESRUpscaler

    from srarena.components import Context

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    iterations = args.iterations or (OFFICIAL_ITERATIONS if device.startswith("cuda")
                                     else CPU_ITERATIONS)
    reduced = iterations != OFFICIAL_ITERATIONS
    with tempfile.TemporaryDirectory() as tmp:
        context = Context(device=device, weights=seeded_weights(Path(tmp)),
                          options={**SPEC.options, "iterations": iterations})
        steps = {scale: MoESRUpscaler(SPEC, scale, context) for scale in args.steps}
    side = args.size if 2 in steps else 2 * args.size
    image = np.random.default_rng(0).random((side, side, 3), dtype=np.float32)
    if device.startswith("cuda"):  # warm-up: kernels, allocator
        warm = next(iter(steps.values()))
        config = warm.config
        warm.config = dataclasses.replace(config, iterations=2)
        warm.upscale(image)
        warm.config = config
        sync(device)
        reset_peak(device)

    out_side = side * math.prod(steps)
    print(f"MoESR (moesr-emad2022) {side}x{side} -> {out_side}x{out_side}, steps "
          f"{' then '.join(f'x{s}' for s in steps)}, full official network sizes, random "
          f"weights, on {device} ({device_name(device)})")
    if reduced:
        print(f"REDUCED fine-tuning: {iterations} iterations per step instead of the official "
              f"{OFFICIAL_ITERATIONS}; the fine-tuning totals below are for {iterations}.")
    current = image
    total = 0.0
    for scale, upscaler in steps.items():
        start = time.perf_counter()
        result = upscaler.upscale(current)
        sync(device)
        elapsed = time.perf_counter() - start
        total += elapsed
        seconds = result.info["seconds"]
        per_iter = seconds["finetune"] / iterations
        print(f"  x{scale} on {current.shape[1]}x{current.shape[0]}: {elapsed:.2f} s = sweep "
              f"{seconds['sweep']:.2f} s + fine-tuning {seconds['finetune']:.2f} s "
              f"({iterations} it, {per_iter * 1e3:.1f} ms/it) + final {seconds['final']:.2f} s "
              f"(+ {elapsed - sum(seconds.values()):.2f} s other); expert {result.info['expert']}")
        current = result.image
    assert current.shape == (out_side, out_side, 3)
    print(f"  total {total:.2f} s per image"
          + (f" with {iterations} fine-tuning iterations per step" if reduced else ""))
    print(f"  {describe_memory(device)}")


if __name__ == "__main__":
    main()
