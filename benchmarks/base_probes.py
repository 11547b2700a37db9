"""The base model alone on a val font's held-out syllables (as `fontgen eval` picks them): a style token
(the picked one, or any train font's) at several guidance scales and step counts, and the score of the real
glyphs rendered at the model's size and finished like a drawing (the frame's ceiling).

    python benchmarks/base_probes.py NanumSquareRoundR --tokens "<NanumSquareR>" --known 256
"""
import argparse
import tempfile
from pathlib import Path

import torch

from fontgen.evaluate import SCORE_SIZE, base_with_nearest_token, eval_case, scores
from fontgen.generate import glyph_noise
from fontgen.paths import default_cache_dir
from fontgen.model import DEFAULT_CHECKPOINT, sample, to_model_space, to_uint8
from fontgen.reference import fitted_reference_glyphs
from fontgen.render import finish_glyphs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("font")
    parser.add_argument("--known", default="256")
    parser.add_argument("--held-out", type=int, default=64)
    parser.add_argument("--tokens", nargs="*", default=[], help="train-font tokens to draw with besides the pick")
    parser.add_argument("--settings", nargs="*", default=["2:1", "2:1.5", "2:2", "2:3", "4:1"], help="steps:guidance")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        case = eval_case(args.font, args.known, args.held_out, Path(tmp))
        model, picked, fit = base_with_nearest_token(Path(DEFAULT_CHECKPOINT), case.subset_path, case.known,
                                                     default_cache_dir())
    held, size = case.held, model.config.image_size
    real, small = case.real(), case.real(size)
    content = to_model_space(torch.from_numpy(fitted_reference_glyphs(held, fit, size))[:, None])
    print("| font | token | steps | guidance | IoU | SSIM | RMSE |\n|---|---|---|---|---|---|---|")

    def row(token: str, steps: str, guidance: str, images) -> None:
        s = scores(real, images)
        print(f"| {args.font} | {token} | {steps} | {guidance} | {s['iou']:.3f} | {s['ssim']:.3f} | {s['rmse']:.3f} |",
              flush=True)

    row("real glyphs at the model's size", "-", "-", finish_glyphs(small, SCORE_SIZE))
    for token in [picked] + args.tokens:
        ids = model.tokenizer.encode(token, held)
        for setting in args.settings if token == picked else ["2:1"]:
            steps, guidance = setting.split(":")
            with torch.inference_mode():
                drawn = sample(model, content, ids, steps=int(steps), guidance=float(guidance),
                               noise=glyph_noise(held, size, 0))
            row(token, steps, guidance, finish_glyphs(to_uint8(drawn[:, 0]).numpy(), SCORE_SIZE))


if __name__ == "__main__":
    main()
