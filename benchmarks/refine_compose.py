"""Does refining composed syllables with a learned model beat both? (issue 18, step 4)

For a val font cut to its known syllables: learn a LoRA style (or reuse one), compose the held-out syllables
from the font's own jamo, and draw them four ways: composed alone, the model alone (from noise, as generate
--method model), and composed then refined: the composition brought to the model's size, noised to a partial
level and denoised by the style (SDEdit, as diffusers' img2img: the last `strength` share of a longer DDIM
schedule; `generate --refine`), finished at the style's ink level. Scored at 128 px against the real glyphs
(IoU / SSIM / RMSE).

    python benchmarks/refine_compose.py NanumSquareRoundR --known 256 --style runs/refine/SquareRound-256.fontgen
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from fontgen.compose import downsize, load_composer
from fontgen.evaluate import SCORE_SIZE, draw, eval_case
from fontgen.generate import glyph_noise
from fontgen.learn import learn
from fontgen.model import sample, to_model_space, to_uint8
from fontgen.reference import fitted_reference_glyphs
from fontgen.render import finish_glyphs, similarity
from fontgen.style import load_style

RESULTS = Path(__file__).resolve().parent / "results"


def refine(style, composed: np.ndarray, codepoints: list[int], strength: float, steps: int = 2) -> np.ndarray:
    """Composed glyphs (uint8, any multiple of the model's size) refined by the style as `generate --refine` does."""
    size = style.model.config.image_size
    draft = to_model_space(torch.from_numpy(downsize(composed, size))[:, None])
    content = to_model_space(torch.from_numpy(fitted_reference_glyphs(codepoints, style.fit, size))[:, None])
    ids = style.model.tokenizer.encode(style.token, codepoints)
    drawn = sample(style.model, content, ids, steps=steps, noise=glyph_noise(codepoints, size, 0), draft=draft,
                   strength=strength)
    return to_uint8(drawn[:, 0]).numpy()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("font")
    parser.add_argument("--known", default="256")
    parser.add_argument("--style", type=Path, required=True, help="style folder (learned with LoRA if missing)")
    parser.add_argument("--method", default="lora")
    parser.add_argument("--learn-steps", type=int, help="steps of each learn stage (default: the recipe's)")
    parser.add_argument("--strengths", type=float, nargs="+", default=[0.2, 0.35, 0.5, 0.7])
    parser.add_argument("--workdir", type=Path, default=Path("runs/refine"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    case = eval_case(args.font, args.known, 64, args.workdir)
    if not (args.style / "manifest.json").exists():
        started = time.time()
        learn(case.subset_path, args.style, method=args.method, steps=args.learn_steps, progress=False, resume=True)
        print(f"learned {args.method} in {time.time() - started:.0f} s", flush=True)
    style = load_style(args.style)
    composer = load_composer(args.style, case.known)
    real = case.real(SCORE_SIZE)
    composed = np.stack([composer.compose(c) for c in case.held])
    rows = {"composed": downsize(composed, SCORE_SIZE)}
    model_alone = draw(style.model, style.token, style.fit, case.held, steps=2)
    rows["model alone"] = finish_glyphs(model_alone, SCORE_SIZE, style.ink_level)
    for strength in args.strengths:
        refined = refine(style, composed, case.held, strength)
        rows[f"refined {strength}"] = finish_glyphs(refined, SCORE_SIZE, style.ink_level)
    result = {"font": args.font, "known": len(case.known), "method": args.method, "ink_level": style.ink_level,
              "scores": {label: similarity(real, images) for label, images in rows.items()}}
    for label, s in result["scores"].items():
        print(f"{args.font} {label:>14}: IoU {s['iou']:.3f}  SSIM {s['ssim']:.3f}  RMSE {s['rmse']:.3f}", flush=True)
    out = RESULTS / f"refine-{args.font}-{args.known}.json"
    out.write_text(json.dumps(result, indent=1))
    picture = np.concatenate([np.concatenate(list(real[:12]), 1)]
                             + [np.concatenate(list(images[:12]), 1) for images in rows.values()], 0)
    from PIL import Image
    Image.fromarray(255 - picture).save(args.workdir / f"refine-{args.font}-{args.known}.png")


if __name__ == "__main__":
    main()
