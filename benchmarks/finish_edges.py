"""How to finish a 64 px drawing at 128 px: the resampler and edge contrast that best restore real glyphs.

Real glyphs of train fonts rendered at the model's 64 px are finished to 128 px by each candidate and scored
against the same glyphs rendered at 128 px (what `fontgen eval` scores against). This is the best any drawing
can score after finishing; `EDGE_CONTRAST` and the Lanczos resize in `render.finish_glyphs` are the winners.
The first row is the finish up to session 7 (steepened at 64 px with contrast 4, bicubic, steepened again).
With `--drawn FONT:LEVEL`, the same finishes (at that ink level) of the base model's drawings of a val font's
held-out syllables, as `fontgen eval --known 256` picks them, with the picked train-font token.

    python benchmarks/finish_edges.py --fonts 8 --glyphs 64
    python benchmarks/finish_edges.py --fonts 0 --drawn NanumBrush:0.8 NanumPen:0.74 UnBatang:0.62 NanumSquareRoundR:0.5
    python benchmarks/finish_edges.py --fonts 0 --drawn NanumBrush:0.8 NanumPen:0.74 --levels 0.4 0.5 0.6 0.7 0.8
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

import glyph_data
from fontgen.evaluate import SCORE_SIZE, base_with_nearest_token, draw, eval_case, scores
from fontgen.fonts import font_info, open_font
from fontgen.paths import default_cache_dir
from fontgen.model import DEFAULT_CHECKPOINT
from fontgen.render import GlyphRenderer, crisp, finish_glyphs, frame_for_font

RESAMPLERS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
              "lanczos": Image.Resampling.LANCZOS}


def resized(glyphs: np.ndarray, size: int, resampler) -> np.ndarray:
    return np.stack([np.asarray(Image.fromarray(g).resize((size, size), resampler)) for g in glyphs])


def piecewise(glyphs: np.ndarray, level: float, contrast: float) -> np.ndarray:
    """The level mapped to mid-gray piecewise linearly, then steepened (shipped briefly in session 8)."""
    x = glyphs.astype(np.float32) / 255.0
    x = np.where(x < level, 0.5 * x / level, 0.5 + 0.5 * (x - level) / (1.0 - level))
    return (np.clip((x - 0.5) * contrast + 0.5, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def rasterized(glyphs: np.ndarray, level: float, factor: int = 4) -> np.ndarray:
    """Thresholded at the level at `factor` x 128 px, then area-averaged to 128 px: a rasterizer's edge, no gray."""
    big = resized(glyphs, SCORE_SIZE * factor, RESAMPLERS["lanczos"]) >= round(level * 255)
    return (big.reshape(len(glyphs), SCORE_SIZE, factor, SCORE_SIZE, factor).mean(axis=(2, 4)) * 255 + 0.5).astype(np.uint8)


def base_drawings(name: str, known: int = 256, held_out: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(real glyphs at 128 px, the base model's 64 px drawings) of a val font's held-out syllables."""
    with tempfile.TemporaryDirectory() as tmp:
        case = eval_case(name, known, held_out, Path(tmp))
        model, token, fit = base_with_nearest_token(Path(DEFAULT_CHECKPOINT), case.subset_path, case.known,
                                                    default_cache_dir())
    return case.real(), draw(model, token, fit, case.held, steps=2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fonts", type=int, default=8, help="train fonts, drawn at random")
    parser.add_argument("--glyphs", type=int, default=64, help="syllables per font, drawn at random")
    parser.add_argument("--contrasts", type=float, nargs="*", default=[1.5, 2.0, 2.5, 3.0, 4.0])
    parser.add_argument("--drawn", nargs="*", default=[], metavar="FONT:LEVEL", help="val fonts drawn by the base model")
    parser.add_argument("--levels", type=float, nargs="*", default=[], help="also the shipped finish at these ink levels")
    args = parser.parse_args()
    if args.drawn:
        print("| val font, base model's drawings | ink level | finish | IoU | SSIM | RMSE |\n|---|---|---|---|---|---|")
    for spec in args.drawn:
        name, level = spec.split(":")
        real, drawn = base_drawings(name)
        for finish, finished in (
                ("session 7", crisp(resized(crisp(drawn, float(level), 4), SCORE_SIZE, RESAMPLERS["bicubic"]), contrast=4)),
                ("lanczos, piecewise, contrast 2", piecewise(resized(drawn, SCORE_SIZE, RESAMPLERS["lanczos"]), float(level), 2)),
                ("lanczos to 512 px, thresholded, area-averaged", rasterized(drawn, float(level))),
                ("shipped", finish_glyphs(drawn, SCORE_SIZE, float(level)))):
            s = scores(real, finished)
            print(f"| {name} | {level} | {finish} | {s['iou']:.3f} | {s['ssim']:.3f} | {s['rmse']:.3f} |", flush=True)
        for other in args.levels:
            s = scores(real, finish_glyphs(drawn, SCORE_SIZE, other))
            print(f"| {name} | {other:g} | shipped | {s['iou']:.3f} | {s['ssim']:.3f} | {s['rmse']:.3f} |", flush=True)
    if not args.fonts:
        return
    rng = np.random.default_rng(0)
    train = [f for f in glyph_data.corpus_split("train") if f.available]
    fonts = [train[i] for i in rng.choice(len(train), min(args.fonts, len(train)), replace=False)]
    finishes = {"session 7: contrast 4 at 64 px, bicubic, contrast 4":
                lambda small: crisp(resized(crisp(small, contrast=4), SCORE_SIZE, RESAMPLERS["bicubic"]), contrast=4)}
    for name, resampler in RESAMPLERS.items():
        for contrast in args.contrasts:
            finishes[f"{name}, contrast {contrast:g}"] = (
                lambda small, r=resampler, c=contrast: crisp(resized(small, SCORE_SIZE, r), contrast=c))
    finishes["shipped (render.finish_glyphs)"] = lambda small: finish_glyphs(small, SCORE_SIZE)
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
