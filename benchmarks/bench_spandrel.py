"""Time per 1024² output of spandrel models run through srarena-spandrel.

Two official configurations with randomly initialised weights (the compute is that of the
released checkpoints, which this script does not need): Real-ESRGAN's realesr-general-x4v3
(SRVGGNetCompact, 64 features, 32 convolutions, x4) and RealESRGAN_x4plus (RRDBNet, 64
features, 23 blocks, x4), each 256² -> 1024². Each model is timed through srarena's upscaler
(``SpandrelUpscaler.upscale`` with ``protocol=spandrel``, spandrel's own call: numpy in,
numpy out) and by direct spandrel inference (``descriptor(tensor)``), after a warm-up on a
small input; the two outputs are checked equal in 8 bits. Each architecture runs in its own
process.

    python benchmarks/bench_spandrel.py [--archs compact rrdb swinir] [--device cuda]
        [--size 256] [--repeat 3] [--precision fp32|fp16|bf16]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from devices import describe_peaks, device_name, peak_memory, reset_peak, timed

ARCHS = {
    "compact": "realesr-general-x4v3: SRVGGNetCompact 64nf 32nc x4",
    "rrdb": "RealESRGAN_x4plus: RRDBNet 64nf 23nb x4",
    "swinir": "SwinIR-M real-SR x4 (embed 180, 6x6 blocks, window 8)",
}


def _network(arch: str):
    if arch == "compact":
        from spandrel.architectures.Compact import Compact

        return Compact(num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=32, upscale=4)
    if arch == "rrdb":
        from spandrel.architectures.ESRGAN import ESRGAN

        return ESRGAN(in_nc=3, out_nc=3, num_filters=64, num_blocks=23, scale=4)
    from spandrel.architectures.SwinIR import SwinIR

    return SwinIR(img_size=64, in_chans=3, embed_dim=180, depths=[6] * 6, num_heads=[6] * 6,
                  window_size=8, mlp_ratio=2.0, upscale=4, upsampler="nearest+conv",
                  resi_connection="1conv")


def worker(arch: str, device: str, size: int, repeat: int, precision: str) -> dict:
    import numpy as np
    import torch
    from srarena_spandrel.facts import generic_spec
    from srarena_spandrel.upscaler import SpandrelUpscaler

    from srarena import Context
    from srarena.kit import to_uint8

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{arch}.pth"
        torch.save(_network(arch).state_dict(), path)
        context = Context(device=device, precision=precision, weights={"model": path},
                          options={"protocol": "spandrel"})
        upscaler = SpandrelUpscaler(generic_spec(), 4, context)
    image = np.random.default_rng(0).random((size, size, 3), dtype=np.float32)
    upscaler.upscale(image[:32, :32])  # warm-up (allocator, kernels)
    reset_peak(device)
    runs, result = timed(device, lambda: upscaler.upscale(image), repeat)
    ours = min(runs)
    peaks = peak_memory(device)
    descriptor, dtype = upscaler.descriptor, upscaler.dtype
    tensor = torch.from_numpy(image.transpose(2, 0, 1).copy())[None].to(device, dtype)

    def direct():
        with torch.inference_mode():
            return descriptor(tensor)

    runs, out = timed(device, direct, repeat)
    plain = min(runs)
    reference = to_uint8(out[0].float().permute(1, 2, 0).cpu().numpy())
    pixels = result.image.shape[0] * result.image.shape[1]
    per = 1024 * 1024 / pixels
    return {
        "arch": arch, "model": ARCHS[arch], "device": device_name(device),
        "precision": precision, "input": f"{size}x{size}",
        "output": f"{result.image.shape[1]}x{result.image.shape[0]}",
        "threads": torch.get_num_threads(),
        "srarena_s": round(ours, 3), "direct_s": round(plain, 3),
        "srarena_s_per_1024sq": round(ours * per, 3), "direct_s_per_1024sq": round(plain * per, 3),
        "identical_8bit": bool(np.array_equal(to_uint8(result.image), reference)),
        **peaks, "peaks": describe_peaks(peaks),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--archs", nargs="+", default=["compact", "rrdb"], choices=list(ARCHS))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "bf16"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(worker(args.child, args.device, args.size, args.repeat,
                                args.precision)))
        return
    for arch in args.archs:
        out = subprocess.run(
            [sys.executable, __file__, "--child", arch, "--device", args.device, "--size",
             str(args.size), "--repeat", str(args.repeat), "--precision", args.precision],
            capture_output=True, text=True, check=False)
        if out.returncode:
            print(f"{arch}: failed\n{out.stderr[-2000:]}")
            continue
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{row['model']} on {row['device']} ({row['precision']}), "
              f"{row['input']} -> {row['output']}: "
              f"{row['srarena_s_per_1024sq']:.3f} s per 1024² output through srarena, "
              f"{row['direct_s_per_1024sq']:.3f} s direct spandrel; identical 8-bit: "
              f"{row['identical_8bit']}; {row['peaks']}")
        print("  " + json.dumps(row))


if __name__ == "__main__":
    main()
