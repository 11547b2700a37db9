"""complete: learn + generate + export on a small font; exactly the requested syllables are added."""

import numpy as np
import pytest
from fontTools.ttLib import TTFont

import glyph_data
from fontgen.complete import complete
from fontgen.export import validate_with_ots
from fontgen.render import GlyphRenderer
from tests.conftest import requires_corpus

pytestmark = requires_corpus
NEW = [0xAC02, 0xB611, 0xD7A3, 0xC0E5, 0xB1FD, 0xC6CC]


@pytest.fixture(scope="module")
def completed(tmp_path_factory, small_font, tiny_model, learn_recipes):
    folder = tmp_path_factory.mktemp("complete")
    chars = folder / "chars.txt"
    chars.write_text("\n".join(f"U+{c:04X}" for c in NEW))
    report = complete(small_font, folder / "SmallPen-ko.ttf", chars=str(chars), method="lora",
                      recipe=learn_recipes["lora"], base=tiny_model, family_name="Small Pen KO", progress=False)
    return report, folder


def test_exactly_the_requested_syllables_are_added(completed, small_font):
    report, _ = completed
    before, after = TTFont(small_font), TTFont(report.output)
    added = set(after.getBestCmap()) - set(before.getBestCmap())
    # The compatibility letters the font lacks come along, composed from its jamo (it has none of them).
    letters = set(glyph_data.COMPAT_LETTERS)
    assert added - letters == set(NEW) and report.added == len(NEW)
    assert report.letters == len(added & letters) >= 60
    assert set(map(ord, "ㅥㅴㅸㆀ")) <= added and not set(map(ord, "ㅿㆁㆍ")) & added  # built archaic letters only
    assert after["name"].getBestFamilyName() == "Small Pen KO"


def test_original_glyphs_are_unchanged(completed, small_font):
    report, _ = completed
    before, after = TTFont(small_font), TTFont(report.output)
    for name in before.getGlyphOrder():
        assert before["glyf"][name].compile(before["glyf"]) == after["glyf"][name].compile(after["glyf"])
        assert before["hmtx"][name] == after["hmtx"][name]


def test_output_is_sanitizer_clean_and_renders(completed):
    report, _ = completed
    validate_with_ots(report.output)
    renderer = GlyphRenderer(report.output, 64)
    inked = [renderer.render(c).max() > 128 for c in NEW]
    assert all(inked)


def test_second_run_reuses_the_style_and_the_glyphs(completed, small_font, tiny_model, learn_recipes):
    report, folder = completed
    stamp = (report.style_dir / "manifest.json").stat().st_mtime_ns
    again = complete(small_font, folder / "again.ttf", chars=str(folder / "chars.txt"), method="lora",
                     recipe=learn_recipes["lora"], base=tiny_model, style_dir=report.style_dir,
                     glyph_dir=report.glyph_dir, progress=False)
    assert again.reused_style and (report.style_dir / "manifest.json").stat().st_mtime_ns == stamp
    assert again.added == len(NEW)


def test_specimen_of_the_completed_font_shows_the_new_glyphs(completed, small_font, tmp_path):
    from PIL import Image

    from fontgen.specimen import find_chromium, write_specimen, write_specimen_png

    report, _ = completed
    html = write_specimen(report.output, tmp_path / "s.html", original_font=small_font)
    text = html.read_text()
    assert "@font-face" in text and all(chr(c) in text for c in NEW)
    try:
        find_chromium()
    except Exception:
        pytest.skip("Chromium is not installed")
    _, png = write_specimen_png(report.output, tmp_path / "s2.html", tmp_path / "s.png", original_font=small_font)
    pixels = np.asarray(Image.open(png).convert("L"))
    assert (pixels < 100).mean() > 0.001


def test_nothing_to_add_is_refused_before_any_learning(small_font, tiny_model, tmp_path):
    from fontgen.errors import FontgenError
    from fontgen.fonts import font_info

    have = font_info(small_font).hangul[:3]
    with pytest.raises(FontgenError, match="nothing to add"):
        complete(small_font, tmp_path / "x.ttf", chars=have, base=tiny_model, progress=False)
    assert not (tmp_path / "x.fontgen").exists()
