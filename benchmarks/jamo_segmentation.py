"""Jamo segmentation of drawn syllables, scored on fonts that store syllables as composites.

The val fonts NanumPen and NanumBrush (never trained on, never a reference) store their non-KS X 1001
syllables as composites of jamo glyphs: each component rendered alone gives the exact labels. The
syllables are labelled as a drawn font's would be (registration against the reference fonts, the
REFERENCES_KEPT that fit the font's own KS X 1001 syllables best) and scored per jamo (IoU of the pixels
given each jamo, averaged over the syllable's jamo).

    python benchmarks/jamo_segmentation.py [--fonts NanumPen NanumBrush] [--syllables 200]
"""
import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

import glyph_data
from fontgen.compose import REFERENCE_SAMPLES, REFERENCES_KEPT, SEGMENT_SIZE
from fontgen.fonts import open_font
from fontgen.jamo import (ROLES, ComponentRenderer, JamoSegmenter, composite_jamo, composite_labels, jamo_iou,
                          roles_of)
from fontgen.render import GlyphRenderer

RESULTS = Path(__file__).resolve().parent / "results"


def score_font(name: str, count: int, seed: int = 0) -> dict:
    font = glyph_data.corpus_font(name)
    parts = composite_jamo(open_font(font.path, font.face), glyph_data.all_syllables())
    chosen = sorted(int(c) for c in np.random.default_rng(seed).choice(sorted(parts), count, replace=False))
    exact = ComponentRenderer(font.path, SEGMENT_SIZE, face=font.face)
    drawn = GlyphRenderer(font.path, SEGMENT_SIZE, face=font.face, frame=exact.frame)
    segmenter = JamoSegmenter(SEGMENT_SIZE)
    ksx = glyph_data.ksx1001_syllables()
    samples = ksx[:: len(ksx) // REFERENCE_SAMPLES][:REFERENCE_SAMPLES]
    references = segmenter.keep_closest_references([(c, drawn.render(c)) for c in samples], REFERENCES_KEPT)
    started = time.time()
    per_syllable, per_role = [], {role: [] for role in ROLES}
    for codepoint in chosen:
        image, truth = composite_labels(exact, codepoint, parts[codepoint])
        labels = segmenter.segment(codepoint, image)
        per_syllable.append(jamo_iou(labels, truth, roles_of(codepoint)))
        for role in roles_of(codepoint):
            per_role[ROLES[role - 1]].append(jamo_iou(labels, truth, (role,)))
    seconds = time.time() - started
    return {"font": name, "syllables": count, "references": references,
            "mean_jamo_iou": round(float(np.mean(per_syllable)), 4),
            "share_at_least_0.9": round(float(np.mean(np.array(per_syllable) >= 0.9)), 3),
            "per_role": {role: round(float(np.mean(v)), 4) for role, v in per_role.items()},
            "seconds_per_syllable": round(seconds / count, 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fonts", nargs="*", default=["NanumPen", "NanumBrush"])
    parser.add_argument("--syllables", type=int, default=200)
    parser.add_argument("-o", "--output", default=str(RESULTS / "jamo-segmentation.json"))
    args = parser.parse_args()
    results = [score_font(name, args.syllables) for name in args.fonts]
    print(f"machine: {platform.processor() or platform.machine()}; {SEGMENT_SIZE} px")
    print("| font | syllables | mean per-jamo IoU | share >= 0.9 | initial | medial | final | s/syllable |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['font']} | {r['syllables']} | {r['mean_jamo_iou']:.3f} | {r['share_at_least_0.9']:.2f} | "
              + " | ".join(f"{r['per_role'][role]:.3f}" for role in ROLES) + f" | {r['seconds_per_syllable']} |")
    Path(args.output).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
