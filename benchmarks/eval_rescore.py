"""Re-score `fontgen eval`'s saved drawings at other ink levels, without drawing again.

`fontgen eval` keeps, per font, the real held-out glyphs and each model's unfinished drawings in
OUTPUT/drawings/FONT.safetensors, with the ink level each was finished at (learn's; 0.5 for the base model).
This prints, per font and drawing, the scores at that level, at the level learn's own rule
(`ink_level.choose_ink_level`; the widest margin for textual inversion) would choose on these test glyphs (an
oracle: how much a better choice on the held-back glyphs could still gain, not a result), and at each of
`--levels`.

    python benchmarks/eval_rescore.py runs/eval --levels 0.4 0.5 0.6 0.7 0.8
"""
import argparse
import json
from pathlib import Path

from safetensors import safe_open
from safetensors.numpy import load_file

from fontgen.evaluate import SCORE_SIZE, scores
from fontgen.ink_level import choose_ink_level
from fontgen.render import finish_glyphs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folders", nargs="+", type=Path, help="fontgen eval output folders")
    parser.add_argument("--levels", type=float, nargs="*", default=[0.4, 0.5, 0.6, 0.7, 0.8])
    args = parser.parse_args()
    print("| font | drawing | ink level | IoU | SSIM | RMSE |\n|---|---|---|---|---|---|")
    for folder in args.folders:
        for path in sorted((folder / "drawings").glob("*.safetensors")):
            with safe_open(str(path), "np") as handle:
                learned_levels = json.loads(handle.metadata()["ink_levels"])
            tensors = load_file(str(path))
            real = tensors["real"]
            for key, drawn in tensors.items():
                if not key.startswith("drawn/"):
                    continue
                label = key.split("/", 1)[1]
                # Files written before eval kept the reference glyphs get learn's rule without the content floor.
                learned = learned_levels[label]
                oracle = choose_ink_level(drawn, real, tensors.get("reference"),
                                          widest_margin=label == "ti" and "reference" in tensors)[0]
                for level in dict.fromkeys([learned, oracle] + args.levels):
                    s = scores(real, finish_glyphs(drawn, SCORE_SIZE, level))
                    mark = " (as scored)" if level == learned else " (oracle)" if level == oracle else ""
                    print(f"| {path.stem} | {label} | {level:g}{mark} | {s['iou']:.3f} | {s['ssim']:.3f} | "
                          f"{s['rmse']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
