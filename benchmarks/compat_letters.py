"""The compatibility letters fontgen adds, against the font's own: a val font cut to its known syllables
(no letters), its letters composed as `fontgen complete` composes them, scored at 128 px against the real ones
(IoU / SSIM, in the em frame) and shown above them: the 51 modern letters and the archaic ones fontgen builds.

    python benchmarks/compat_letters.py NanumSquareRoundR NanumPen [--known ksx1001]
"""
import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from fontgen.compose import COMPAT_JAMO, compat_jamo_images, downsize, load_composer
from fontgen.evaluate import eval_case
from fontgen.learn import learn
from fontgen.render import GlyphRenderer, similarity

RESULTS = Path(__file__).resolve().parent / "results"
FIGURES = Path(__file__).resolve().parent / "figures"
MODERN = 51  # COMPAT_JAMO: the modern letters, then the archaic ones


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("fonts", nargs="+")
    parser.add_argument("--known", default="ksx1001")
    args = parser.parse_args()
    rows = []
    for font in args.fonts:
        with tempfile.TemporaryDirectory() as work:
            case = eval_case(font, args.known, 64, Path(work))
            style = learn(case.subset_path, Path(work) / "style.fontgen", method="compose", progress=False)
            images = compat_jamo_images(load_composer(style, case.known), COMPAT_JAMO)
        renderer = GlyphRenderer(case.font.path, 128, face=case.font.face, frame=case.frame)
        pictures = []
        for group, letters in (("modern", COMPAT_JAMO[:MODERN]), ("archaic", COMPAT_JAMO[MODERN:])):
            drawn_letters = [letter for letter in letters if ord(letter) in images]
            real = renderer.render_many([ord(letter) for letter in drawn_letters])
            drawn = downsize(np.stack([images[ord(letter)] for letter in drawn_letters]), 128)
            scores = similarity(real, drawn)
            rows.append({"font": font, "known": len(case.known), "letters": group, "drawn": len(drawn_letters),
                         "of": len(letters), "iou": round(scores["iou"], 4), "ssim": round(scores["ssim"], 4)})
            print(f"{font} {group}: {len(drawn_letters)} of {len(letters)} drawn, IoU {scores['iou']:.3f}, "
                  f"SSIM {scores['ssim']:.3f}", flush=True)
            for start in range(0, len(drawn_letters), 26):
                pictures += [np.concatenate(list(real[start:start + 26]), 1),
                             np.concatenate(list(drawn[start:start + 26]), 1)]
        width = max(p.shape[1] for p in pictures)
        sheet = np.concatenate([np.pad(p, ((0, 0), (0, width - p.shape[1]))) for p in pictures], 0)
        FIGURES.mkdir(exist_ok=True)
        Image.fromarray(255 - sheet).save(FIGURES / f"compat_letters_{font}.png")
    (RESULTS / f"compat-letters-{args.known}.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
