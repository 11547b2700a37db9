"""How the ink level's scores move between the syllables a font has and the ones it lacks.

For a val font cut to its known syllables (as `fontgen eval` cuts it), the base model draws, with the train
font's token closest to the known glyphs, up to 256 of the known syllables and the eval's 64 held-out ones;
per ink level it prints IoU, SSIM and RMSE at 128 px, each one's margin over the content glyphs (the fitted
reference), the worst margin and the mean of the three. The level learn would choose on the known glyphs
(`ink_level.choose_ink_level`) can then be read off against how it does on the held-out ones.

    python benchmarks/ink_level_shift.py NanumBrush --known 256
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np

from fontgen.evaluate import SCORE_SIZE, base_with_nearest_token, draw, eval_case, scores
from fontgen.ink_level import INK_LEVELS, ink_level_score, worst_margin
from fontgen.paths import default_cache_dir
from fontgen.model import DEFAULT_CHECKPOINT
from fontgen.reference import fitted_reference_glyphs
from fontgen.render import GlyphRenderer, finish_glyphs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("font", help="a val font of the corpus, e.g. NanumBrush")
    parser.add_argument("--known", default="256", help="known syllables: a count or ksx1001")
    parser.add_argument("--held-out", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        case = eval_case(args.font, args.known, args.held_out, Path(tmp))
        model, token, fit = base_with_nearest_token(DEFAULT_CHECKPOINT, case.subset_path, case.known,
                                                    default_cache_dir())
        rng = np.random.default_rng(0)
        known = sorted(int(c) for c in rng.choice(case.known, min(256, len(case.known)), replace=False))
        print(f"{args.font}, {len(case.known)} known, token {token}")
        print("| glyphs | ink level | IoU | SSIM | RMSE | margins IoU / SSIM / RMSE | worst margin | mean |\n"
              "|---|---|---|---|---|---|---|---|")
        for label, chars, font, face in (("known", known, case.subset_path, 0),
                                         ("held out", case.held, case.font.path, case.font.face)):
            real = GlyphRenderer(font, SCORE_SIZE, face=face, frame=case.frame).render_many(chars)
            drawn = draw(model, token, fit, chars, steps=2)
            content = scores(real, fitted_reference_glyphs(chars, fit, SCORE_SIZE))
            print(f"| {label} ({len(chars)}) | content glyphs | {content['iou']:.3f} | {content['ssim']:.3f} | "
                  f"{content['rmse']:.3f} | | | |")
            for level in INK_LEVELS:
                s = scores(real, finish_glyphs(drawn, SCORE_SIZE, level))
                margins = (s["iou"] - content["iou"], s["ssim"] - content["ssim"], content["rmse"] - s["rmse"])
                print(f"| {label} | {level:.2f} | {s['iou']:.3f} | {s['ssim']:.3f} | {s['rmse']:.3f} | "
                      + " / ".join(f"{m:+.3f}" for m in margins)
                      + f" | {worst_margin(s, content):+.3f} | {ink_level_score(s):.4f} |", flush=True)


if __name__ == "__main__":
    main()
