"""A compact, font-free copy of what pretraining reads, for a machine that has no fonts (a lent GPU).

`fontgen pack --recipe recipes/base.toml -o base-pack.tar.xz` renders the recipe's caches here (train
targets, the reference over the same syllables, and the val fonts of the sample grid) and writes
them into one xz tarball; `fontgen pretrain --data-pack base-pack.tar.xz` there reads them instead
of rendering fonts. The rendered glyphs are the same bytes either way, so the runs are the same.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import glyph_data
from fontgen.dataset import GlyphCache, build_cache, corpus_sources
from fontgen.errors import FontgenError
from fontgen.files import atomic_path
from fontgen.fonts import reference_source

PACK_VERSION = 1
ROLES = ("targets", "reference", "grid_targets", "grid_reference")
GRID_FIT_CHARS = 512  # known syllables used to fit the reference to each val font in the sample grid


@dataclass
class TrainingCaches:
    """The rendered caches one pretraining run reads, whether rendered here or unpacked from a pack."""

    targets: GlyphCache
    reference: GlyphCache
    grid_targets: GlyphCache
    grid_reference: GlyphCache


GRID_CHARS = 8  # unseen syllables drawn per val font in the sample grid


def grid_chars(known_chars: list[int], per_font: int = GRID_CHARS) -> list[int]:
    """Syllables of the sample grid: outside the training charset, fixed by a seed."""
    import numpy as np

    rng = np.random.default_rng(0)
    known = set(known_chars)
    unseen = [c for c in glyph_data.all_syllables() if c not in known]
    return [int(c) for c in rng.choice(unseen, per_font, replace=False)] if unseen else known_chars[:per_font]


def render_caches(sources, chars: list[int], size: int, cache_dir: str | Path, progress: bool = True) -> TrainingCaches:
    """Render (or reuse) every cache a pretraining run needs from the installed fonts."""
    grid = chars[:GRID_FIT_CHARS] + grid_chars(chars)
    return TrainingCaches(
        targets=build_cache(sources, chars, size, cache_dir, progress=progress),
        reference=build_cache([reference_source()], chars, size, cache_dir, progress=False),
        grid_targets=build_cache(corpus_sources("val"), grid, size, cache_dir, progress=False),
        grid_reference=build_cache([reference_source()], grid, size, cache_dir, progress=False),
    )


def write_pack(caches: TrainingCaches, path: str | Path, recipe: dict) -> Path:
    """Write the caches into an xz tarball (temp file, then rename); returns its path."""
    path = Path(path)
    manifest = {"version": PACK_VERSION, "image_size": recipe["data"]["image_size"],
                "chars": caches.targets.chars, "fonts": caches.targets.font_names}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as partial, tarfile.open(partial, "w:xz", preset=6) as tar:
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
                json.dump(manifest, handle)
            tar.add(handle.name, arcname="pack.json")
            os.unlink(handle.name)
            for role in ROLES:
                cache: GlyphCache = getattr(caches, role)
                for name in ("meta.json", "glyphs.u8"):
                    tar.add(cache.folder / name, arcname=f"{role}/{name}")
    except OSError as error:
        raise FontgenError(f"{path}: cannot write the data pack there ({error.strerror or error})") from None
    return path


def open_pack(path: str | Path, cache_dir: str | Path, chars: list[int], image_size: int) -> TrainingCaches:
    """Unpack a data pack once into cache_dir/pack-<hash>/ and open its caches; checks it fits the recipe."""
    path = Path(path)
    if not path.is_file():
        raise FontgenError(f"{path}: no such data pack")
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    folder = Path(cache_dir) / f"pack-{digest.hexdigest()[:16]}"
    if not (folder / "pack.json").exists():
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(dir=cache_dir, prefix=".unpacking-"))
        try:
            with tarfile.open(path, "r:xz") as tar:
                tar.extractall(partial, filter="data")
            if not (partial / "pack.json").exists():
                raise tarfile.TarError("no pack.json")
        except (tarfile.TarError, EOFError, OSError) as error:
            shutil.rmtree(partial, ignore_errors=True)
            raise FontgenError(f"{path}: not a fontgen data pack ({error})") from None
        os.replace(partial, folder)
    manifest = json.loads((folder / "pack.json").read_text())
    if manifest.get("version") != PACK_VERSION or manifest["image_size"] != image_size or manifest["chars"] != chars:
        raise FontgenError(f"{path}: this data pack was made for another recipe (size or syllables differ)")
    return TrainingCaches(*(GlyphCache(folder / role) for role in ROLES))
