"""Vowels a font never draws, built from the ones it does: a val font cut to the eval's known syllables less every
syllable with one of the vowels, learned with `--method compose`; the missing syllables with those vowels, composed
as `generate` composes them, are scored at 128 px against the real ones (IoU, in the em frame) and read by the
recognizer adapted to the font, beside the same syllables composed from a cut that keeps the KS X 1001 syllables
with the vowels (drawn donors), and the real glyphs' own reading.

    python benchmarks/built_vowels.py NanumBarunGothicBold UnBatang NanumPen [--known 256] [--vowels ㅒㅖ]
    python benchmarks/built_vowels.py NanumBarunGothicBold UnBatang NanumPen --vowels ㅢ --tag ui

Writes `benchmarks/results/built-vowels-KNOWN[-TAG].json` and a picture per font (rows: real, built, from drawn
donors) to `benchmarks/figures/built_vowels_FONT[_TAG].png`.
"""
import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

import glyph_data
from fontgen.compose import MEDIAL, downsize, font_reader, load_composer
from fontgen.evaluate import eval_case
from fontgen.fonts import subset_font
from fontgen.learn import learn
from fontgen.readability import RECOGNIZER_SIZE, read_with_likelihood
from fontgen.render import GlyphRenderer, similarity

RESULTS = Path(__file__).resolve().parent / "results"
FIGURES = Path(__file__).resolve().parent / "figures"


def composed(font_path: Path, face: int, known: list[int], targets: list[int], work: Path):
    """The targets as the compose method draws them from a cut of the font to `known`, at 128 px; their plan and
    the composer."""
    cut = subset_font(font_path, face, known, work / "cut.ttf")
    style = learn(cut, work / "style.fontgen", method="compose", progress=False)
    composer = load_composer(style, known)
    plan = {c: composer.sources(c) for c in targets}
    return downsize(np.stack([composer.compose(c) for c in targets]), 128), plan, composer


def reading(reader, images: np.ndarray, targets: list[int]) -> float:
    """The share of `images` the recognizer `reader` reads as the intended syllables."""
    read, _ = read_with_likelihood(reader, downsize(images, RECOGNIZER_SIZE), targets)
    return float(np.mean([a == b for a, b in zip(read, targets)]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("fonts", nargs="+")
    parser.add_argument("--known", default="256")
    parser.add_argument("--vowels", default="ㅒㅖ")
    parser.add_argument("--count", type=int, default=48, help="missing syllables scored per font")
    parser.add_argument("--tag", default="", help="added to the names of the files written")
    args = parser.parse_args()
    vowels = {glyph_data.MEDIALS.index(v) for v in args.vowels}
    rows = []
    for name in args.fonts:
        with tempfile.TemporaryDirectory() as work:
            work = Path(work)
            case = eval_case(name, args.known, 64, work)
            known = [c for c in case.known if glyph_data.decompose(c).medial not in vowels]
            with_vowels = sorted(set(known) | {c for c in glyph_data.ksx1001_syllables()
                                               if glyph_data.decompose(c).medial in vowels})
            have = set(with_vowels)
            candidates = [c for c in glyph_data.all_syllables()
                          if glyph_data.decompose(c).medial in vowels and c not in have]
            targets = candidates[:: max(1, len(candidates) // args.count)][: args.count]
            (work / "built").mkdir()
            (work / "drawn").mkdir()
            built, plan, composer = composed(case.font.path, case.font.face, known, targets, work / "built")
            drawn, _, drawn_composer = composed(case.font.path, case.font.face, with_vowels, targets, work / "drawn")
        renderer = GlyphRenderer(case.font.path, 128, face=case.font.face, frame=composer.font.frame)
        real = renderer.render_many(targets)
        built_vowel = sum(any(s.built for s in plan[c] if s.role == MEDIAL) for c in targets)
        reader = font_reader(composer.font, known)  # adapted to the font's known syllables
        row = {"font": name, "known": len(known), "vowels": args.vowels, "syllables": len(targets),
               "vowel_built": built_vowel,
               "iou_built": round(similarity(real, built)["iou"], 4),
               "iou_drawn_donors": round(similarity(real, drawn)["iou"], 4),
               "read_built": round(reading(reader, built, targets), 4),
               "read_drawn_donors": round(reading(font_reader(drawn_composer.font, with_vowels), drawn, targets), 4),
               "read_real": round(reading(reader, real, targets), 4)}
        rows.append(row)
        print(json.dumps(row, ensure_ascii=False), flush=True)
        FIGURES.mkdir(exist_ok=True)
        sheet = np.concatenate([np.concatenate(list(images[:16]), 1) for images in (real, built, drawn)], 0)
        Image.fromarray(255 - sheet).save(FIGURES / f"built_vowels_{name}{'_' + args.tag if args.tag else ''}.png")
    (RESULTS / f"built-vowels-{args.known}{'-' + args.tag if args.tag else ''}.json").write_text(
        json.dumps(rows, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
