"""The dataset zoo: public benchmark datasets fetched by name, checked, laid out, cached.

Each :class:`Entry` names where its files come from (an https archive, a Kaggle dataset, or
a manual download where the licence forbids automatic download), its licence, its size and
sha256 when the publisher gives them, and how the downloaded files map onto srarena's
layout. ``fetch(entry)`` downloads with the weights service's resumable downloader
(``<archive>.part`` beside its final name, HTTP ``Range`` resume, offline mode), checks the
sha256, extracts safely (:mod:`.archives`), maps and counts the images, and moves the result
into ``<home>/datasets/<entry>/data`` in one rename. A publisher that gives no sha256 is
trusted on first use: the sha256 of the first download is recorded in the entry's folder
(and can be shipped in ``zoo_manifest.json``) and every later download is checked against it.

Dataset sources (``-d div2krk-x4``, ``-d gaussian8-x4``, ``-d study``) read from the cache
(:mod:`.zoo_sources`) and never download: a missing entry is an error with the fetch command.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .. import weights
from ..atomic import atomic_write_text
from . import archives
from .files import IMAGE_EXTENSIONS, DatasetError, is_hidden

if TYPE_CHECKING:
    from ..weights.download import DownloadProgress as Progress

MARKER = ".srarena-dataset.json"
DATA = "data"


class FetchError(DatasetError):
    """A zoo entry could not be fetched; the message says why and what to do."""


class NotInstalled(DatasetError):
    """A dataset source needs a zoo entry that is not in the cache."""


Layout = Callable[[Path, Path], dict[str, int]]
"""``layout(downloaded, data)`` copies the files srarena uses from the downloaded tree into
``data`` in srarena's layout and returns the number of files per group."""


@dataclass(frozen=True)
class Entry:
    """One dataset of the zoo and how to get it."""

    name: str
    title: str
    kind: Literal["https", "kaggle", "manual"]
    urls: tuple[str, ...]
    licence: str
    layout: Layout
    counts: dict[str, int]
    domains: dict[str, str]
    provides: tuple[str, ...]
    archive: str = ""
    handle: str = ""
    size: int | None = None
    sha256: str | None = None
    citation: str = ""
    note: str = ""
    instructions: str = ""

    @property
    def folder(self) -> Path:
        return home() / self.name

    @property
    def data(self) -> Path:
        return self.folder / DATA

    @property
    def part(self) -> Path | None:
        """Where the archive's download accumulates (None without an archive)."""
        return self.folder / (self.archive + ".part") if self.archive else None


def home() -> Path:
    """Where fetched datasets live: ``datasets/`` beside the weights cache."""
    return weights.home() / "datasets"


# --- layouts --------------------------------------------------------------------------------


def _is_image(path: Path) -> bool:
    return path.is_file() and not is_hidden(path.name) \
        and path.suffix.lower() in IMAGE_EXTENSIONS


def _find_root(tree: Path, required: tuple[str, ...], depth: int = 3) -> Path:
    """The folder at most ``depth`` levels under ``tree`` that holds every ``required`` child."""
    level = [tree]
    for _ in range(depth + 1):
        for folder in sorted(level):
            if all((folder / name).is_dir() for name in required):
                return folder
        level = [child for folder in level for child in folder.iterdir()
                 if child.is_dir() and not is_hidden(child.name)]
    raise FetchError(f"the download holds no folder with {', '.join(required)} (searched "
                     f"{depth} levels deep); the archive's layout is not the expected one")


def _copy_group(source: Path, target: Path, pattern: re.Pattern[str] | None = None) -> int:
    target.mkdir(parents=True, exist_ok=True)
    count = 0
    for path in sorted(source.iterdir()):
        if path.is_file() and not is_hidden(path.name) and (
                pattern.fullmatch(path.name) if pattern else _is_image(path)):
            shutil.copyfile(path, target / path.name)
            count += 1
    return count


def div2krk_layout(tree: Path, data: Path) -> dict[str, int]:
    """KernelGAN's ``DIV2KRK_public.zip``: ``DIV2KRK/{gt, lr_x2, lr_x4, gt_k_x2, gt_k_x4}``
    (``img_N_gt.png``, ``im_N.png``, ``kernel_N.mat``), kept as it is."""
    root = _find_root(tree, ("gt", "lr_x2", "lr_x4", "gt_k_x2", "gt_k_x4"))
    mat = re.compile(r"kernel_\d+\.mat")
    counts = {group: _copy_group(root / group, data / group) for group in
              ("gt", "lr_x2", "lr_x4")}
    counts.update({group: _copy_group(root / group, data / group, mat)
                   for group in ("gt_k_x2", "gt_k_x4")})
    return counts


BENCHMARK_SETS = ("Set5", "Set14", "B100", "Urban100")


def sr_benchmarks_layout(tree: Path, data: Path) -> dict[str, int]:
    """EDSR's ``benchmark.tar``: ``benchmark/<set>/HR/*.png``; the HR of each set is kept."""
    root = _find_root(tree, BENCHMARK_SETS)
    return {name: _copy_group(root / name / "HR", data / name) for name in BENCHMARK_SETS}


#: The study's 14 datasets and their domains (the study's ``calculate_NIQE.py`` list).
STUDY_DATASETS = {
    "condoaerial": "Aerial", "massachbuildings": "Aerial", "ships": "Aerial",
    "ufsm-flame": "Aerial", "catsfaces": "Fauna", "dogsfaces": "Fauna", "flowers": "Flora",
    "plantpat": "Flora", "melanomaisic": "Medical", "structretina": "Medical",
    "amazonia1": "Satellite", "cbers4a": "Satellite", "deepglobe": "Satellite",
    "isaid": "Satellite",
}
STUDY_ALIASES = {"melanomaistic": "melanomaisic"}
STUDY_TECHNIQUES = {"apa", "blindsr", "dan", "fastgan", "moesr"}
STUDY_LR = re.compile(r"low_\d+", re.IGNORECASE)


def _study_candidates(tree: Path) -> dict[str, list[Path]]:
    """Folders named after a study dataset, outside the techniques' output folders."""
    found: dict[str, list[Path]] = {}
    for folder, dirs, _ in os.walk(tree):
        dirs[:] = sorted(d for d in dirs if not is_hidden(d) and d.lower() not in STUDY_TECHNIQUES)
        name = Path(folder).name.lower()
        name = STUDY_ALIASES.get(name, name)
        if name in STUDY_DATASETS and Path(folder) != tree:
            found.setdefault(name, []).append(Path(folder))
    return found


def _study_images(folder: Path) -> dict[str, Path]:
    """The LR images (``low_NNN.*``) under one dataset folder, by stem."""
    images: dict[str, Path] = {}
    for sub, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d.lower() not in STUDY_TECHNIQUES and not is_hidden(d))
        for name in sorted(names):
            path = Path(sub) / name
            if _is_image(path) and STUDY_LR.fullmatch(path.stem):
                images.setdefault(path.stem.lower(), path)
    return images


def study_layout(tree: Path, data: Path) -> dict[str, int]:
    """The study's Kaggle dataset: for each of the 14 datasets, the folder named after it
    whose LR inputs (``low_NNN``) are 100; copied to ``data/<Domain>/<dataset>/``.

    The Kaggle archive also holds the techniques' outputs (folders named after APA, BlindSR,
    DAN, FastGAN, MoESR), which are skipped.
    """
    candidates = _study_candidates(tree)
    counts: dict[str, int] = {}
    for dataset, domain in STUDY_DATASETS.items():
        chosen: dict[str, Path] = {}
        for folder in candidates.get(dataset, []):
            images = _study_images(folder)
            if len(images) > len(chosen):
                chosen = images
            if len(images) == 100:
                break
        target = data / domain / dataset
        target.mkdir(parents=True, exist_ok=True)
        for stem, path in sorted(chosen.items()):
            shutil.copyfile(path, target / f"{stem}{path.suffix.lower()}")
        counts[dataset] = len(chosen)
    return counts


def manga109_layout(tree: Path, data: Path) -> dict[str, int]:
    """A Manga109 folder given by hand: its images (109 volumes) into ``data/Manga109``."""
    return {"Manga109": _copy_group(tree, data / "Manga109")}


# --- the catalogue --------------------------------------------------------------------------

DIV2KRK = Entry(
    name="div2krk",
    title="DIV2KRK: 100 DIV2K validation images degraded by random anisotropic kernels "
          "(KernelGAN), x2 and x4, with the ground-truth kernels",
    kind="https",
    urls=("https://www.wisdom.weizmann.ac.il/~vision/kernelgan/DIV2KRK_public.zip",),
    archive="DIV2KRK_public.zip",
    licence="distributed by the KernelGAN authors for research (no licence stated); the HR "
            "images are DIV2K's (research use only)",
    layout=div2krk_layout,
    counts={"gt": 100, "lr_x2": 100, "lr_x4": 100, "gt_k_x2": 100, "gt_k_x4": 100},
    domains={"DIV2KRK": "natural"},
    provides=("div2krk-x2", "div2krk-x4"),
    citation="Bell-Kligler, Shocher, Irani, Blind Super-Resolution Kernel Estimation using an "
             "Internal-GAN, NeurIPS 2019 (arXiv 1909.06581); URL from github.com/sefibk/"
             "KernelGAN README (given there as http://, fetched over https)",
    note="The publisher gives no sha256: the first download's is recorded.",
)

SR_BENCHMARKS = Entry(
    name="sr-benchmarks",
    title="Set5, Set14, B100 (BSD100) and Urban100 HR images (EDSR's benchmark archive), "
          "the HR of the Gaussian-8 setting",
    kind="https",
    urls=("https://cv.snu.ac.kr/research/EDSR/benchmark.tar",),
    archive="benchmark.tar",
    licence="research use; images from Bevilacqua et al. (Set5), Zeyde et al. (Set14), "
            "Martin et al. (BSD), Huang et al. (Urban100); no licence stated by the "
            "distributor",
    layout=sr_benchmarks_layout,
    counts={"Set5": 5, "Set14": 14, "B100": 100, "Urban100": 100},
    domains={"Set5": "natural", "Set14": "natural", "B100": "natural", "Urban100": "urban"},
    provides=("gaussian8-x4",),
    citation="Lim et al., EDSR, CVPRW 2017 (Seoul National University server); DAN's and "
             "IKC's READMEs link the same images in SelfExSR's per-scale archives "
             "(uofi.box.com), which are cropped per scale and lack Urban100 at x3",
    note="The publisher gives no sha256: the first download's is recorded.",
)

STUDY = Entry(
    name="study",
    title="The study's 14 LR datasets (5 domains, 100 images each), de Santiago Junior, "
          "AI 2023",
    kind="kaggle",
    urls=("https://www.kaggle.com/datasets/valdivinosantiago/dl-blindsr-datasets",),
    handle="valdivinosantiago/dl-blindsr-datasets",
    licence="see the Kaggle page; the study's repository vsantjr/DL_BlindSR is GPL-3.0",
    layout=study_layout,
    counts=dict.fromkeys(STUDY_DATASETS, 100),
    domains=dict(STUDY_DATASETS),
    provides=("study",),
    citation="V. A. de Santiago Junior, Evaluating Deep Learning Techniques for Blind Image "
             "Super-Resolution within a High-Scale Multi-Domain Perspective, AI 2023, 4(3), "
             "598-619",
    note="Fetched with kagglehub (pip install kagglehub). Public Kaggle datasets need no "
         "credentials; if Kaggle asks for them, set KAGGLE_USERNAME and KAGGLE_KEY (an API "
         "token from https://www.kaggle.com/settings, 'Create New Token') or put kaggle.json "
         "in ~/.kaggle/ (or $KAGGLE_CONFIG_DIR). The checksum is the sha256 of the laid-out "
         "files, recorded at the first download.",
)

MANGA109 = Entry(
    name="manga109",
    title="Manga109: 109 manga volumes (HR), the fifth set of DAN's setting 1",
    kind="manual",
    urls=("http://www.manga109.org/en/",),
    licence="Manga109 licence: academic use after accepting its terms on the site; no "
            "automatic download",
    layout=manga109_layout,
    counts={"Manga109": 109},
    domains={"Manga109": "manga"},
    provides=("gaussian8-x4",),
    citation="Matsui et al., Sketch-based manga retrieval using manga109 dataset, 2017",
    instructions="request the dataset on the Manga109 site, then run `srarena datasets add "
                 "manga109 FOLDER` with the folder of its 109 images",
)

ENTRIES: dict[str, Entry] = {e.name: e for e in (STUDY, DIV2KRK, SR_BENCHMARKS, MANGA109)}


def find(name: str) -> Entry:
    """An entry by its name or by a dataset name it provides (``div2krk-x4`` -> div2krk)."""
    if name in ENTRIES:
        return ENTRIES[name]
    owners = [e for e in ENTRIES.values() if name in e.provides and e.kind != "manual"]
    if owners:
        return owners[0]
    raise DatasetError(f"no dataset named {name!r} in the zoo; known: {', '.join(ENTRIES)} "
                       "(see `srarena datasets list`)")


# --- records --------------------------------------------------------------------------------


def shipped_records() -> dict[str, dict[str, Any]]:
    """The sha256 records shipped with srarena (``zoo_manifest.json``), by entry."""
    text = files("srarena.datasets").joinpath("zoo_manifest.json").read_text(encoding="utf-8")
    return json.loads(text).get("records", {})


def marker(entry: Entry) -> dict[str, Any] | None:
    """The record written when the entry was installed, or None."""
    try:
        data = json.loads((entry.folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def reference_sha256(entry: Entry) -> tuple[str | None, str]:
    """The sha256 a download must have and where it comes from (None: first download)."""
    if entry.sha256:
        return entry.sha256, "published"
    shipped = shipped_records().get(entry.name, {}).get("sha256")
    if shipped:
        return shipped, "recorded (shipped with srarena)"
    local = (marker(entry) or {}).get("sha256")
    if local:
        return local, "recorded at this machine's first download"
    return None, ""


def state(entry: Entry) -> str:
    """installed, partial (an interrupted download), missing, or manual (not added)."""
    record = marker(entry)
    if record and entry.data.is_dir():
        return "installed"
    if entry.part is not None and entry.part.is_file():
        return "partial"
    return "manual" if entry.kind == "manual" else "missing"


def fix_command(entry: Entry) -> str:
    if entry.kind == "manual":
        return f"srarena datasets add {entry.name} FOLDER"
    return f"srarena datasets fetch {entry.name}"


def require(name: str) -> Path:
    """The data folder of an installed entry; :class:`NotInstalled` with the fix otherwise."""
    entry = ENTRIES[name]
    if state(entry) == "installed":
        return entry.data
    how = entry.instructions or f"run `{fix_command(entry)}`"
    offline = " (offline mode is on: fetch where the network is allowed)" \
        if weights.offline() and entry.kind != "manual" else ""
    raise NotInstalled(f"dataset {entry.name!r} is not installed in {entry.folder}: "
                       f"{how}{offline}")


def overview() -> list[dict[str, Any]]:
    """One row per entry: what it is, where from, licence, size, sha256, state, fix."""
    rows = []
    for entry in ENTRIES.values():
        record = marker(entry) or {}
        reference, origin = reference_sha256(entry)
        st = state(entry)
        rows.append({
            "name": entry.name, "title": entry.title, "kind": entry.kind,
            "provides": list(entry.provides), "sources": list(entry.urls),
            "handle": entry.handle, "licence": entry.licence,
            "size": record.get("size", entry.size), "sha256": reference,
            "sha256_origin": origin, "domains": entry.domains, "counts": entry.counts,
            "state": st, "path": str(entry.data), "citation": entry.citation,
            "note": entry.note or entry.instructions,
            "fix": "" if st == "installed" else fix_command(entry),
        })
    return rows


# --- installing -----------------------------------------------------------------------------


def _check_counts(entry: Entry, counts: dict[str, int], exact: bool = True) -> None:
    wrong = {group: (counts.get(group, 0), want) for group, want in entry.counts.items()
             if counts.get(group, 0) != want and (exact or counts.get(group, 0) == 0)}
    if wrong:
        found = ", ".join(f"{group}: {got} (expected {want})"
                          for group, (got, want) in wrong.items())
        raise FetchError(f"{entry.name}: the files do not match the expected layout: {found}")


def _install(entry: Entry, tree: Path, source: str, sha256: str | None = None,
             size: int | None = None, exact: bool = True, checked: bool = False,
             ) -> dict[str, Any]:
    """Lay the downloaded ``tree`` out, count it and swap it in as ``data/`` in one rename.

    Without ``sha256`` (a tree that came as files, not as one archive) the sha256 is that of
    the laid-out files, checked against the entry's reference when ``checked``.
    """
    staging = entry.folder / ".data-staging"
    archives.remove_tree(staging)
    counts = entry.layout(tree, staging)
    try:
        _check_counts(entry, counts, exact)
        if sha256 is None:
            sha256 = tree_sha256(staging)
            if checked:
                _checked(entry, sha256, source)
    except FetchError:
        archives.remove_tree(staging)
        raise
    old = entry.folder / ".data-old"
    archives.remove_tree(old)
    if entry.data.exists():
        os.replace(entry.data, old)
    os.replace(staging, entry.data)
    archives.remove_tree(old)
    record = {"format": 1, "entry": entry.name, "sha256": sha256, "size": size,
              "source": source, "counts": counts,
              "installed": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    atomic_write_text(entry.folder / MARKER, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return record


def _checked(entry: Entry, sha256: str, source: str) -> None:
    reference, origin = reference_sha256(entry)
    if reference is not None and sha256 != reference:
        raise FetchError(
            f"{entry.name} from {source}: sha256 {sha256}, {origin} {reference}; the download "
            "was discarded (the publisher may have changed the files: delete "
            f"{entry.folder / MARKER} to accept the new ones)")


def fetch(entry: Entry, progress: Progress | None = None, force: bool = False) -> dict[str, Any]:
    """Make an entry present: download (resuming), check, extract, lay out, count, record.

    An installed entry is left as it is unless ``force``. Raises :class:`FetchError`.
    """
    if state(entry) == "installed" and not force:
        return marker(entry) or {}
    if entry.kind == "manual":
        raise FetchError(f"{entry.name}: its licence forbids automatic download; "
                         f"{entry.instructions}")
    if weights.offline():
        raise FetchError(f"{entry.name}: offline mode (SRARENA_OFFLINE/HF_HUB_OFFLINE) "
                         "downloads nothing; fetch it where the network is allowed")
    entry.folder.mkdir(parents=True, exist_ok=True)
    if entry.kind == "kaggle":
        return _fetch_kaggle(entry)
    return _fetch_https(entry, progress)


def _fetch_https(entry: Entry, progress: Progress | None) -> dict[str, Any]:
    from ..weights.download import download

    part = entry.part
    assert part is not None, f"{entry.name} downloads no archive"
    failures = []
    for url in entry.urls:
        try:
            download(url, part, entry.archive, progress, entry.size)
        except weights.DownloadError as exc:
            failures.append(str(exc))
            continue
        size = part.stat().st_size
        sha256 = weights.sha256_file(part)
        try:
            if entry.size is not None and size != entry.size:
                raise FetchError(f"{entry.name} from {url}: {size} bytes, expected "
                                 f"{entry.size}; the download was discarded")
            _checked(entry, sha256, url)
            extracted = entry.folder / ".extracted"
            archives.remove_tree(extracted)
            archives.extract(part, extracted)
            record = _install(entry, extracted, url, sha256, size)
        except DatasetError:
            part.unlink(missing_ok=True)
            archives.remove_tree(entry.folder / ".extracted")
            raise
        archives.remove_tree(extracted)
        part.unlink()
        return record
    raise FetchError(f"{entry.name}: every source failed: " + "; ".join(failures))


def tree_sha256(folder: Path) -> str:
    """One sha256 naming a folder's files by relative path and content (the weights
    service's fingerprint of a set of files)."""
    return weights.fingerprint({p.relative_to(folder).as_posix(): p
                                for p in folder.rglob("*") if p.is_file()})


def _fetch_kaggle(entry: Entry) -> dict[str, Any]:
    try:
        import kagglehub
    except ImportError:
        raise FetchError(f"{entry.name} comes from Kaggle through kagglehub: "
                         "pip install kagglehub (or 'srarena[datasets]')") from None
    try:
        tree = Path(kagglehub.dataset_download(entry.handle))
    except Exception as exc:  # noqa: BLE001 - kagglehub raises many kinds; all end the same way
        text = f"{type(exc).__name__}: {exc}"
        hint = (" Kaggle asked for credentials: set KAGGLE_USERNAME and KAGGLE_KEY (an API "
                "token from https://www.kaggle.com/settings, 'Create New Token') or put "
                "kaggle.json in ~/.kaggle/ (or $KAGGLE_CONFIG_DIR)"
                if re.search(r"401|403|auth|credential", text, re.IGNORECASE) else "")
        raise FetchError(f"{entry.name}: kagglehub could not download {entry.handle}: "
                         f"{text}.{hint}") from None
    version = re.search(r"versions[/\\](\d+)", str(tree))
    source = f"kaggle:{entry.handle}" + (f"/versions/{version.group(1)}" if version else "")
    return _install(entry, tree, source, checked=True)


def add(entry: Entry, folder: Path) -> dict[str, Any]:
    """Install a folder downloaded by hand (entries whose licence forbids automatic download)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FetchError(f"{folder} is not a folder")
    entry.folder.mkdir(parents=True, exist_ok=True)
    return _install(entry, folder, f"added from {folder}", exact=False)

