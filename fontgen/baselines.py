"""The honest baselines every model result is compared with.

- reference: Noto Sans CJK KR, moved and scaled per layout class to where the font's own glyphs sit;
- nearest corpus font: the train font whose glyphs look most like the font's known glyphs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from fontgen.dataset import build_cache, corpus_sources
from fontgen.errors import FontgenError
from fontgen.fonts import (FontSource, drawn_codepoints, font_info, reference_source, require_hangul,
                           resolve_chars)
from fontgen.generate import glyph_path, save_glyph_png
from fontgen.reference import LayoutFit, fitted_reference_glyphs, ink_boxes
from fontgen.render import FINISH_SIZE, GlyphRenderer


def fit_to_font(font: str | Path, known: list[int], size: int = 64, face: int = 0) -> LayoutFit:
    """The layout fit of the reference to a font, from its known syllables."""
    target = GlyphRenderer(font, size, face=face).render_many(known)
    source = reference_source()
    reference = GlyphRenderer(source.path, size, face=source.face).render_many(known)
    return LayoutFit.from_boxes(known, ink_boxes(target), ink_boxes(reference))


def generate_reference(font: str | Path, output: str | Path, chars: str = "missing", size: int = FINISH_SIZE,
                       face: int = 0) -> tuple[int, Path]:
    """`fontgen generate FONT --method reference`: the baseline's PNGs for the font's missing syllables."""
    info = font_info(font, face)
    require_hangul(info, 1)
    wanted = resolve_chars(chars, info.hangul)
    fit = fit_to_font(font, info.hangul, face=face)
    output = Path(output)
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise FontgenError(f"{output}: cannot create the folder ({error.strerror})") from None
    images = fitted_reference_glyphs(wanted, fit, size)
    for codepoint, image in zip(wanted, images):
        save_glyph_png(image, glyph_path(output, codepoint), size)
    return len(wanted), output


def nearest_corpus_font(font: str | Path, known: list[int], cache_dir: str | Path, size: int = 64,
                        sample: int = 128, face: int = 0, required: list[int] = ()) -> FontSource:
    """The train font whose glyphs are closest (mean squared error) to the font's known glyphs.

    Only fonts that draw every `required` syllable compete: a font that lacks them cannot fill the gap.
    """
    rng = np.random.default_rng(0)
    chosen = sorted(int(c) for c in rng.choice(known, min(sample, len(known)), replace=False))
    target = GlyphRenderer(font, size, face=face).render_many(chosen).astype(np.float32)
    sources = [s for s in corpus_sources("train")
               if len(drawn_codepoints(s.path, list(required) + chosen, s.face)) == len(required) + len(chosen)]
    if not sources:
        raise FontgenError("no train font draws all the requested syllables")
    cache = build_cache(sources, chosen, size, cache_dir, progress=False)
    errors = [np.mean((np.asarray(cache.images[i], dtype=np.float32) - target) ** 2) for i in range(len(sources))]
    return sources[int(np.argmin(errors))]
