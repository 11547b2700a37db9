"""How to finish a 64 px drawing at 128 px: the resampler and edge contrast that best restore real glyphs.

Real glyphs of train fonts rendered at the model's 64 px are finished to 128 px by each candidate and scored
against the same glyphs rendered at 128 px (what `fontgen eval` scores against). This is the best any drawing
can score after finishing; `EDGE_CONTRAST` and the Lanczos resize in `generate.finish_glyphs` are the winners.
The first row is the finish up to session 7 (steepened at 64 px with contrast 4, bicubic, steepened again).

    python benchmarks/finish_edges.py --fonts 8 --glyphs 64
"""
import argparse

import numpy as np
from PIL import Image

import glyph_data
from fontgen.evaluate import SCORE_SIZE, scores
from fontgen.fonts import font_info, open_font
from fontgen.generate import finish_glyphs
from fontgen.render import GlyphRenderer, crisp, frame_for_font

RESAMPLERS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
              "lanczos": Image.Resampling.LANCZOS}


def resized(glyphs: np.ndarray, size: int, resampler) -> np.ndarray:
    return np.stack([np.asarray(Image.fromarray(g).resize((size, size), resampler)) for g in glyphs])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fonts", type=int, default=8, help="train fonts, drawn at random")
    parser.add_argument("--glyphs", type=int, default=64, help="syllables per font, drawn at random")
    parser.add_argument("--contrasts", type=float, nargs="*", default=[1.5, 2.0, 2.5, 3.0, 4.0])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    train = [f for f in glyph_data.corpus_split("train") if f.available]
    fonts = [train[i] for i in rng.choice(len(train), min(args.fonts, len(train)), replace=False)]
    finishes = {"session 7: contrast 4 at 64 px, bicubic, contrast 4":
                lambda small: crisp(resized(crisp(small, contrast=4), SCORE_SIZE, RESAMPLERS["bicubic"]), contrast=4)}
    for name, resampler in RESAMPLERS.items():
        for contrast in args.contrasts:
            finishes[f"{name}, contrast {contrast:g}"] = (
                lambda small, r=resampler, c=contrast: crisp(resized(small, SCORE_SIZE, r), contrast=c))
    finishes["shipped (generate.finish_glyphs)"] = lambda small: finish_glyphs(small, SCORE_SIZE)
    totals = {name: [] for name in finishes}
    for font in fonts:
        info = font_info(font.path, font.face)
        chars = sorted(int(c) for c in rng.choice(info.hangul, min(args.glyphs, len(info.hangul)), replace=False))
        frame = frame_for_font(open_font(font.path, font.face, lazy=True))
        real = GlyphRenderer(font.path, SCORE_SIZE, face=font.face, frame=frame).render_many(chars)
        small = GlyphRenderer(font.path, 64, face=font.face, frame=frame).render_many(chars)
        for name, finish in finishes.items():
            s = scores(real, finish(small))
            totals[name].append((s["iou"], s["ssim"], s["rmse"]))
    print(f"{len(fonts)} train fonts x {args.glyphs} syllables: {', '.join(f.name for f in fonts)}\n")
    print("| finish of the 64 px render | IoU | SSIM | RMSE |\n|---|---|---|---|")
    for name, values in totals.items():
        iou, ssim, rmse = np.mean(values, axis=0)
        print(f"| {name} | {iou:.3f} | {ssim:.3f} | {rmse:.3f} |")


if __name__ == "__main__":
    main()
