"""Readability of the glyphs an eval run kept: the share the jamo recognizer reads as the intended syllable,
for the real held-out glyphs, the composed ones and the base model's (for runs made before the recognizer
was shipped; later runs report it themselves).

    python benchmarks/readability_rescore.py runs/eval-compose-ksx [runs/eval-compose-256 ...]
"""
import argparse
import json
from pathlib import Path

import numpy as np
from safetensors import safe_open

from fontgen.readability import load_recognizer, read_as_intended
from fontgen.render import FINISH_SIZE, finish_glyphs

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+", type=Path)
    args = parser.parse_args()
    model = load_recognizer()
    if model is None:
        raise SystemExit("no recognizer in checkpoints/recognizer (scripts/train_recognizer.py makes it)")
    for run in args.runs:
        rows = []
        for path in sorted((run / "drawings").glob("*.safetensors")):
            with safe_open(str(path), framework="numpy") as handle:
                glyphs = {k: handle.get_tensor(k) for k in handle.keys()}
                levels = json.loads(handle.metadata()["ink_levels"])
            codepoints = [int(c) for c in glyphs["codepoints"]]
            row = {"font": path.stem, "real": read_as_intended(model, glyphs["real"], codepoints)}
            if "composed" in glyphs:
                row["compose"] = read_as_intended(model, glyphs["composed"], codepoints)
            for key in glyphs:
                if key.startswith("drawn/"):
                    label = key.split("/", 1)[1]
                    finished = finish_glyphs(glyphs[key], FINISH_SIZE, levels.get(label, 0.5))
                    row[label] = read_as_intended(model, finished, codepoints)
            misread = [chr(c) for c, ok in zip(codepoints, row.get("compose", row["real"])) if not ok]
            rows.append({"font": row["font"], **{k: round(float(np.mean(v)), 4) for k, v in row.items()
                                                 if k != "font"}, "misread_composed": "".join(misread)})
        print(f"\n{run}\n")
        labels = [k for k in rows[0] if k not in ("font", "misread_composed")]
        print("| font | " + " | ".join(labels) + " | composed and misread |")
        print("|---|" + "---|" * (len(labels) + 1))
        for r in rows:
            print(f"| {r['font']} | " + " | ".join(f"{r[k]:.3f}" for k in labels) + f" | {r['misread_composed']} |")
        (RESULTS / f"readability-{run.name}.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
