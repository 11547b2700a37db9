"""How far a font's drawn syllables are from its own foundry composites: a ceiling for composition.

The Nanum fonts draw their 2,350 KS X 1001 syllables one by one and store the others as composites of
positional jamo glyphs, drawn smaller and thinner. fontgen composes the missing syllables from the drawn
ones and is scored against the foundry's composites; this runs the same comparison the other way round with
exact jamo: KS X 1001 syllables composed from the font's own composite syllables (labels read from their
components, nothing registered) against the drawn originals. What stays between the two is the gap between
the two ways the foundry drew, which no copy of the known strokes closes.

    python benchmarks/compose_ceiling.py [--fonts NanumPen NanumBrush] [--syllables 64]
"""
import argparse
import json
from pathlib import Path

import numpy as np

import glyph_data
from fontgen.compose import composer_for_font, downsize
from fontgen.fonts import font_info
from fontgen.jamo import VariantTable
from fontgen.render import GlyphRenderer, similarity

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fonts", nargs="*", default=["NanumPen", "NanumBrush"])
    parser.add_argument("--syllables", type=int, default=64)
    args = parser.parse_args()
    ksx = set(glyph_data.ksx1001_syllables())
    results = []
    for name in args.fonts:
        font = glyph_data.corpus_font(name)
        drawn = font_info(font.path, font.face).hangul
        composites = [c for c in drawn if c not in ksx]
        composer = composer_for_font(font.path, font.face, composites, VariantTable.shipped())
        rng = np.random.default_rng(1)
        targets = sorted(int(c) for c in rng.choice(sorted(ksx & set(drawn)), args.syllables, replace=False))
        targets = [c for c in targets if composer.sources(c) is not None]
        composed = downsize(np.stack([composer.compose(c) for c in targets]), 128)
        real = GlyphRenderer(font.path, 128, face=font.face, frame=composer.font.frame).render_many(targets)
        score = {k: round(v, 4) for k, v in similarity(real, composed).items()}
        results.append({"font": name, "syllables": len(targets), **score})
        print(f"{name}: KS X 1001 syllables composed from the foundry's composites vs drawn, n={len(targets)}: "
              f"IoU {score['iou']:.3f}, SSIM {score['ssim']:.3f}, RMSE {score['rmse']:.3f}")
    (RESULTS / "compose-ceiling.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
