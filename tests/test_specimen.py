"""Specimen pages: HTML content and marking, and what headless Chromium actually draws."""
from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from PIL import Image
from scipy import ndimage

from fontgen.errors import FontgenError
from fontgen.specimen import screenshot_html, write_specimen

ORIGINAL = [0xAC00, 0xB098, 0xB2E4, 0xB77C, 0xB9C8, 0xBC14]  # 가나다라마바
GENERATED = [0xAC01, 0xB09C, 0xB2EC, 0xB780, 0xB9CC, 0xBC18, 0xC0AC, 0xD558]  # 각난달람만반사하

GEN_BG = (255, 233, 194)  # .cell.gen background in the specimen CSS
ORIG_BG = (243, 244, 246)  # .cell background

needs_chromium = pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="/usr/bin/chromium not installed")


def _rect(pen, x0, y0, x1, y1, clockwise=True):
    points = [(x0, y0), (x0, y1), (x1, y1), (x1, y0)]
    if not clockwise:
        points.reverse()
    pen.moveTo(points[0])
    for point in points[1:]:
        pen.lineTo(point)
    pen.closePath()


def _ring():
    pen = TTGlyphPen(None)
    _rect(pen, 100, -20, 900, 780)
    _rect(pen, 300, 180, 700, 580, clockwise=False)  # the hole
    return pen.glyph()


def _solid():
    pen = TTGlyphPen(None)
    _rect(pen, 50, -70, 950, 830)
    return pen.glyph()


def build_font(path: Path, family: str, rings: list[int], solids: list[int]) -> Path:
    """A small TTF: syllables in `rings` drawn as squares with a hole, those in `solids` as solid squares."""
    builder = FontBuilder(1000, isTTF=True)
    order = [".notdef", "space", "ring", "solid"]
    builder.setupGlyphOrder(order)
    cmap = {0x20: "space", **{c: "ring" for c in rings}, **{c: "solid" for c in solids}}
    builder.setupCharacterMap(cmap)
    empty = TTGlyphPen(None).glyph()
    builder.setupGlyf({".notdef": empty, "space": empty, "ring": _ring(), "solid": _solid()})
    builder.setupHorizontalMetrics({name: (1000, 0) for name in order})
    builder.setupHorizontalHeader(ascent=880, descent=-120)
    builder.setupNameTable({"familyName": family, "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=880, sTypoDescender=-120, sTypoLineGap=0,
                     usWinAscent=880, usWinDescent=120)
    builder.setupPost()
    builder.save(str(path))
    return path


@pytest.fixture()
def fonts(tmp_path):
    original = build_font(tmp_path / "original.ttf", "Test Original", ORIGINAL, [])
    completed = build_font(tmp_path / "completed.ttf", "Test Completed", ORIGINAL, GENERATED)
    return original, completed


def _cells(page: str, kind: str) -> list[int]:
    return [int(cp, 16) for cp in re.findall(rf'class="cell {kind}" data-cp="([0-9A-F]+)"', page)]


def test_html_embeds_font_and_marks_exactly_the_generated(fonts, tmp_path):
    original, completed = fonts
    out = write_specimen(completed, tmp_path / "sub" / "specimen.html", original_font=original)
    page = out.read_text(encoding="utf-8")
    assert "@font-face" in page
    url = re.search(r'src: url\("data:font/ttf;base64,([A-Za-z0-9+/=]+)"\)', page)
    assert url and base64.b64decode(url.group(1)) == completed.read_bytes()
    assert sorted(_cells(page, "gen")) == GENERATED
    assert sorted(_cells(page, "orig")) == ORIGINAL
    assert "Test Completed" in page
    assert "14 of 11,172 Hangul syllables" in page and "8 generated, 6 from the original font" in page
    assert "키스의 고유조건은" in page and "다람쥐 헌 쳇바퀴에 타고파" in page
    assert "Generated (the original font lacks it)" in page  # the legend
    assert [p.name for p in tmp_path.joinpath("sub").iterdir()] == ["specimen.html"]  # no temp file left behind


def test_without_original_nothing_is_marked(fonts, tmp_path):
    _, completed = fonts
    page = write_specimen(completed, tmp_path / "s.html").read_text(encoding="utf-8")
    assert _cells(page, "gen") == []
    assert sorted(_cells(page, "orig")) == sorted(ORIGINAL + GENERATED)
    assert "Generated (the original font lacks it)" not in page


def test_grid_sample_sizes(tmp_path):
    kept = list(range(0xAC00, 0xAC00 + 100))
    new = list(range(0xB000, 0xB000 + 400))
    original = build_font(tmp_path / "o.ttf", "O", kept, [])
    completed = build_font(tmp_path / "c.ttf", "C", kept, new)
    page = write_specimen(completed, tmp_path / "s.html", original_font=original).read_text(encoding="utf-8")
    gen, orig = _cells(page, "gen"), _cells(page, "orig")
    assert len(gen) == 200 and set(gen) <= set(new)
    assert len(orig) == 50 and set(orig) <= set(kept)
    assert "500 of 11,172" in page


def test_bad_font_is_a_fontgen_error(tmp_path):
    bad = tmp_path / "bad.ttf"
    bad.write_bytes(b"not a font at all")
    with pytest.raises(FontgenError):
        write_specimen(bad, tmp_path / "s.html")


def test_missing_chromium_is_a_fontgen_error(fonts, tmp_path):
    _, completed = fonts
    out = write_specimen(completed, tmp_path / "s.html")
    with pytest.raises(FontgenError, match="Chromium not found"):
        screenshot_html(out, tmp_path / "s.png", chromium="/nonexistent/chromium")


def _cell_boxes(pixels: np.ndarray, colour: tuple[int, int, int]) -> list[tuple[slice, slice]]:
    """Bounding boxes of cell-sized regions of exactly this background colour (legend swatches are smaller)."""
    mask = np.all(pixels == colour, axis=-1)
    labels, _ = ndimage.label(mask)
    boxes = ndimage.find_objects(labels)
    return [box for box in boxes if box[0].stop - box[0].start >= 60 and box[1].stop - box[1].start >= 50]


def _ink(pixels: np.ndarray, box) -> tuple[int, float]:
    """(size of the dark-pixel bounding box, share of it that is dark) inside a cell."""
    dark = pixels[box].mean(axis=-1) < 80
    if not dark.any():
        return 0, 0.0
    rows, cols = np.nonzero(dark)
    inked = dark[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    return min(inked.shape), float(inked.mean())


def _solid_square(size_fill: tuple[int, float]) -> bool:
    size, fill = size_fill
    return size >= 30 and fill > 0.95


@needs_chromium
def test_chromium_draws_generated_glyphs_in_the_font(fonts, tmp_path):
    original, completed = fonts
    html = write_specimen(completed, tmp_path / "specimen.html", original_font=original)
    png = screenshot_html(html, tmp_path / "specimen.png")
    pixels = np.asarray(Image.open(png).convert("RGB"))

    generated = _cell_boxes(pixels, GEN_BG)
    kept = _cell_boxes(pixels, ORIG_BG)
    assert len(generated) == len(GENERATED) and len(kept) == len(ORIGINAL)
    assert all(_solid_square(_ink(pixels, box)) for box in generated)  # the font's solid squares
    for box in kept:  # the font's squares with a hole: inked, but not solid
        size, fill = _ink(pixels, box)
        assert size >= 30 and 0.5 < fill < 0.9

    # Control: the same page with the original font embedded, which lacks the generated syllables.
    page = html.read_text(encoding="utf-8")
    swapped = re.sub(r"base64,[A-Za-z0-9+/=]+",
                     "base64," + base64.b64encode(original.read_bytes()).decode("ascii"), page, count=1)
    control = tmp_path / "control.html"
    control.write_text(swapped, encoding="utf-8")
    control_png = screenshot_html(control, tmp_path / "control.png", height=pixels.shape[0])
    control_pixels = np.asarray(Image.open(control_png).convert("RGB"))
    control_generated = _cell_boxes(control_pixels, GEN_BG)
    assert len(control_generated) == len(GENERATED)
    assert not any(_solid_square(_ink(control_pixels, box)) for box in control_generated)


@needs_chromium
def test_font_the_browser_rejects_is_a_fontgen_error(fonts, tmp_path):
    _, completed = fonts
    html = write_specimen(completed, tmp_path / "specimen.html")
    garbage = base64.b64encode(b"\x00\x01\x00\x00" + b"\xff" * 200).decode("ascii")
    broken = re.sub(r"base64,[A-Za-z0-9+/=]+", "base64," + garbage, html.read_text(encoding="utf-8"), count=1)
    html.write_text(broken, encoding="utf-8")
    with pytest.raises(FontgenError, match="could not load the embedded font"):
        screenshot_html(html, tmp_path / "specimen.png")
    assert not (tmp_path / "specimen.png").exists()


def test_collection_face_is_embedded_as_a_standalone_font(fonts, tmp_path):
    from fontTools.ttLib import TTCollection, TTFont

    original, completed = fonts
    collection = TTCollection()
    collection.fonts = [TTFont(original), TTFont(completed)]
    ttc = tmp_path / "both.ttc"
    collection.save(ttc)
    page = write_specimen(ttc, tmp_path / "s.html", face=1, original_font=original).read_text(encoding="utf-8")
    data = base64.b64decode(re.search(r'url\("data:font/ttf;base64,([A-Za-z0-9+/=]+)"\)', page).group(1))
    embedded = TTFont(io.BytesIO(data))
    assert embedded["name"].getBestFamilyName() == "Test Completed"
    assert sorted(_cells(page, "gen")) == GENERATED
