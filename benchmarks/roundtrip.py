"""Round-trip fidelity of the vectorizer on the validation fonts.

For each font of glyph_data.corpus_split("val"): 500 of its Hangul syllables (fixed seed) are
rendered at 128 px, traced into TrueType outlines, rendered again in the same frame, and compared
(IoU of the images binarized at 128). Prints a markdown table: mean, 5th percentile and minimum,
for tracing the bitmap as it is and with upsampling (--upscale-to, default 384) before tracing.

    python benchmarks/roundtrip.py [--count 500] [--size 128] [--seed 0] [--upscale-to 384]
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import glyph_data  # noqa: E402
from fontgen.fonts import font_info  # noqa: E402
from fontgen.vectorize import TraceParams, roundtrip_iou  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--upscale-to", type=int, default=384)
    args = parser.parse_args()
    configs = [("as is", TraceParams()), (f"upscaled to {args.upscale_to}", TraceParams(upscale_to=args.upscale_to))]

    header = "| font | kind | glyphs |" + "".join(f" IoU mean ({label}) | p5 | min |" for label, _ in configs)
    print(header)
    print("|---|---|---:|" + "---:|---:|---:|" * len(configs))
    means = {label: [] for label, _ in configs}
    started = time.perf_counter()
    for font in glyph_data.corpus_split("val"):
        if not font.available:
            print(f"| {font.name} | {font.kind} | not installed |" + " | | |" * len(configs))
            continue
        have = font_info(font.path, font.face).hangul
        chosen = sorted(random.Random(args.seed).sample(have, min(args.count, len(have))))
        row = f"| {font.name} | {font.kind} | {len(chosen)} |"
        for label, params in configs:
            values = np.array(list(roundtrip_iou(font.path, font.face, chosen, args.size, params).values()))
            means[label].append(values.mean())
            row += f" {values.mean():.4f} | {np.percentile(values, 5):.4f} | {values.min():.4f} |"
        print(row, flush=True)
    print("| **mean over fonts** | | |" + "".join(
        f" **{np.mean(m):.4f}** | | |" if m else " | | |" for m in means.values()))
    print(f"\n{args.size} px, seed {args.seed}, {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
