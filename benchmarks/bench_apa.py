"""Time and peak memory of APA: one 1024x1024 image, and training iterations.

Generation: srarena's ``apa`` generator at the study's size (1024², the official network
for ``--cfg=auto``: channel base 32768, 2 mapping layers; seeded random weights, the same
compute as a trained snapshot), one image as generate.py makes it (batch 1, constant
noise), after one warm-up image. In fp32, and on CUDA also with the official mixed
precision (float16 in the four highest-resolution blocks), with the ratio of the two.

Training: the first iteration (every phase: G, path length, D, R1) and a regular one
(G and D only) of the official ``--cfg=auto`` configuration at ``--train-res`` (default
1024 on CUDA, the study's setting; on CPU 64² with the batch cut to 4, since a full step
takes many minutes there: the output says what was measured).

    python benchmarks/bench_apa.py [--device cuda] [--train-res 256] [--batch 4] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

from devices import device_name, peak_mb, reset_peak, sync


def bench_generate(device: str) -> dict[str, float]:
    import torch
    from srarena_apa.arch.networks import Generator
    from srarena_apa.config import resolve
    from srarena_apa.upscaler import seed_latent, to_uint8

    torch.manual_seed(0)
    G = Generator(**resolve(1024, {}).G_kwargs).eval().requires_grad_(False).to(device)
    times = {}
    modes = [("fp32", True)] + ([("mixed", False)] if device.startswith("cuda") else [])
    with torch.no_grad():
        for name, force_fp32 in modes:
            for seed in (999, 1000):  # the first is a warm-up
                reset_peak(device)
                sync(device)
                start = time.perf_counter()
                z = seed_latent(seed, G.z_dim).to(device)
                to_uint8(G(z, None, noise_mode="const", force_fp32=force_fp32))
                sync(device)
                seconds = time.perf_counter() - start
            times[name] = seconds
            where = "GPU" if device.startswith("cuda") else "process RSS"
            print(f"generate 1024² ({name}): {seconds:.3f} s, peak memory "
                  f"{peak_mb(device):.0f} MiB ({where})")
    if "mixed" in times:
        print(f"generate fp32 / mixed time ratio: {times['fp32'] / times['mixed']:.2f}")
    return times


def bench_train(device: str, res: int, batch: int | None) -> None:
    import numpy as np
    from srarena_apa.config import resolve
    from srarena_apa.training import Trainer

    config = resolve(res, {"batch": batch})
    images = np.random.RandomState(0).randint(0, 256, size=(8, 3, res, res)).astype(np.uint8)
    trainer = Trainer(config, images, device)
    print(f"training at {res}² (--cfg=auto: batch {config.batch_size}, R1 gamma "
          f"{config.r1_gamma:g}, {'mixed precision' if device.startswith('cuda') else 'fp32'})")
    for label in ("first iteration (all phases, lazy R1 and path length)",
                  "second iteration (G and D main phases)"):
        reset_peak(device)
        sync(device)
        start = time.perf_counter()
        trainer.step()
        sync(device)
        seconds = time.perf_counter() - start
        print(f"  {label}: {seconds:.3f} s, peak memory {peak_mb(device):.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--train-res", type=int, default=None)
    parser.add_argument("--batch", type=int, default=None, help="override the preset's batch")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = device.startswith("cuda")
    print(f"device: {device} ({device_name(device)}); torch {torch.__version__}")
    bench_generate(device)
    res = args.train_res or (1024 if cuda else 64)
    batch = args.batch or (None if cuda else 4)
    if res != 1024 or batch is not None:
        print(f"note: training timed at {res}²" + (f" with batch {batch}" if batch else "")
              + ", not the study's setting (1024², batch 4 on one GPU)")
    bench_train(device, res, batch)


if __name__ == "__main__":
    main()
