"""Fake components for the core's tests, loaded with SRARENA_PLUGIN_MODULES."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

import srarena
from srarena.components import (
    Dataset,
    GenerativeUpscaler,
    InputRefused,
    Item,
    Metric,
    Upscaler,
    UpscaleResult,
)
from srarena.specs import DatasetSpec, MetricSpec, UpscalerSpec

SRARENA_API = 1


@srarena.hookimpl
def srarena_register_upscalers(register):
    register(UpscalerSpec(name="fake-x2", factory=f"{__name__}:Doubler", scales=(2,),
                          side_outputs=("kernel",)))
    register(UpscalerSpec(name="fake-slow", factory=f"{__name__}:Slow", scales=(2, 4)))
    register(UpscalerSpec(name="fake-broken", factory=f"{__name__}:Broken", scales=(2,)))
    register(UpscalerSpec(name="fake-crash", factory=f"{__name__}:Crashing", scales=(2,)))
    register(UpscalerSpec(name="fake-gen", factory=f"{__name__}:Generator",
                          mode="generative"))
    register(UpscalerSpec(name="fake-batch", factory=f"{__name__}:Fussy", scales=(2,),
                          batch_size=4))


@srarena.hookimpl
def srarena_register_metrics(register):
    register(MetricSpec(name="fake-mean", factory=f"{__name__}:Mean", min_size=4,
                        higher_is_better=True))
    register(MetricSpec(name="fake-picky", factory=f"{__name__}:Picky", higher_is_better=False))


@srarena.hookimpl
def srarena_register_datasets(register):
    register(DatasetSpec(name="noise", factory=f"{__name__}:Noise", takes_argument=True,
                         has_hr=True))
    register(DatasetSpec(name="tracked", factory=f"{__name__}:Tracked", takes_argument=True))


class Doubler(Upscaler):
    def upscale(self, image):
        out = np.repeat(np.repeat(image, self.scale, 0), self.scale, 1)
        return UpscaleResult(out, side_outputs={"kernel": np.eye(3) / 3})


class Slow(Upscaler):
    """Nearest-neighbour with a delay (SRARENA_FAKE_DELAY seconds) for interruption tests."""

    def upscale(self, image):
        time.sleep(float(os.environ.get("SRARENA_FAKE_DELAY", "0")))
        return np.repeat(np.repeat(image, self.scale, 0), self.scale, 1)


class Broken(Upscaler):
    def upscale(self, image):
        raise RuntimeError("this plugin always fails")


class Generator(GenerativeUpscaler):
    def fit(self, images: Sequence[np.ndarray], size: int, checkpoint: Path) -> None:
        mean = np.mean([img.mean(axis=(0, 1)) for img in images], axis=0)
        np.save(checkpoint.with_suffix(".npy"), mean)
        counter = checkpoint.parent / "fits.txt"
        counter.write_text(str(int(counter.read_text()) + 1 if counter.exists() else 1))

    def load(self, checkpoint: Path) -> None:
        self.mean = np.load(checkpoint.with_suffix(".npy"))

    def generate(self, seed: int, size: int) -> UpscaleResult:
        rng = np.random.default_rng(seed)
        noise = rng.normal(0, 0.1, (size, size, 3))
        return UpscaleResult(np.clip(self.mean + noise, 0, 1).astype(np.float32))


class Mean(Metric):
    def score(self, images, references=None):
        return [float(img.mean()) for img in images]


class Picky(Metric):
    """Refuses images whose mean is above 0.5, to test isolation inside a batch."""

    def score(self, images, references=None):
        for img in images:
            if img.mean() > 0.5:
                raise InputRefused("too bright for fake-picky")
        return [float(img.std()) for img in images]


class Noise(Dataset):
    """``noise:N`` gives N seeded random 8x8 images (HR 16x16) in dataset 'noise'."""

    def items(self) -> Iterator[Item]:
        count = int(self.argument or 4)
        for index in range(count):
            rng = np.random.default_rng(index)
            hr = (rng.integers(0, 256, (16, 16, 3)) / 255).astype(np.float32)
            lr = hr[::2, ::2].copy()
            yield Item(image_id=f"img{index:03d}", dataset="noise", domain="Test",
                       lr=lambda lr=lr: lr, hr=lambda hr=hr: hr)


class Crashing(Upscaler):
    """Kills its worker process the first ``crashes`` times (counted in ``crash_file``)."""

    def upscale(self, image):
        counter = Path(self.context.options["crash_file"])
        crashes = int(counter.read_text()) if counter.exists() else 0
        if crashes < int(self.context.options["crashes"]):
            counter.write_text(str(crashes + 1))
            os._exit(1)
        return np.repeat(np.repeat(image, self.scale, 0), self.scale, 1)


class Fussy(Upscaler):
    """Nearest-neighbour, stacked in ``upscale_batch``; refuses images whose first pixel is
    brighter than 0.9 (a whole batch holding one fails), to test isolation in batches."""

    calls: list[int] = []  # noqa: RUF012 - sizes of the batched calls, read by the tests

    def _check(self, image):
        if image[0, 0, 0] > 0.9:
            raise ValueError("too bright a corner")

    def upscale(self, image):
        self._check(image)
        return np.repeat(np.repeat(image, self.scale, 0), self.scale, 1)

    def upscale_batch(self, images):
        Fussy.calls.append(len(images))
        for image in images:
            self._check(image)
        stacked = np.repeat(np.repeat(np.stack(images), self.scale, 1), self.scale, 2)
        return [UpscaleResult(out) for out in stacked]


class Tracked(Dataset):
    """``tracked:N``: N seeded 8x8 images made afresh at each read; ``ALIVE`` holds weak
    references to every array handed out, so a test sees how many the engine keeps."""

    ALIVE: list = []  # noqa: RUF012

    def items(self) -> Iterator[Item]:
        import weakref

        def read(index: int) -> np.ndarray:
            image = np.random.default_rng(index).random((8, 8, 3), dtype=np.float32)
            Tracked.ALIVE.append(weakref.ref(image))
            return image

        for index in range(int(self.argument or 4)):
            yield Item(image_id=f"t{index:04d}", dataset="tracked", domain="Test",
                       lr=lambda index=index: read(index))


class Overshoot(Upscaler):
    """Nearest-neighbour times 1.5: values above 1, the defect the engine must record.
    Registered by the tests that need it (not by the hooks)."""

    def upscale(self, image):
        return np.repeat(np.repeat(image, self.scale, 0), self.scale, 1) * 1.5


class Repeated(Dataset):
    """Two different images under one id (a plugin's mistake the engine must survive);
    registered by the tests that need it."""

    def items(self) -> Iterator[Item]:
        for index, source in enumerate(("first", "second")):
            image = np.full((8, 8, 3), 0.2 + 0.5 * index, np.float32)
            yield Item(image_id="same", dataset="repeated", domain="Test",
                       lr=lambda image=image: image, source=source)
