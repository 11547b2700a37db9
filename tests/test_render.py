"""Rendering in the font's em frame, font formats, and coverage as `fontgen info` reports it."""
from pathlib import Path

import numpy as np
import pytest
from fontTools.ttLib import TTFont

import glyph_data
from fontgen.errors import FontgenError
from fontgen.fonts import font_info
from fontgen.reference import ink_boxes
from fontgen.render import GlyphRenderer, frame_for_font
from tests.conftest import NANUM_GOTHIC, build_hangul_font, requires_corpus

pytestmark = requires_corpus
NOTO_TTC = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


def test_placement_is_kept_across_sizes():
    small, large = GlyphRenderer(NANUM_GOTHIC, 64), GlyphRenderer(NANUM_GOTHIC, 128)
    for char in "가힣ㄱ.":
        a, b = ink_boxes(small.render(ord(char))[None]), ink_boxes(large.render(ord(char))[None])
        assert np.allclose(a, b, atol=2 / 64)
    # A full stop sits low and left in the em, not centred.
    box = ink_boxes(large.render(ord("."))[None])[0]
    assert box[3] > 0.7 and box[0] < 0.4


def test_frame_matches_font_units():
    renderer = GlyphRenderer(NANUM_GOTHIC, 128)
    font = TTFont(NANUM_GOTHIC)
    glyph = font["glyf"][font.getBestCmap()[ord("가")]]
    x0, y0 = renderer.frame.to_pixels(glyph.xMin, glyph.yMax, 128)
    x1, y1 = renderer.frame.to_pixels(glyph.xMax, glyph.yMin, 128)
    box = ink_boxes(renderer.render(ord("가"))[None])[0] * 128
    assert np.allclose(box, [x0, y0, x1, y1], atol=1.5)


def test_missing_character_is_blank_and_ttc_face(tmp_path):
    renderer = GlyphRenderer(NOTO_TTC, 64, face=1)
    assert renderer.render(ord("한")).max() == 255
    assert renderer.render(0x10FFFD).max() == 0


def test_woff2_renders_like_the_ttf(tmp_path):
    font = build_hangul_font(tmp_path / "small.ttf", [ord("한"), ord("글")], source=NANUM_GOTHIC)
    ttfont = TTFont(font)
    ttfont.flavor = "woff2"
    ttfont.save(tmp_path / "small.woff2")
    a = GlyphRenderer(font, 64).render(ord("한"))
    b = GlyphRenderer(tmp_path / "small.woff2", 64).render(ord("한"))
    assert a.max() == 255 and np.array_equal(a, b)


def test_info_counts_coverage(tmp_path):
    full = font_info(NANUM_GOTHIC)
    assert full.hangul_count == 11172 and not full.missing and full.ksx1001_count == 2350
    three_hundred = glyph_data.all_syllables()[:300]
    small = font_info(build_hangul_font(tmp_path / "s300.ttf", three_hundred, source=NANUM_GOTHIC))
    assert small.hangul_count == 300 and len(small.missing) == 10872


def test_bad_font_files_give_clear_errors(tmp_path):
    with pytest.raises(FontgenError, match="no such file"):
        font_info(tmp_path / "nope.ttf")
    (tmp_path / "text.ttf").write_text("hello")
    with pytest.raises(FontgenError, match="not a font file"):
        font_info(tmp_path / "text.ttf")
    damaged = tmp_path / "damaged.ttf"
    damaged.write_bytes(NANUM_GOTHIC.read_bytes()[:3000])
    with pytest.raises(FontgenError, match="damaged"):
        font_info(damaged)


def test_frame_uses_typographic_metrics():
    frame = frame_for_font(TTFont(NANUM_GOTHIC))
    assert frame.bottom == -200 and frame.size == 1000 and frame.advance == 940


def test_syllables_mapped_to_empty_glyphs_count_as_missing():
    info = font_info(Path("/usr/share/fonts/truetype/nanum/NanumSquareRoundR.ttf"))
    assert info.hangul_count == 2479 and len(info.blank_hangul) == 11172 - 2479
    assert len(info.missing) == 11172 - 2479 and ord("갂") in info.missing


def test_unmapped_codepoints_are_not_drawn(tmp_path):
    from fontgen.fonts import drawn_codepoints

    font = build_hangul_font(tmp_path / "two.ttf", [ord("한"), ord("글")], source=NANUM_GOTHIC)
    assert drawn_codepoints(font, [ord("한"), ord("글"), ord("말")]) == [ord("한"), ord("글")]
