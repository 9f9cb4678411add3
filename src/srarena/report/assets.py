"""The report's sibling folder of pictures: names, relative links, and removal of stale files."""

from __future__ import annotations

import os
from pathlib import Path

from ..store import safe_name
from .images import Picture
from .model import Img


class Assets:
    """Files under ``<report>/assets``; every file a build uses is kept, the rest is pruned."""

    def __init__(self, report_folder: Path) -> None:
        self.folder = report_folder
        self.root = report_folder / "assets"
        self.kept: set[Path] = set()

    def path(self, *parts: str) -> Path:
        """A path under ``assets/`` from sanitised name parts."""
        return self.root.joinpath(*(safe_name(p) for p in parts))

    def keep(self, path: Path) -> str:
        """Keep ``path`` (a file this build wrote under ``assets/``); return its link."""
        self.kept.add(path.resolve())
        return self.link(path)

    def img(self, picture: Picture) -> Img:
        """Keep ``picture`` and describe it relative to the report folder."""
        return Img(self.keep(picture.path), picture.width, picture.height)

    def link(self, target: Path) -> str:
        """``target`` relative to the report folder, with forward slashes."""
        return Path(os.path.relpath(target.resolve(), self.folder.resolve())).as_posix()

    def prune(self) -> int:
        """Delete files under ``assets/`` that this build did not use; return how many."""
        if not self.root.is_dir():
            return 0
        removed = 0
        for path in sorted(self.root.rglob("*"), reverse=True):
            if path.is_file() and path.resolve() not in self.kept:
                path.unlink()
                removed += 1
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
        return removed
