"""Readability of the glyphs an eval run kept: the share the jamo recognizer reads as the intended syllable,
for the real held-out glyphs, the composed ones and the base model's, the recognizer adapted to each font on
its known syllables as `fontgen eval` does now (`--shipped`: the shipped recognizer as it is, as eval did
before). For runs made before eval measured it this way.

    python benchmarks/readability_rescore.py runs/eval-compose-ksx [runs/eval-compose-256 ...] [--shipped]
"""
import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from safetensors import safe_open

from fontgen.evaluate import eval_case, font_recognizer
from fontgen.readability import JamoRecognizer, load_recognizer, read_as_intended
from fontgen.render import FINISH_SIZE, finish_glyphs

RESULTS = Path(__file__).resolve().parent / "results"


def adapted(font: str, known_count: int) -> JamoRecognizer:
    """The recognizer adapted to a val font on the known syllables its eval run had (the run's count of
    them: its KS X 1001 syllables, or as many chosen as eval chooses them)."""
    with tempfile.TemporaryDirectory() as work:
        case = eval_case(font, "ksx1001", 1, Path(work))
        if len(case.known) != known_count:
            case = eval_case(font, known_count, 1, Path(work))
        if len(case.known) != known_count:
            raise SystemExit(f"{font}: cannot find the {known_count} known syllables of the run")
        return font_recognizer(case.subset_path, case.known, case.frame)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--shipped", action="store_true", help="the shipped recognizer, not adapted to each font")
    args = parser.parse_args()
    shipped = load_recognizer()
    if shipped is None:
        raise SystemExit("no recognizer in checkpoints/recognizer (scripts/train_recognizer.py makes it)")
    for run in args.runs:
        rows = []
        known_counts = {r["font"]: r["known"] for r in json.loads((run / "eval.json").read_text())}
        for path in sorted((run / "drawings").glob("*.safetensors")):
            with safe_open(str(path), framework="numpy") as handle:
                glyphs = {k: handle.get_tensor(k) for k in handle.keys()}
                levels = json.loads(handle.metadata()["ink_levels"])
            model = shipped if args.shipped else adapted(path.stem, known_counts[path.stem])
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
            shares = {k: round(float(np.mean(v)), 4) for k, v in row.items() if k != "font"}
            rows.append({"font": row["font"], "known": known_counts[row["font"]], **shares,
                         "misread_composed": "".join(misread)})
        print(f"\n{run}\n")
        labels = [k for k in rows[0] if k not in ("font", "known", "misread_composed")]
        print("| font | " + " | ".join(labels) + " | composed and misread |")
        print("|---|" + "---|" * (len(labels) + 1))
        for r in rows:
            print(f"| {r['font']} | " + " | ".join(f"{r[k]:.3f}" for k in labels) + f" | {r['misread_composed']} |")
        name = f"readability-{run.name}{'-shipped' if args.shipped else ''}.json"
        (RESULTS / name).write_text(json.dumps(rows, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
