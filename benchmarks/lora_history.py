"""LoRA's held-back history on one val font with a longer run than `fontgen eval` caps it at: how the
sampler-steps loss first falls and then climbs on hand-drawn styles. Textual inversion is cut to one step.

    PYTHONPATH=. python benchmarks/lora_history.py NanumBrush --steps 300 --learning-rate 0.002
"""
import argparse
import json
from pathlib import Path

import glyph_data
from fontgen.evaluate import choose_known
from fontgen.fonts import subset_font
from fontgen.fonts import font_info
from fontgen.learn import learn
from fontgen.paths import RECIPES
from fontgen.recipe import write_recipe


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("font", help="a corpus val font, e.g. NanumBrush")
    parser.add_argument("--known", type=int, default=256)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--learning-rate", type=float, default=0.002)
    parser.add_argument("-o", "--output", default="runs/lora_history")
    args = parser.parse_args()
    out = Path(args.output) / f"{args.font}-{args.learning_rate}"
    out.mkdir(parents=True, exist_ok=True)
    font = glyph_data.corpus_font(args.font)
    known = choose_known(font_info(font.path, font.face).hangul, args.known)
    subset = subset_font(font.path, font.face, known, out / f"{args.font}-known.ttf")
    recipe = write_recipe(RECIPES / "lora.toml", out / "recipe.toml", early_stop={"patience": 12},
                          ti={"steps": 1}, lora={"steps": args.steps, "learning_rate": args.learning_rate})
    style = learn(subset, out / "style.fontgen", method="lora", recipe=recipe, progress=False)
    manifest = json.loads((style / "manifest.json").read_text())
    for stage in manifest["stages"]:
        history = [(h["step"], round(h["iou"], 3), round(h["ssim"], 3)) for h in stage["history"]]
        print(f"{stage['name']}: best step {stage['best_step']}; (step, IoU, SSIM): {history}")
    print(f"seconds: {manifest['seconds']}")


if __name__ == "__main__":
    main()
