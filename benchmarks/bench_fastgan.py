"""Time and peak memory of FastGAN: generating one 1024x1024 image, and one training iteration.

Runs srarena's FastGAN at the official full size (ngf = ndf = 64, nz = 256, 1024x1024) with
randomly initialised networks: the compute is the same as with a fitted checkpoint. The
training iteration uses the real LPIPS-VGG loss with a random VGG16 trunk (same compute as
the ImageNet trunk, which this script does not need). Each measurement runs in its own
process so that its peak memory is its own; each is preceded by one warm-up.

    python benchmarks/bench_fastgan.py [--device cuda] [--batch-size 8] [--skip-train]

The official batch size is 8. On CPU the default is 1 (one iteration at batch 8 takes many
minutes there) and the output says so.
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


def seeded_vgg(folder: Path) -> Path:
    import torch
    from srarena_fastgan.checkpoint import VGG_FILENAME, vgg_shapes

    g = torch.Generator().manual_seed(0)
    state = {k: torch.randn(shape, generator=g) * 0.02 for k, shape in vgg_shapes().items()}
    path = folder / VGG_FILENAME
    torch.save(state, path)
    return path


def worker(kind: str, device: str, batch_size: int) -> dict[str, float | str]:
    import torch
    from srarena_fastgan.arch import Generator, init_weights
    from srarena_fastgan.checkpoint import add_prefix
    from srarena_fastgan.perceptual import build
    from srarena_fastgan.training import FitConfig, Trainer
    from srarena_fastgan.upscaler import FastGANUpscaler

    from srarena.components import Context
    from srarena.plugins import build_registry

    config = FitConfig(im_size=1024, batch_size=batch_size, iterations=1)
    if kind == "generate":
        spec = build_registry().upscaler("fastgan")
        up = FastGANUpscaler(spec, Context(device=device))
        generator = Generator(ngf=64, nz=256, im_size=1024)
        generator.apply(init_weights)
        with tempfile.TemporaryDirectory() as tmp:  # the official eval layout, <iter>.pth
            torch.save({"g": add_prefix(generator.state_dict()), "d": {}}, Path(tmp) / "0.pth")
            del generator
            up.load(Path(tmp))
        up.generate(0, 1024)  # warm-up
        sync(device)
        reset_peak(device)
        start = time.perf_counter()
        image = up.generate(1, 1024).image
        sync(device)
        seconds = time.perf_counter() - start
        assert image.shape == (1024, 1024, 3)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            percept = build(seeded_vgg(Path(tmp))).to(device)
        trainer = Trainer(config, device, percept)
        real = torch.rand(batch_size, 3, 1024, 1024, device=device) * 2 - 1
        trainer.step(real)  # warm-up
        sync(device)
        reset_peak(device)
        start = time.perf_counter()
        losses = trainer.step(real)
        sync(device)
        seconds = time.perf_counter() - start
        assert all(torch.isfinite(v) for v in losses.values())
    result: dict[str, float | str] = {
        "kind": kind, "device": device, "seconds": seconds, "threads": torch.get_num_threads(),
        **peak_memory(device),
    }
    if device.startswith("cuda"):
        result["gpu"] = device_name(device)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="training batch (default: 8, the official one; 1 on CPU)")
    parser.add_argument("--skip-train", action="store_true", help="only time generation")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.device is None:
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.batch_size is None:
        args.batch_size = 8 if args.device.startswith("cuda") else 1
    if args.worker:
        print(json.dumps(worker(args.worker, args.device, args.batch_size)))
        return
    print(f"FastGAN at 1024x1024, ngf = ndf = 64, nz = 256 (official size, random weights) "
          f"on {args.device}")
    kinds = ["generate"] + ([] if args.skip_train else ["train"])
    for kind in kinds:
        command = [sys.executable, __file__, "--worker", kind, "--device", args.device,
                   "--batch-size", str(args.batch_size)]
        lines = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        row = json.loads(lines.strip().splitlines()[-1])
        what = ("generate one 1024x1024 image (EMA generator, eval mode)" if kind == "generate"
                else f"one training iteration, batch {args.batch_size}"
                + (" (the official batch is 8; reduced on CPU)" if args.batch_size != 8 else "")
                + ", LPIPS-VGG loss included")
        print(f"{what}: {row['seconds']:.2f} s; {describe_peaks(row)} "
              f"({row['threads']} CPU threads)")
        if kind == "train":
            full = 50001 * row["seconds"] / 3600
            print(f"  -> 50001 iterations (the official 0..50000) at this rate and batch: "
                  f"{full:.1f} h")


if __name__ == "__main__":
    main()
