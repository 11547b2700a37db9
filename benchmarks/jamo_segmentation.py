"""Jamo segmentation of drawn syllables, scored on fonts that store syllables as composites.

The val fonts NanumPen and NanumBrush (never trained on, never a reference) store their non-KS X 1001
syllables as composites of jamo glyphs: each component rendered alone gives the exact labels. The
syllables are labelled as a drawn font's would be (registration against the reference fonts, the
REFERENCES_KEPT that fit the font's own KS X 1001 syllables best), then the strokes two jamo share are recut
by the font's own drawings of each jamo (`split_shared_strokes`, drawings from the same syllables, as learn
takes them from the syllables it labels), and scored per jamo (IoU of the pixels given each jamo, averaged
over the syllable's jamo), before and after the recut. NanumBarunGothicBold, whose jamo touch, stores its
non-KS syllables as composites too.

    python benchmarks/jamo_segmentation.py [--fonts NanumPen NanumBrush NanumBarunGothicBold] [--syllables 400]
"""
import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

import glyph_data
from fontgen.compose import REFERENCE_SAMPLES, REFERENCES_KEPT, SEGMENT_SIZE, donor_penalties
from fontgen.fonts import open_font
from fontgen.jamo import (ROLES, ComponentRenderer, JamoSegmenter, composite_jamo, composite_labels, jamo_iou,
                          roles_of, split_shared_strokes)
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
    truths, registered = {}, {}
    for codepoint in chosen:
        image, truths[codepoint] = composite_labels(exact, codepoint, parts[codepoint])
        registered[codepoint] = segmenter.segment(codepoint, image)
    seconds = time.time() - started
    started = time.time()
    recut = {**registered, **split_shared_strokes(registered, chosen, closeness=donor_penalties)}
    recut_seconds = time.time() - started
    scores = {}
    for kind, labelled in (("registered", registered), ("recut", recut)):
        per_syllable = [jamo_iou(labelled[c], truths[c], roles_of(c)) for c in chosen]
        per_role = {role: [jamo_iou(labelled[c], truths[c], (ROLES.index(role) + 1,)) for c in chosen
                           if ROLES.index(role) + 1 in roles_of(c)] for role in ROLES}
        scores[kind] = {"mean_jamo_iou": round(float(np.mean(per_syllable)), 4),
                         "share_at_least_0.9": round(float(np.mean(np.array(per_syllable) >= 0.9)), 3),
                         "per_role": {role: round(float(np.mean(v)), 4) for role, v in per_role.items()}}
    return {"font": name, "syllables": count, "references": references, **scores["recut"],
            "registered": scores["registered"], "recut_syllables": sum(1 for c in chosen if c in recut
                                                                       and (recut[c] != registered[c]).any()),
            "seconds_per_syllable": round(seconds / count, 3),
            "recut_seconds_per_syllable": round(recut_seconds / count, 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fonts", nargs="*", default=["NanumPen", "NanumBrush", "NanumBarunGothicBold"])
    parser.add_argument("--syllables", type=int, default=400)
    parser.add_argument("-o", "--output", default=str(RESULTS / "jamo-segmentation.json"))
    args = parser.parse_args()
    results = [score_font(name, args.syllables) for name in args.fonts]
    print(f"machine: {platform.processor() or platform.machine()}; {SEGMENT_SIZE} px; registered -> recut")
    print("| font | syllables | mean per-jamo IoU | share >= 0.9 | initial | medial | final | recut | s/syllable |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        before = r["registered"]
        print(f"| {r['font']} | {r['syllables']} | {before['mean_jamo_iou']:.3f} -> {r['mean_jamo_iou']:.3f} | "
              f"{before['share_at_least_0.9']:.2f} -> {r['share_at_least_0.9']:.2f} | "
              + " | ".join(f"{before['per_role'][role]:.3f} -> {r['per_role'][role]:.3f}" for role in ROLES)
              + f" | {r['recut_syllables']} | {r['seconds_per_syllable']} + {r['recut_seconds_per_syllable']} |")
    Path(args.output).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
