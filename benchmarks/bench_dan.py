"""Time and peak memory of DAN for one 128x128 -> 1024x1024 image (x2 then x4, as the study).

Runs srarena's DAN upscalers (full official size: DANv1 nf 64 nb 40, DANv2 nf 64 nb 10 ng 5,
4 loops) with randomly initialised weights in the official layout: the compute is the same
as with the released checkpoints, which this script does not need. Each version runs in its
own process so that its peak memory is its own. The x2 output is quantised to 8 bits before
the x4 pass, as srarena's chain does with DAN.

    python benchmarks/bench_dan.py [--versions v1 v2] [--device cuda] [--size 128]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from devices import describe_peaks, device_name, peak_memory, reset_peak, sync


def seeded_weights(version: str, folder: Path) -> dict[str, Path]:
    import torch
    from srarena_dan.arch import build
    from srarena_dan.config import variant

    torch.manual_seed(0)
    paths = {}
    for scale in (2, 4):
        chosen = variant(version, 1, scale)
        net = build(chosen)
        net.set_pca(torch.linalg.qr(torch.randn(chosen.kernel_size**2, chosen.code_len))[0])
        path = folder / chosen.checkpoint
        torch.save(net.state_dict(), path)
        paths[path.name] = path
    return paths


def worker(version: str, device: str, size: int) -> dict[str, float | str]:
    """Run the x2 -> x4 chain once (after a small warm-up) and measure it."""
    import numpy as np
    import torch
    from srarena_dan.plugin import SPECS, upscaler_name
    from srarena_dan.upscaler import DANUpscaler

    from srarena.components import Context

    spec = next(s for s in SPECS if s.name == upscaler_name(version, 1))
    with tempfile.TemporaryDirectory() as tmp:
        context = Context(device=device, weights=seeded_weights(version, Path(tmp)))
        x2, x4 = DANUpscaler(spec, 2, context), DANUpscaler(spec, 4, context)
    image = np.random.default_rng(0).random((size, size, 3), dtype=np.float32)
    x4.upscale(x2.upscale(image[:16, :16]).image)  # warm-up (allocator, kernels)
    sync(device)
    reset_peak(device)
    start = time.perf_counter()
    middle = x2.upscale(image).image
    sync(device)
    after_x2 = time.perf_counter()
    out = x4.upscale(middle).image
    sync(device)
    end = time.perf_counter()
    assert out.shape == (size * 8, size * 8, 3)
    result: dict[str, float | str] = {
        "version": version,
        "device": device,
        "threads": torch.get_num_threads(),
        "x2_s": after_x2 - start,
        "x4_s": end - after_x2,
        "total_s": end - start,
        **peak_memory(device),
    }
    if device.startswith("cuda"):
        result["gpu"] = device_name(device)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", nargs="+", default=["v1", "v2"], choices=["v1", "v2"])
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")
    parser.add_argument("--size", type=int, default=128, help="LR side (output is 8x)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.device is None:
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.worker:
        print(json.dumps(worker(args.worker, args.device, args.size)))
        return
    print(f"DAN {args.size}x{args.size} -> {args.size * 8}x{args.size * 8} (x2 then x4, "
          f"4 loops each, full official size, random weights) on {args.device}")
    for version in args.versions:
        command = [sys.executable, __file__, "--worker", version, "--device", args.device,
                   "--size", str(args.size)]
        lines = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        row = json.loads(lines.strip().splitlines()[-1])
        print(f"DAN{version}: x2 {row['x2_s']:.2f} s + x4 {row['x4_s']:.2f} s = "
              f"{row['total_s']:.2f} s; {describe_peaks(row)} ({row['threads']} CPU threads)")


if __name__ == "__main__":
    main()
