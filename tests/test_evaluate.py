"""`fontgen eval` on a real val font: every way of drawing is scored, and the font-file path is faithful."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.numpy import load_file

import glyph_data
from fontgen.evaluate import SCORE_SIZE, evaluate_fonts, scores, through_font_file
from fontgen.render import GlyphRenderer, finish_glyphs, frame_for_font
from fontgen.fonts import open_font, subset_font
from fontgen.learn import token_for_font
from tests.conftest import NANUM_PEN, requires_corpus


@requires_corpus
def test_glyphs_through_the_font_file_stay_the_glyphs(tmp_path):
    known = glyph_data.ksx1001_syllables()[:40]
    held = glyph_data.ksx1001_syllables()[100:112]
    subset = subset_font(NANUM_PEN, 0, known, tmp_path / "NanumPen-known.ttf")
    frame = frame_for_font(open_font(subset, lazy=True))
    real = GlyphRenderer(NANUM_PEN, SCORE_SIZE, frame=frame).render_many(held)
    traced = through_font_file(subset, real, held, frame, tmp_path)
    assert scores(real, traced)["iou"] > 0.9
    assert scores(real, traced)["placement_em"] < 0.02


@requires_corpus
def test_eval_scores_base_ti_lora_font_file_and_both_baselines(tmp_path, tiny_model, learn_recipes):
    table = evaluate_fonts(["NanumPen"], known=48, held_out=6, method="lora", base=tiny_model,
                           output=tmp_path / "eval", recipe=learn_recipes["lora"])
    [result] = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert set(result["scores"]) == {"base", "ti", "lora", "font file", "reference", "nearest"}
    assert result["known"] == 48 and result["held_out"] == 6 and result["token"] == token_for_font(Path("NanumPen-known.ttf"))
    assert set(result["learned"]["stages"]) == {"textual inversion", "LoRA"}
    assert result["learned"]["artifact_bytes"]["pytorch_lora_weights.safetensors"] > 1000
    for label, parts in result["scores"].items():
        assert 0.0 <= parts["all"]["iou"] <= 1.0 and 0.0 <= parts["all"]["rmse"] <= 1.0, label
        assert parts["all"]["n"] == 6
    # The font file holds what lora drew: tracing changes the scores only a little.
    assert abs(result["scores"]["font file"]["all"]["iou"] - result["scores"]["lora"]["all"]["iou"]) < 0.1
    # The nearest font is a train font that draws the held-out syllables.
    assert glyph_data.corpus_font(result["nearest_font"]).split == "train"
    assert "NanumPen" in table and "IoU" in table
    assert (tmp_path / "eval" / "eval.png").stat().st_size > 0
    # The saved drawings, finished at the saved ink levels, give the reported scores again.
    drawings = load_file(str(tmp_path / "eval" / "drawings" / "NanumPen.safetensors"))
    assert list(drawings["codepoints"]) == result["held_codepoints"]
    for label in ("base", "ti", "lora"):
        rescored = scores(drawings["real"], finish_glyphs(drawings[f"drawn/{label}"], SCORE_SIZE,
                                                          result["ink_levels"][label]))
        assert rescored["ssim"] == pytest.approx(result["scores"][label]["all"]["ssim"])
    reference = scores(drawings["real"], drawings["reference"])
    assert reference == pytest.approx({k: result["scores"]["reference"]["all"][k] for k in reference})
    # Each way of drawing is also read, beside the real glyphs, by the shipped recognizer adapted on the known ones.
    assert result["recognizer_adapted_on"] == 48
    assert 0.0 <= result["real_read_as_intended"] <= 1.0
    assert all(0.0 <= parts["all"]["read_as_intended"] <= 1.0 for parts in result["scores"].values())


@requires_corpus
def test_eval_of_composition_scores_it_through_the_font_file(tmp_path, tiny_model):
    """UnBatang cut down to 190 syllables (too few for learn to read every composed syllable, which takes a
    minute): held-out syllables composed from their jamo, read back from the font."""
    evaluate_fonts(["UnBatang"], known=190, held_out=6, method="compose", base=tiny_model, output=tmp_path / "eval")
    [result] = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert {"base", "compose", "font file", "reference", "nearest"} == set(result["scores"])
    assert 0 < result["composed"] <= 6 and result["learned"]["jamo_inventory"]["composable"] > 1000
    compose, font_file = result["scores"]["compose"]["all"], result["scores"]["font file"]["all"]
    assert abs(compose["iou"] - font_file["iou"]) < 0.05
    # A composite font's own jamo rebuild its syllables far better than another font does.
    assert compose["iou"] > result["scores"]["nearest"]["all"]["iou"] + 0.1


def test_eval_refuses_an_unknown_font(tmp_path):
    from fontgen.errors import FontgenError

    with pytest.raises(FontgenError, match="not a corpus font"):
        evaluate_fonts(["NoSuchFont"], output=tmp_path)


def test_held_out_is_half_seen_half_unseen_when_it_can_be():
    from fontgen.evaluate import choose_held_out

    ksx = glyph_data.ksx1001_syllables()
    every = glyph_data.all_syllables()
    known = set(ksx[:256])
    held = choose_held_out([c for c in every if c not in known], 64)
    assert len(held) == 64 and len(set(held)) == 64 and not known & set(held)
    assert sum(c in set(ksx) for c in held) == 32
    only_unseen = choose_held_out([c for c in every if c not in set(ksx)], 64)
    assert len(only_unseen) == 64 and not set(only_unseen) & set(ksx)
