"""pyiqa's metrics as ``pyiqa:<name>``, and the guard every use of pyiqa runs under.

Registration reads a table shipped with srarena (``data/pyiqa_metrics.json``: name, FR/NR
mode, direction, score range, whether it downloads files), generated from pyiqa's
``DEFAULT_CONFIGS`` by ``python -m srarena.metrics.pyiqa_metrics`` with pyiqa's version
recorded, so that listing metrics never imports pyiqa (about ten seconds). A test compares
the table with the installed pyiqa.

Whether a metric downloads files (``downloads``) is read from pyiqa's source: its
architecture's module, and the pyiqa modules it imports, mention a download, a pretrained
checkpoint or a pretrained backbone (comments and strings aside). The reading errs towards
"downloads": only metrics computed from their inputs alone (PSNR, SSIM, FSIM, entropy, ...)
are marked as needing nothing.

While pyiqa builds a metric (:func:`pyiqa_environment`): its downloads go to srarena's
data folder (``<home>/pyiqa``) through srarena's downloader (timeouts, resume); torch hub
downloads (torchvision backbones) take the same path, and pyiqa's CLIP loaders get a
timeout; offline (``SRARENA_OFFLINE`` or ``HF_HUB_OFFLINE``) a missing file fails at once
with its name, URL and where to put it, and Hugging Face (timm backbones) is switched to
offline mode; every ``torch.load`` is forced to torch's weights-only loader; pyiqa's prints
go to stderr.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..components import Context, InputRefused, Metric, batches_by_shape
from ..specs import MetricSpec

if TYPE_CHECKING:
    import torch

TABLE = Path(__file__).parent / "data" / "pyiqa_metrics.json"
PREFIX = "pyiqa:"
INSTALL_HINT = "pip install 'srarena[iqa]'"
# Metrics of a whole set of images or of a pair of images: no per-image score.
NOT_PER_IMAGE = {
    "FID": "a distance between two image sets, not a per-image score",
    "InceptionScore": "a score of a whole image set, not a per-image score",
}
NOT_PER_IMAGE_NAMES = {"fgresq_pair": "ranks a pair of images; no score against a reference"}


def srarena_name(pyiqa_name: str) -> str:
    """``lpips+`` -> ``pyiqa:lpips-plus`` (srarena names are lower case, no '+')."""
    return PREFIX + pyiqa_name.lower().replace("+", "-plus")


@functools.cache
def table() -> dict[str, Any]:
    """The shipped table: ``{"pyiqa_version", "generated_by", "metrics": [row, ...]}``."""
    return json.loads(TABLE.read_text(encoding="utf-8"))


DOWNLOADS = re.compile(
    r"\b(default_model_urls|load_pretrained_network|load_file_from_url|"
    r"load_state_dict_from_url|from_pretrained|hf_hub_download|create_model|"
    r"get_url_from_name|urlopen|\w*download\w*)\b|\bpretrained = True\b|"
    r"\btorchvision \. models\b|\bclip \. load\b", re.IGNORECASE)
"""What, in a pyiqa module's code (names and operators, space-separated), fetches files."""
PYIQA_HELPERS = {"arch_util", "func_util", "constants"}
"""pyiqa's shared helper modules: they define the loaders; an architecture that calls one
is caught by its own code."""


def _code(source: str) -> str:
    """A module's names, operators and numbers (no comments, no strings), space-separated."""
    import io
    import tokenize

    kept = (tokenize.NAME, tokenize.OP, tokenize.NUMBER)
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return " ".join(token.string for token in tokens if token.type in kept)


def _downloads(path: Path, archs: Path, seen: set[Path]) -> bool:
    """Whether a pyiqa architecture module, or a pyiqa module it imports, fetches files."""
    import ast

    if path in seen or path.stem in PYIQA_HELPERS:
        return False
    seen.add(path)
    source = path.read_text(encoding="utf-8")
    if DOWNLOADS.search(_code(source)):
        return True
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom):
            continue
        module = node.module or ""
        if node.level:
            target = path.parent / (module.replace(".", "/") + ".py")
        elif module.startswith("pyiqa.archs."):
            target = archs / (module.removeprefix("pyiqa.archs.").replace(".", "/") + ".py")
        else:
            continue
        if target.is_file() and _downloads(target, archs, seen):
            return True
    return False


def _arch_modules(archs: Path) -> dict[str, Path]:
    """pyiqa's architecture classes and the file that defines each (read, not imported)."""
    import ast

    found: dict[str, Path] = {}
    for path in sorted(archs.rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef):
                found.setdefault(node.name, path)
    return found


def generate_table() -> dict[str, Any]:
    """The table from the installed pyiqa's registry (imports pyiqa)."""
    import pyiqa
    from pyiqa.default_model_configs import DEFAULT_CONFIGS

    archs = Path(pyiqa.__file__).parent / "archs"
    modules = _arch_modules(archs)
    rows = []
    for name, config in DEFAULT_CONFIGS.items():
        arch = config["metric_opts"]["type"]
        why_not = NOT_PER_IMAGE.get(arch) or NOT_PER_IMAGE_NAMES.get(name)
        rows.append({
            "pyiqa": name,
            "name": srarena_name(name),
            "mode": config["metric_mode"],
            "lower_better": bool(config.get("lower_better", False)),
            "score_range": config.get("score_range", ""),
            "arch": arch,
            "per_image": why_not is None,
            "downloads": arch not in modules or _downloads(modules[arch], archs, set()),
            **({"why_not": why_not} if why_not else {}),
        })
    names = [row["name"] for row in rows]
    if len(set(names)) != len(names):
        raise ValueError("two pyiqa metrics map to the same srarena name")
    return {
        "pyiqa_version": pyiqa.__version__,
        "generated_by": "python -m srarena.metrics.pyiqa_metrics",
        "metrics": rows,
    }


# --- the guard -------------------------------------------------------------------------------


def cache_dir() -> Path:
    """Where pyiqa's own weight files are kept: ``<srarena home>/pyiqa``."""
    from ..weights import home

    return home() / "pyiqa"


@contextlib.contextmanager
def patched(owner: Any, attribute: str, value: Any) -> Iterator[None]:
    """Set ``owner.attribute`` to ``value`` for the duration, then restore it."""
    saved = getattr(owner, attribute)
    setattr(owner, attribute, value)
    try:
        yield
    finally:
        setattr(owner, attribute, saved)


def _set_environ(values: dict[str, str | None]) -> None:
    """Set each variable to its value, or unset it where the value is None."""
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@contextlib.contextmanager
def _environ(values: dict[str, str | None]) -> Iterator[None]:
    """Set (None: unset) environment variables for the duration, then restore them."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        _set_environ(values)
        yield
    finally:
        _set_environ(saved)


def _fetcher(label: str) -> Any:
    """A stand-in for ``download_url_to_file(url, dst, hash_prefix, progress)``."""
    from ..weights import ChecksumMismatch, WeightsMissing, download_url, offline, sha256_file

    def fetch(url: str, dst: str, hash_prefix: str | None = None, progress: bool = True) -> None:
        target = Path(dst)
        if offline():
            raise WeightsMissing(
                f"{label} needs {target.name}, which is not in {target.parent}; offline mode "
                f"(SRARENA_OFFLINE/HF_HUB_OFFLINE) downloads nothing: run it once with the "
                f"network allowed (it downloads {url}), or put the file at {target}")
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        print(f"{label}: downloading {url} to {target}", file=sys.stderr)
        download_url(url, part, target.name)
        if hash_prefix and not sha256_file(part).startswith(hash_prefix):
            part.unlink()
            raise ChecksumMismatch(f"{url}: sha256 does not start with {hash_prefix}; discarded")
        os.replace(part, target)

    return fetch


def _guarded_urllib(label: str) -> Any:
    """A stand-in for the ``urllib`` of pyiqa's CLIP loaders (they call ``urlopen`` directly)."""
    import urllib.request
    from types import SimpleNamespace

    from ..weights import WeightsMissing, download_timeout, offline

    def urlopen(url: str, *args: Any, **kwargs: Any) -> Any:
        if offline():
            raise WeightsMissing(
                f"{label} needs {url.rsplit('/', 1)[-1]} (from {url}), which is not in its "
                "CLIP cache (<torch hub>/clip or ~/.cache/clip); offline mode "
                "(SRARENA_OFFLINE/HF_HUB_OFFLINE) downloads nothing: run it once with the "
                "network allowed")
        kwargs.setdefault("timeout", download_timeout())
        return urllib.request.urlopen(url, *args, **kwargs)

    return SimpleNamespace(request=SimpleNamespace(urlopen=urlopen))


def _clip_loaders() -> list[Any]:
    """pyiqa's modules that download CLIP weights with ``urllib`` themselves."""
    import importlib

    found = []
    for name in ("pyiqa.archs.clip_model", "pyiqa.archs.afineclip_model"):
        try:
            found.append(importlib.import_module(name))
        except ImportError:  # a pyiqa without it: nothing to guard
            continue
    return found


_GUARD = threading.RLock()


@contextlib.contextmanager
def pyiqa_environment(label: str) -> Iterator[None]:
    """Build pyiqa metrics under srarena's rules (see the module's docstring)."""
    import torch.hub
    from pyiqa.utils import download_util

    from ..weights import offline

    fetch = _fetcher(label)
    with _GUARD, contextlib.ExitStack() as stack:
        stack.enter_context(patched(download_util, "DEFAULT_CACHE_DIR", str(cache_dir())))
        stack.enter_context(patched(download_util, "download_url_to_file", fetch))
        stack.enter_context(patched(torch.hub, "download_url_to_file", fetch))
        for module in _clip_loaders():
            stack.enter_context(patched(module, "urllib", _guarded_urllib(label)))
        stack.enter_context(_environ({"TORCH_FORCE_WEIGHTS_ONLY_LOAD": "1",
                                      "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": None}))
        if offline():
            import huggingface_hub.constants

            stack.enter_context(patched(huggingface_hub.constants, "HF_HUB_OFFLINE", True))
            stack.enter_context(_environ({"HF_HUB_OFFLINE": "1"}))
        stack.enter_context(contextlib.redirect_stdout(sys.stderr))
        yield


def _offline_hub_error(label: str, exc: Exception) -> Exception | None:
    """A :class:`WeightsMissing` for a Hugging Face file absent while offline, else None."""
    from ..weights import WeightsMissing, offline

    if not offline() or type(exc).__name__ not in ("LocalEntryNotFoundError",
                                                   "OfflineModeIsEnabled"):
        return None
    return WeightsMissing(
        f"{label} needs a file from the Hugging Face Hub that is not in its cache "
        f"({str(exc).splitlines()[0]}); offline mode (SRARENA_OFFLINE/HF_HUB_OFFLINE) "
        "downloads nothing: run it once with the network allowed")


# --- the metric --------------------------------------------------------------------------


class PyiqaMetric(Metric):
    """A pyiqa metric with its defaults; option ``pyiqa_name`` names it in pyiqa."""

    def __init__(self, spec: MetricSpec, context: Context) -> None:
        super().__init__(spec, context)
        import torch

        self.device = torch.device(context.device)
        name = str(context.options["pyiqa_name"])
        with pyiqa_environment(spec.name):
            import pyiqa

            try:
                self.model = pyiqa.create_metric(name, device=self.device, as_loss=False)
            except Exception as exc:
                missing = _offline_hub_error(spec.name, exc)
                if missing is None:
                    raise
                raise missing from exc

    def score(self, images: Sequence[np.ndarray],
              references: Sequence[np.ndarray] | None = None) -> list[float]:
        full_reference = self.spec.kind == "full-reference"
        if full_reference:
            if references is None:
                raise InputRefused(f"{self.spec.name} needs the HR ground truth")
            for image, reference in zip(images, references, strict=True):
                if image.shape != reference.shape:
                    raise InputRefused(f"SR size {image.shape[:2]} differs from HR size "
                                       f"{reference.shape[:2]}")
        scores = np.zeros(len(images), dtype=np.float64)
        for batch in batches_by_shape(images, self.spec.batch_size):
            refs = (self._tensor([references[i] for i in batch])  # type: ignore[index]
                    if full_reference else None)
            scores[batch] = self._run(self._tensor([images[i] for i in batch]), refs)
        return [float(value) for value in scores]

    def _tensor(self, images: list[np.ndarray]) -> torch.Tensor:
        import torch

        stack = torch.from_numpy(np.ascontiguousarray(np.stack(images), dtype=np.float32))
        return stack.to(self.device).clamp(0, 1).permute(0, 3, 1, 2).contiguous()

    def _run(self, batch: torch.Tensor, refs: torch.Tensor | None) -> np.ndarray:
        import torch

        with torch.inference_mode():
            values = self.model(batch, refs) if refs is not None else self.model(batch)
        if isinstance(values, (tuple, list)):
            values = values[0]
        values = values.float().reshape(-1).cpu().numpy()
        if values.size != batch.shape[0]:
            raise RuntimeError(f"{self.spec.name}: pyiqa returned {values.size} values for "
                               f"{batch.shape[0]} images")
        return values

    def close(self) -> None:
        import torch

        del self.model
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


def main() -> None:
    """Regenerate the shipped table from the installed pyiqa."""
    data = generate_table()
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    rows = ",\n  ".join(json.dumps(row) for row in data["metrics"])
    head = json.dumps({key: value for key, value in data.items() if key != "metrics"})
    TABLE.write_text(f'{head[:-1]}, "metrics": [\n  {rows}\n]}}\n', encoding="utf-8")
    print(f"{TABLE}: {len(data['metrics'])} metrics from pyiqa {data['pyiqa_version']}")


if __name__ == "__main__":
    main()
