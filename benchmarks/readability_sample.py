"""Readability of composition on many syllables: eval's recognizer (the other adaptation, seed 1) reads a sample
of the syllables learn planned, composed as learn left them and as the font draws them, so that the two rates are
compared on 1,500 syllables where eval's table has 64 (one glyph there is 1.6 points).

    python benchmarks/readability_sample.py --font NanumBrush --known 256 \
        -o benchmarks/results/readability-sample-NanumBrush-256.json

Learns the font cut down to its known syllables as eval cuts it (`learn --method compose`; `--work DIR` keeps the
style folder, and a later run with the same folder reuses its inventory), samples the planned syllables the font
itself draws (ink where rendered), and reports the share of each read as intended, of both, of one only, the IoU
of the composed against the real (128 px, composed images, not through the font file), and the syllables only
the composed misreads (what to look at next). `--against OTHER.fontgen` also reads the same sample composed by
another style folder of the same cut (learned by an earlier fontgen, say) with the same judge: two processes'
judges differ a little (the adaptation's sums depend on the threads), so a change is measured in one process.
"""
from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import numpy as np

import glyph_data
from fontgen.compose import downsize, load_composer
from fontgen.evaluate import eval_case
from fontgen.files import write_json_atomic
from fontgen.jamo import VariantTable
from fontgen.learn import learn
from fontgen.readability import RECOGNIZER_SIZE, read_syllables, recognizer_for_font
from fontgen.render import GlyphRenderer, similarity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--font", default="NanumBrush")
    parser.add_argument("--known", default="256", help="how many known syllables, or ksx1001")
    parser.add_argument("--sample", type=int, default=1500)
    parser.add_argument("--work", type=Path, default=None, help="keep the cut font and style folder here")
    parser.add_argument("--against", type=Path, default=None,
                        help="another style folder of the same font and cut, read with the same judge")
    parser.add_argument("-o", "--output", type=Path, default=None)
    args = parser.parse_args()
    known_spec = int(args.known) if args.known.isdigit() else args.known
    with tempfile.TemporaryDirectory() as temporary:
        work = args.work or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        started = time.time()
        case = eval_case(args.font, known_spec, 64, work)
        style = learn(case.subset_path, work / "style.fontgen", method="compose", progress=False)
        composer = load_composer(style, case.known, VariantTable.shipped())
        font = glyph_data.corpus_font(args.font)
        renderer = GlyphRenderer(font.path, 128, face=font.face, frame=composer.font.frame)
        planned = sorted(composer.planned)
        sample = sorted(random.Random(0).sample(planned, min(args.sample, len(planned))))
        # Many fonts map every syllable and draw only some: the blank ones give way to others, in a fixed order.
        rest = random.Random(1).sample(sorted(set(planned) - set(sample)), len(planned) - len(sample))
        real = renderer.render_many(sample)
        inked = [c for c, image in zip(sample, real) if image.max() > 0]
        while len(inked) < args.sample and rest:
            more, rest = rest[:args.sample], rest[args.sample:]
            inked += [c for c, image in zip(more, renderer.render_many(more)) if image.max() > 0]
        sample = sorted(inked[:args.sample])
        real = renderer.render_many(sample)
        composed = downsize(np.stack([composer.compose(c) for c in sample]), 128)
        judge = recognizer_for_font(composer.font.small.render_many(case.known), case.known, seed=1)
        intended = np.array(sample)
        read_real = np.array(read_syllables(judge, downsize(real, RECOGNIZER_SIZE)))
        read_composed = np.array(read_syllables(judge, downsize(composed, RECOGNIZER_SIZE)))
        if args.against:
            other = load_composer(args.against, case.known, VariantTable.shipped())
            drawn = downsize(np.stack([other.compose(c) for c in sample]), 128)
            read_other = np.array(read_syllables(judge, downsize(drawn, RECOGNIZER_SIZE)))
    real_ok, composed_ok = read_real == intended, read_composed == intended
    only_composed = [i for i in range(len(sample)) if real_ok[i] and not composed_ok[i]]
    result = {"font": args.font, "known": len(case.known), "planned": len(composer.planned), "sample": len(sample),
              "read_as_intended": {"real": round(float(real_ok.mean()), 4),
                                   "composed": round(float(composed_ok.mean()), 4),
                                   "both": round(float((real_ok & composed_ok).mean()), 4),
                                   "real_only": round(float((real_ok & ~composed_ok).mean()), 4),
                                   "composed_only": round(float((~real_ok & composed_ok).mean()), 4)},
              "iou": round(similarity(real, composed)["iou"], 4),
              "misread_composed_only": " ".join(f"{chr(sample[i])}>{chr(read_composed[i])}" for i in only_composed),
              "seconds": round(time.time() - started, 1), "date": time.strftime("%Y-%m-%d")}
    if args.against:
        other_ok = read_other == intended
        result["against"] = {"style": str(args.against), "composed": round(float(other_ok.mean()), 4),
                             "iou": round(similarity(real, drawn)["iou"], 4),
                             "misread_here_only": "".join(chr(c) for c in intended[other_ok & ~composed_ok]),
                             "misread_there_only": "".join(chr(c) for c in intended[~other_ok & composed_ok])}
    print(json.dumps(result, indent=1, ensure_ascii=False))
    if args.output:
        write_json_atomic(args.output, result)


if __name__ == "__main__":
    main()
