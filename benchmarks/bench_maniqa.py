"""Time MANIQA per image under the study's protocol and pyiqa's, on the available device.

Usage: python benchmarks/bench_maniqa.py [--images N] [--size PX] [--device auto|cpu|cuda]
                                         [--weights FILE] [--batch N]

Both protocols score the same N random SR-sized images (default 1024², as the study's
outputs) with the same full-size network: the MANIQA-PIPAL checkpoint if ``--weights`` is
given or the weights service has it, random weights otherwise (timing does not depend on
the values). Each protocol is warmed up on one image, then timed over all images. Prints
seconds per image for each and the ratio; on CUDA also the fp16 (``auto``) timing of the
study protocol and its largest difference from fp32.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
from devices import device_name, sync


def per_image(metric, images: list[np.ndarray]) -> tuple[float, list[float]]:
    metric.score(images[:1])  # warm-up
    sync(metric.device.type)
    start = time.perf_counter()
    scores = metric.score(images)
    sync(metric.device.type)
    return (time.perf_counter() - start) / len(images), scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--weights", default=None, help="MANIQA_PIPAL-ae6d356b.pth")
    parser.add_argument("--batch", type=int, default=0, help="Batch size (default: the spec's).")
    args = parser.parse_args()

    import torch

    from srarena import weights as weights_service
    from srarena.components import Context
    from srarena.engine.environment import resolve_device
    from srarena.metrics import maniqa
    from srarena.plugins import get_registry

    device = resolve_device(args.device)
    threads = f", {torch.get_num_threads()} CPU threads" if device.startswith("cuda") else ""
    print(f"device: {device} ({device_name(device)}), torch {torch.__version__}{threads}")
    checkpoint = maniqa.CHECKPOINTS["pipal"]
    network = maniqa.build_network("pipal")
    path = args.weights
    if path is None and not weights_service.missing_files(checkpoint.weights):
        path = weights_service.resolve(checkpoint.weights)[checkpoint.filename]
    if path is not None:
        maniqa.load_checkpoint(network, path)
    print(f"weights: {path or 'random (no checkpoint present)'}")
    rng = np.random.default_rng(0)
    images = [rng.random((args.size, args.size, 3), dtype=np.float32)
              for _ in range(args.images)]
    registry = get_registry()

    def build(metric_name: str, precision: str) -> maniqa.Maniqa:
        spec = registry.metric(metric_name)
        if args.batch:
            spec = dataclasses.replace(spec, batch_size=args.batch)
        options = {**spec.options, "precision": precision}
        return maniqa.Maniqa(spec, Context(device=device, options=options), network=network)

    study_s, study_scores = per_image(build("maniqa", "fp32"), images)
    print(f"maniqa (study: 224² resize, 1 pass)   {study_s:9.4f} s/image")
    pyiqa_s, _ = per_image(build("maniqa-pyiqa", "fp32"), images)
    print(f"maniqa-pyiqa (20 crops of 224)        {pyiqa_s:9.4f} s/image")
    print(f"ratio pyiqa/study: {pyiqa_s / study_s:.1f}x")
    if device.startswith("cuda"):
        auto = build("maniqa", "auto")
        half_s, half_scores = per_image(auto, images)
        diff = float(np.max(np.abs(np.subtract(half_scores, study_scores))))
        kept = "fp16 kept" if auto.half else "fell back to fp32"
        print(f"maniqa fp16 autocast (auto)           {half_s:9.4f} s/image "
              f"({kept}; max |fp16 - fp32| = {diff:.2e})")
        print(f"ratio fp32/fp16 (study): {study_s / half_s:.1f}x")


if __name__ == "__main__":
    main()
