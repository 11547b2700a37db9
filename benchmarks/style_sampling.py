"""How sampling steps and LoRA scale change a learned style's held-out glyphs (one val font, one learn).

    python benchmarks/style_sampling.py NanumPen --known 256 --learn-steps 100 --steps 2 4 8 --scales 1.0 0.5

Learns once (like `fontgen eval --method lora`), then draws the same held-out syllables with every
combination and scores them at 128 px against the real glyphs; writes a picture beside the log.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from fontgen.evaluate import SCORE_SIZE, draw, eval_case, scores
from fontgen.learn import learn
from fontgen.render import finish_glyphs
from fontgen.style import load_style


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("font", help="a val font of glyph_data/corpus.toml")
    parser.add_argument("--known", default="256")
    parser.add_argument("--held-out", type=int, default=64)
    parser.add_argument("--learn-steps", type=int, default=None)
    parser.add_argument("--steps", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 0.5])
    parser.add_argument("-o", "--output", default="runs/style_sampling.png")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        case = eval_case(args.font, args.known, args.held_out, Path(tmp))
        known, held, real = case.known, case.held, case.real()
        rows = [real]
        style_dir = learn(case.subset_path, Path(tmp) / "style.fontgen", steps=args.learn_steps, progress=False)
        print(f"| {args.font} | known | LoRA scale | steps | SSIM | IoU | placement (em) |")
        print("|---|---|---|---|---|---|---|")
        for scale in args.scales:
            style = load_style(style_dir, lora_scale=scale)
            for steps in args.steps:
                images = finish_glyphs(draw(style.model, style.token, style.fit, held, steps), SCORE_SIZE,
                                       style.ink_level)
                s = scores(real, images)
                print(f"| {args.font} | {len(known)} | {scale} | {steps} | {s['ssim']:.3f} | {s['iou']:.3f} "
                      f"| {s['placement_em']:.3f} |", flush=True)
                rows.append(images)
    picture = np.concatenate([np.concatenate(list(row[:12]), 1) for row in rows], 0)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(255 - picture).save(args.output)


if __name__ == "__main__":
    main()
