"""How learn's re-plan of misread composed syllables changes them, on a sample of a val font's planned syllables.

    python benchmarks/replan_check.py --font NanumBrush --known 256 \
        -o benchmarks/results/replan-check-NanumBrush-256.json

Learns the font cut down to its known syllables (`learn --method compose`, as eval cuts it), then takes the plan
before any re-plan, runs the product's re-plan on it (`compose.replan_misread`, learn's recognizer; once per
`--sure` and `--pairs` setting) and scores a random sample of the planned syllables each way: IoU against the
font's real glyphs (composed images, 128 px) and the share read as intended by a second adaptation of the
recognizer (eval's seed), so that the plans are not graded by the recognizer that chose them. Composed images,
not through the font file: a quick check of a re-plan rule on 1,500 syllables where eval scores 64.
"""
from __future__ import annotations

import argparse
import itertools
import json
import random
import tempfile
import time
from pathlib import Path

import numpy as np

import glyph_data
from fontgen.compose import READ_SURE, REPLAN_PAIRS, downsize, font_reader, load_composer, replan_misread
from fontgen.evaluate import eval_case
from fontgen.files import write_json_atomic
from fontgen.jamo import VariantTable
from fontgen.learn import learn
from fontgen.readability import RECOGNIZER_SIZE, read_as_intended, recognizer_for_font
from fontgen.render import GlyphRenderer, similarity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--font", default="NanumBrush")
    parser.add_argument("--known", default="256")
    parser.add_argument("--sample", type=int, default=1500)
    parser.add_argument("--sure", type=float, nargs="+", default=[READ_SURE],
                        help="re-plan syllables read right with less than this probability too (one run each)")
    parser.add_argument("--pairs", type=int, nargs="+", default=[int(REPLAN_PAIRS)], choices=(0, 1),
                        help="1: try two jamo's next donors at once too (one run each)")
    parser.add_argument("-o", "--output", default=None)
    args = parser.parse_args()
    known_spec = int(args.known) if args.known.isdigit() else args.known
    with tempfile.TemporaryDirectory() as work:
        case = eval_case(args.font, known_spec, 64, Path(work))
        style = learn(case.subset_path, Path(work) / "style.fontgen", method="compose", progress=False)
        composer = load_composer(style, case.known, VariantTable.shipped())
        plan = composer.inventory.coverage(sorted(composer.planned))  # as planned, before any re-plan
        sample = sorted(random.Random(0).sample(sorted(plan), min(args.sample, len(plan))))
        font = glyph_data.corpus_font(args.font)
        real = GlyphRenderer(font.path, 128, face=font.face, frame=composer.font.frame).render_many(sample)
        judge = recognizer_for_font(composer.font.small.render_many(case.known), case.known, seed=1)

        def scores(plan: dict) -> dict:
            drawn = np.stack([composer.compose(c, plan[c]) for c in sample])
            return {"iou": round(similarity(real, downsize(drawn, 128))["iou"], 4),
                    "read_as_intended": round(float(read_as_intended(
                        judge, downsize(drawn, RECOGNIZER_SIZE), sample).mean()), 4)}

        before = scores(plan)
        reader = font_reader(composer.font, case.known)
        runs = []
        for sure, pairs in itertools.product(args.sure, args.pairs):
            replanned = dict(plan)
            started = time.time()
            done = replan_misread(composer, replanned, reader, Path(work) / "labels", "-", sure=sure,
                                  pairs=bool(pairs))
            runs.append({"sure": sure, "pairs": bool(pairs), **scores(replanned),
                         "replan_seconds": round(time.time() - started, 1),
                         "learn_replan": {k: (len(v) if isinstance(v, str) else v) for k, v in done.items()}})
        result = {"font": args.font, "known": len(case.known), "sample": len(sample), "no_replan": before,
                  "replan": runs, "date": time.strftime("%Y-%m-%d")}
    print(json.dumps(result, indent=1))
    if args.output:
        write_json_atomic(Path(args.output), result)


if __name__ == "__main__":
    main()
