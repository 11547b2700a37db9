"""How well the jamo recognizer reads each val font's real glyphs, as shipped and adapted to the font on its
known syllables (as learn and `fontgen eval` adapt it), for 256 and 2,350 known: the held-out syllables are
those eval would never show it (for the Nanum hand-drawn fonts, the foundry's composites).

    python benchmarks/recognizer_check.py [--recognizer checkpoints/recognizer] [--held 300]
        [--known 256 ksx1001] [--fonts NanumPen ...] [-o benchmarks/results/recognizer-check.json]
"""
import argparse
import json
import tempfile
import time
from pathlib import Path

import glyph_data
from fontgen.evaluate import eval_case, font_recognizer
from fontgen.files import write_json_atomic
from fontgen.readability import RECOGNIZER_DIR, RECOGNIZER_SIZE, load_recognizer, read_as_intended


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recognizer", type=Path, default=RECOGNIZER_DIR)
    parser.add_argument("--held", type=int, default=300)
    parser.add_argument("--known", nargs="+", default=["256", "ksx1001"])
    parser.add_argument("--fonts", nargs="+", default=[f.name for f in glyph_data.corpus_split("val")])
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args()
    shipped = load_recognizer(args.recognizer)
    if shipped is None:
        raise SystemExit(f"no recognizer in {args.recognizer}")
    rows = []
    for known_spec in args.known:
        for name in args.fonts:
            with tempfile.TemporaryDirectory() as work:
                case = eval_case(name, int(known_spec) if known_spec.isdigit() else known_spec, args.held, Path(work))
                held_images = case.real(RECOGNIZER_SIZE)
                started = time.time()
                adapted = font_recognizer(case.subset_path, case.known, case.frame, args.recognizer)  # as eval's
                seconds = time.time() - started
            row = {"font": name, "known": len(case.known), "held": len(case.held),
                   "shipped": round(float(read_as_intended(shipped, held_images, case.held).mean()), 4),
                   "adapted": round(float(read_as_intended(adapted, held_images, case.held).mean()), 4),
                   "adapt_seconds": round(seconds, 1)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    for count in sorted({r["known"] for r in rows}):
        chosen = [r for r in rows if r["known"] == count]
        print(f"known {count}: mean shipped {sum(r['shipped'] for r in chosen) / len(chosen):.3f}, "
              f"adapted {sum(r['adapted'] for r in chosen) / len(chosen):.3f}")
    if args.output:
        write_json_atomic(args.output, {"recognizer": str(args.recognizer), "rows": rows})


if __name__ == "__main__":
    main()
