"""Rendering corpus splits (or one user's font) into a compact uint8 cache on disk.

A cache is a folder holding glyphs.u8 (a memmap of shape fonts x chars x size x size, ink-positive)
and meta.json (fonts, characters, size, and which font has which character). It is reused when the
fonts and the settings are unchanged, and rebuilt otherwise.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

import glyph_data
from fontgen.files import atomic_path, write_text_atomic
from fontgen.fonts import FontSource
from fontgen.render import GlyphRenderer

CACHE_VERSION = 2


def corpus_sources(split: str, limit: int | None = None) -> list[FontSource]:
    """The installed fonts of a corpus split as FontSources."""
    fonts = [f for f in glyph_data.corpus_split(split) if f.available]
    if limit:
        fonts = fonts[:limit]
    return [FontSource(f.name, f.path, f.face) for f in fonts]


class GlyphCache:
    """A rendered cache opened read-only: images[font_index, char_index] and has[font_index, char_index]."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.meta = json.loads((self.folder / "meta.json").read_text())
        self.font_names: list[str] = self.meta["fonts"]
        self.chars: list[int] = self.meta["chars"]
        self.size: int = self.meta["size"]
        self.has = np.array(self.meta["has"], dtype=bool)
        shape = (len(self.font_names), len(self.chars), self.size, self.size)
        self.images = np.memmap(self.folder / "glyphs.u8", dtype=np.uint8, mode="r", shape=shape)
        self.char_index = {c: i for i, c in enumerate(self.chars)}


def _cache_key(sources: list[FontSource], chars: list[int], size: int) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps([CACHE_VERSION, size, chars]).encode())
    for source in sources:
        stat = Path(source.path).stat()
        digest.update(f"{source.name}|{source.path}|{source.face}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def build_cache(
    sources: list[FontSource], chars: list[int], size: int, root: str | Path, progress: bool = True
) -> GlyphCache:
    """Render every source font's characters at `size` px into root/<key>/, reusing a matching cache."""
    key = _cache_key(sources, chars, size)
    folder = Path(root) / key
    if (folder / "meta.json").exists():
        return GlyphCache(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shape = (len(sources), len(chars), size, size)
    # Two runs (eval of two fonts side by side) may render the same cache at once: each writes its own file.
    with atomic_path(folder / "glyphs.u8") as partial:
        images = np.memmap(partial, dtype=np.uint8, mode="w+", shape=shape)
        has = np.zeros((len(sources), len(chars)), dtype=bool)
        for i, source in enumerate(tqdm(sources, desc=f"render {size}px", unit="font", disable=not progress)):
            renderer = GlyphRenderer(source.path, size, face=source.face)
            for j, char in enumerate(chars):
                if renderer.has(char):
                    images[i, j] = renderer.render(char)
                    has[i, j] = bool(images[i, j].max() > 0)  # a mapped but empty glyph is not a sample
        images.flush()
        del images
    meta = {"version": CACHE_VERSION, "fonts": [s.name for s in sources], "paths": [str(s.path) for s in sources],
            "faces": [s.face for s in sources], "chars": chars, "size": size, "has": has.tolist()}
    write_text_atomic(folder / "meta.json", json.dumps(meta))
    return GlyphCache(folder)


class StyledGlyphs:
    """Training pairs: (target glyph of a font, its fitted reference content, the font's style token).

    Holds a rendered cache of target fonts and one of the reference font over the same characters,
    and the layout fit of the reference to each target font.
    """

    def __init__(self, targets: GlyphCache, reference: GlyphCache, style_tokens: list[str],
                 chars_mask: np.ndarray | None = None):
        from fontgen.reference import LayoutFit, ink_boxes

        if targets.chars != reference.chars or targets.size != reference.size:
            raise ValueError("target and reference caches must cover the same characters at the same size")
        self.targets, self.reference, self.style_tokens = targets, reference, style_tokens
        usable = targets.has & reference.has[0][None, :]
        if chars_mask is not None:
            usable &= chars_mask
        self.usable = usable
        self.pairs = np.argwhere(usable)  # (font index, char index)
        reference_boxes = ink_boxes(np.asarray(reference.images[0]))
        self.fits = []
        for f in range(len(targets.font_names)):
            chosen = np.flatnonzero(usable[f])
            boxes = ink_boxes(np.asarray(targets.images[f][chosen]))
            codepoints = [targets.chars[j] for j in chosen]
            self.fits.append(LayoutFit.from_boxes(codepoints, boxes, reference_boxes[chosen]))

    def __len__(self) -> int:
        return len(self.pairs)

    def batch(self, indices: np.ndarray):
        """Targets and contents as uint8 tensors (n, 1, s, s), styles and codepoints as lists."""
        import torch

        from fontgen.reference import warp

        pairs = self.pairs[indices]
        targets = torch.from_numpy(np.stack([self.targets.images[f, c] for f, c in pairs]))[:, None]
        codepoints = [self.targets.chars[c] for _, c in pairs]
        reference = torch.from_numpy(np.stack([self.reference.images[0, c] for _, c in pairs]))[:, None]
        affines = np.stack([self.fits[f].for_codepoints([cp])[0] for (f, _), cp in zip(pairs, codepoints)])
        content = warp(reference.float() / 255.0, affines).clamp(0, 1)
        content = (content * 255.0 + 0.5).to(torch.uint8)
        styles = [self.style_tokens[f] for f, _ in pairs]
        return targets, content, styles, codepoints
