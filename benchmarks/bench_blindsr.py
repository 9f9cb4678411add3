"""Time and peak memory of BlindSR for one 128x128 -> 1024x1024 image (three x2 passes).

Runs srarena's ``blindsr`` upscaler (full official networks, patch size 200, clamped to 128
on the 128x128 first pass) with seeded random weights in the official layout (the compute
is the same as with the released checkpoints) or with ``--weights DIR``.

``--mode full`` runs the whole test procedure (144-kernel grid search, 50 Adam epochs of one
step per patch, final pass) on each pass; it is the default on CUDA. On a CPU that takes
hours (about 3,500 network passes at up to 200x200), so ``--mode sampled`` (the default on
CPU) times, per pass, ``--candidates`` grid kernels and ``--epochs`` refinement epochs on
all the pass's patches plus the complete final pass, and extrapolates linearly to 144
candidates and 50 epochs; the output says which numbers are measured and which estimated.

    python benchmarks/bench_blindsr.py [--device cuda] [--mode full|sampled] [--threads 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from devices import describe_memory, device_name, reset_peak, sync

GRID = 144
EPOCHS = 50


def seeded_weights(folder: Path) -> dict[str, Path]:
    import torch
    from srarena_blindsr.arch import Discriminator, Generator

    torch.manual_seed(0)
    paths = {}
    for name, module in (("generator", Generator()), ("discriminator", Discriminator())):
        path = folder / f"{name}.pth"
        torch.save({"step": 0, f"{name}_state_dict": module.state_dict()}, path)
        paths[path.name] = path
    return paths


def _sampled_pass(upscaler, image, candidates: int, epochs: int) -> tuple:
    """One x2 pass with a shortened grid and refinement; returns output and timings."""
    import numpy as np
    from srarena_blindsr import inference, kernels

    device = str(upscaler.device)
    data = inference.to_uint8(image)
    lowres, bicubic = inference.prepare(data, upscaler.device)
    patch = min(upscaler.patch_size, min(data.shape[:2]))
    parts = inference.split(lowres, bicubic, patch)
    nets = (upscaler.generator, upscaler.discriminator)
    sync(device)
    start = time.perf_counter()
    best, _ = inference.grid_search(*nets, parts.lowres, parts.bicubic, parts.order,
                                    upscaler.batch, candidates=kernels.grid()[:candidates])
    sync(device)
    grid_s = time.perf_counter() - start
    start = time.perf_counter()
    sigma, theta = inference.refine(*nets, parts.lowres, parts.bicubic, parts.order, best, epochs)
    sync(device)
    refine_s = time.perf_counter() - start
    start = time.perf_counter()
    out = inference.render(upscaler.generator, parts, sigma, theta, upscaler.batch)
    sync(device)
    render_s = time.perf_counter() - start
    image = out[0].clamp(0, 1).permute(1, 2, 0).cpu().numpy().astype(np.float32)
    return image, grid_s, refine_s, render_s, patch, len(parts.corners), parts.lowres.shape[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")
    parser.add_argument("--mode", choices=["full", "sampled"], default=None)
    parser.add_argument("--candidates", type=int, default=2, help="sampled: grid kernels timed")
    parser.add_argument("--epochs", type=int, default=1, help="sampled: refinement epochs timed")
    parser.add_argument("--batch", type=int, default=1, help="(kernel, patch) pairs per pass")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--size", type=int, default=128, help="LR side (output is 8x)")
    parser.add_argument("--weights", type=Path, default=None, help="folder with official files")
    args = parser.parse_args()

    import numpy as np
    import torch
    from srarena_blindsr.plugin import SPEC
    from srarena_blindsr.upscaler import BlindSRUpscaler

    from srarena.components import Context

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    mode = args.mode or ("full" if device.startswith("cuda") else "sampled")
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        weights = (
            {n: args.weights / n for n in ("generator.pth", "discriminator.pth")}
            if args.weights
            else seeded_weights(Path(tmp))
        )
        context = Context(device=device, weights=weights, options={"batch": args.batch})
        upscaler = BlindSRUpscaler(SPEC, 2, context)
    source = "given weights" if args.weights else "seeded random weights"
    print(f"BlindSR {args.size}x{args.size} -> {8 * args.size}x{8 * args.size}: three x2 passes, "
          f"patch size 200 (clamped to the image), batch {args.batch}, {source}, on {device} "
          f"({device_name(device)}), mode {mode}")
    if mode == "sampled":
        print(f"  sampled: {args.candidates} of {GRID} grid kernels and {args.epochs} of "
              f"{EPOCHS} refinement epochs measured per pass, totals extrapolated linearly")
    image = np.random.default_rng(0).random((args.size, args.size, 3), dtype=np.float32)
    reset_peak(device)
    total = 0.0
    for index in range(3):
        side = image.shape[0]
        if mode == "full":
            sync(device)
            start = time.perf_counter()
            result = upscaler.upscale(image)
            sync(device)
            seconds = time.perf_counter() - start
            image = result.image
            print(f"  pass {index + 1} {side}->{2 * side}: {seconds:.1f} s measured "
                  f"(patch {result.info['patch_size']}, {result.info['patches']} patches, "
                  f"{result.info['adam_steps']} Adam steps)")
        else:
            image, grid_s, refine_s, render_s, patch, count, distinct = _sampled_pass(
                upscaler, image, args.candidates, args.epochs)
            grid_full = grid_s * GRID / args.candidates
            refine_full = refine_s * EPOCHS / max(args.epochs, 1)
            seconds = grid_full + refine_full + render_s
            print(f"  pass {index + 1} {side}->{2 * side} (patch {patch}, {count} patches, "
                  f"{distinct} distinct): grid {grid_s:.1f} s measured -> {grid_full:.0f} s "
                  f"estimated; refinement {refine_s:.1f} s -> {refine_full:.0f} s estimated; "
                  f"final pass {render_s:.1f} s measured; pass ~{seconds:.0f} s")
        total += seconds
    assert image.shape == (8 * args.size, 8 * args.size, 3)
    kind = "measured" if mode == "full" else "estimated"
    print(f"total {total:.1f} s ({kind}, {total / 60:.1f} min); {describe_memory(device)}")


if __name__ == "__main__":
    main()
