"""Adding traced glyphs to a user's font: TTF, CFF and CID-keyed CFF, naming, licensing, safe writes."""
from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path

import numpy as np
import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.recordingPen import DecomposingRecordingPen
from fontTools.pens.t2CharStringPen import T2CharStringPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, TTFont
from fontTools.ttLib.tables._g_l_y_f import flagOnCurve, flagOverlapSimple
from PIL import Image

from fontgen.errors import FontgenError
from fontgen.export import ExportReport, export_font, read_glyph_dir, read_glyph_outlines, validate_with_ots
from fontgen.files import partial_path
from fontgen.fonts import open_font
from fontgen.outlines import GlyphOutline, glyph_outline, image_digest, write_outline_glif
from fontgen.render import GlyphRenderer, frame_for_font
from fontgen.render import ink_iou as iou

NANUM_GOTHIC = Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf")
NOTO_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")

pytestmark = pytest.mark.skipif(not NANUM_GOTHIC.exists(), reason="fonts-nanum is not installed")

BASE_TEXT = "AaBb09 가나다"
BASE_HANGUL = [ord(c) for c in "가나다"]
# 20 syllables the small test fonts do not have, plus one they do (가).
NEW = [0xAC01 + i * 37 for i in range(20)]


@pytest.fixture(scope="module")
def nanum():
    return open_font(NANUM_GOTHIC)


@pytest.fixture(scope="module")
def images():
    """NanumGothic renders of the new syllables (and 가), in NanumGothic's frame at 128 px."""
    renderer = GlyphRenderer(NANUM_GOTHIC, size_px=128)
    return {cp: renderer.render(cp) for cp in [*NEW, 0xAC00]}


def build_font(nanum: TTFont, path: Path, *, cff: bool = False, fs_type: int = 0, family: str = "Test") -> Path:
    """A small font with NanumGothic's outlines and metrics for Latin letters and three syllables."""
    cmap_src = nanum.getBestCmap()
    glyph_set = nanum.getGlyphSet()
    hmtx = nanum["hmtx"]
    codepoints = [ord(c) for c in BASE_TEXT]
    names = {cp: ("space" if cp == 0x20 else cmap_src[cp]) for cp in codepoints}
    order = [".notdef", *dict.fromkeys(names.values())]
    builder = FontBuilder(1000, isTTF=not cff)
    builder.setupGlyphOrder(order)
    builder.setupCharacterMap(names)
    metrics, outlines = {}, {}
    for name in order:
        source = name if name != ".notdef" else cmap_src[ord("A")]
        recording = DecomposingRecordingPen(glyph_set)
        if name != "space":
            glyph_set[source].draw(recording)
        advance = hmtx[source][0] if name != "space" else 300
        if cff:
            pen = T2CharStringPen(advance, None)
            recording.replay(pen)
            outlines[name] = pen.getCharString()
        else:
            pen = TTGlyphPen(None)
            recording.replay(pen)
            outlines[name] = pen.glyph()
        metrics[name] = advance
    if cff:
        builder.setupCFF(f"{family}-Regular", {"FullName": f"{family} Regular", "FamilyName": family}, outlines, {})
        lsb = {name: (outlines[name].calcBounds(None) or (0,))[0] for name in order}
    else:
        builder.setupGlyf(outlines)
        lsb = {name: getattr(outlines[name], "xMin", 0) for name in order}
    builder.setupHorizontalMetrics({name: (metrics[name], int(lsb[name])) for name in order})
    builder.setupHorizontalHeader(ascent=920, descent=-230)
    builder.setupNameTable({
        "familyName": family, "styleName": "Regular", "uniqueFontIdentifier": f"1.000;TEST;{family}-Regular",
        "fullName": f"{family} Regular", "psName": f"{family}-Regular", "version": "Version 1.000",
    })
    builder.setupOS2(sTypoAscender=800, sTypoDescender=-200, sTypoLineGap=0, usWinAscent=920, usWinDescent=230,
                     fsType=fs_type)
    builder.setupPost(keepGlyphNames=not cff)
    builder.save(str(path))
    return path


def _glyph_bytes(font: TTFont) -> dict[str, bytes]:
    """Each glyph's stored bytes, read without decompiling anything."""
    order = font.getGlyphOrder()
    if "glyf" in font:
        glyphs = font["glyf"].glyphs
        return {name: getattr(glyphs[name], "data", b"") for name in order}
    index = font["CFF "].cff.topDictIndex[0].CharStrings.charStringsIndex
    return {name: index[i].bytecode for i, name in enumerate(order)}


def _check_export(source: Path, out: Path, report: ExportReport, images: dict) -> None:
    before, after = TTFont(source), TTFont(out)
    assert report.added == len(NEW)
    assert report.skipped == [0xAC00]
    assert report.output == out and out.exists()
    validate_with_ots(out)

    # Every original glyph is still there, byte for byte, at the same glyph ID.
    old_bytes, new_bytes = _glyph_bytes(before), _glyph_bytes(after)
    old_order = before.getGlyphOrder()
    assert after.getGlyphOrder()[: len(old_order)] == old_order
    assert all(new_bytes[name] == data for name, data in old_bytes.items())
    assert len(after.getGlyphOrder()) == len(old_order) + len(NEW)
    assert after["maxp"].numGlyphs == len(old_order) + len(NEW)
    for name in old_order:
        assert after["hmtx"][name] == before["hmtx"][name]

    # cmap: old mappings kept, new codepoints mapped to new glyphs.
    old_cmap, new_cmap = before.getBestCmap(), after.getBestCmap()
    assert all(new_cmap[cp] == name for cp, name in old_cmap.items())
    new_glyphs = {new_cmap[cp] for cp in NEW}
    assert len(new_glyphs) == len(NEW) and not new_glyphs & set(old_order)
    advance = frame_for_font(before).advance
    for cp in NEW:
        assert after["hmtx"][new_cmap[cp]][0] == advance

    # A new family, so it installs beside the original.
    assert after["name"].getBestFamilyName() == "Test fontgen"
    ps_name = after["name"].getDebugName(6)
    assert " " not in ps_name and ps_name.startswith("Testfontgen")
    assert after["name"].getDebugName(3) != before["name"].getDebugName(3)

    os2 = after["OS/2"]
    assert os2.ulUnicodeRange2 & (1 << (56 - 32))
    assert os2.ulCodePageRange1 & (1 << 19) and os2.ulCodePageRange1 & (1 << 21)

    # FreeType draws the new glyphs where NanumGothic has them.
    renderer = GlyphRenderer(out, size_px=128)
    for cp in NEW[:5]:
        drawn = renderer.render(cp)
        assert drawn.max() > 0
        assert iou(drawn, images[cp]) > 0.9


def test_export_into_truetype_font(tmp_path, nanum, images):
    source = build_font(nanum, tmp_path / "test.ttf")
    out = tmp_path / "out.ttf"
    report = export_font(source, images, out, progress=False)
    _check_export(source, out, report, images)
    after = TTFont(out)
    assert "glyf" in after
    name = after.getBestCmap()[NEW[0]]
    assert name == f"uni{NEW[0]:04X}"
    glyph = after["glyf"][name]
    assert after["hmtx"][name][1] == glyph.xMin
    assert after["head"].yMin <= glyph.yMin


def test_export_into_cff_font(tmp_path, nanum, images):
    source = build_font(nanum, tmp_path / "test.otf", cff=True)
    out = tmp_path / "out.otf"
    report = export_font(source, images, out, progress=False)
    _check_export(source, out, report, images)
    after = TTFont(out)
    assert out.read_bytes()[:4] == b"OTTO"
    cff = after["CFF "].cff
    assert cff.fontNames == [after["name"].getDebugName(6)]
    top = cff.topDictIndex[0]
    assert top.FamilyName == "Test fontgen" and top.FullName == "Test fontgen Regular"
    name = after.getBestCmap()[NEW[0]]
    x_min = top.CharStrings[name].calcBounds(top.CharStrings)[0]
    assert after["hmtx"][name][1] == pytest.approx(x_min, abs=1)


@pytest.mark.skipif(not NOTO_CJK.exists(), reason="fonts-noto-cjk is not installed")
def test_export_into_cid_keyed_cff_font(tmp_path, images):
    from fontTools import subset

    font = open_font(NOTO_CJK, 1)
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(c) for c in BASE_TEXT])
    subsetter.subset(font)
    source = tmp_path / "noto-cut.otf"
    font.save(source)

    out = tmp_path / "out.otf"
    report = export_font(source, images, out, family_name="Noto Test", progress=False)
    assert report.added == len(NEW) and report.skipped == [0xAC00]
    before, after = TTFont(source), TTFont(out)
    top = after["CFF "].cff.topDictIndex[0]
    assert hasattr(top, "ROS")
    order = after.getGlyphOrder()
    assert all(name.startswith("cid") for name in order[1:])
    assert len(top.FDSelect) == len(order)
    old_bytes = _glyph_bytes(before)
    assert all(_glyph_bytes(after)[name] == data for name, data in old_bytes.items())
    assert after["name"].getBestFamilyName() == "Noto Test"
    renderer = GlyphRenderer(out, size_px=64)
    assert all(renderer.render(cp).max() > 0 for cp in NEW[:3])
    vmtx = after["vmtx"]
    assert all(vmtx[after.getBestCmap()[cp]][0] > 0 for cp in NEW)


def test_replace_existing_remaps_to_a_new_glyph(tmp_path, nanum, images):
    source = build_font(nanum, tmp_path / "test.ttf")
    out = tmp_path / "out.ttf"
    report = export_font(source, {0xAC00: images[0xAC00]}, out, replace_existing=True, progress=False)
    assert report.added == 1 and report.replaced == [0xAC00] and report.skipped == []
    before, after = TTFont(source), TTFont(out)
    old_name = before.getBestCmap()[0xAC00]
    assert after.getBestCmap()[0xAC00] != old_name
    assert _glyph_bytes(after)[old_name] == _glyph_bytes(before)[old_name]


def test_nothing_to_add_is_an_error(tmp_path, nanum, images):
    source = build_font(nanum, tmp_path / "test.ttf")
    with pytest.raises(FontgenError, match="nothing to add"):
        export_font(source, {0xAC00: images[0xAC00]}, tmp_path / "out.ttf", progress=False)


def test_restricted_license_is_refused_unless_forced(tmp_path, nanum, images):
    source = build_font(nanum, tmp_path / "test.ttf", fs_type=0x0002)
    out = tmp_path / "out.ttf"
    with pytest.raises(FontgenError, match=r"fsType.*--force"):
        export_font(source, images, out, progress=False)
    assert not out.exists()
    report = export_font(source, images, out, force=True, progress=False)
    assert report.added == len(NEW) and out.exists()


def test_woff_and_ttc_inputs_are_written_as_plain_fonts(tmp_path, nanum, images):
    ttf = build_font(nanum, tmp_path / "test.ttf")
    woff = tmp_path / "test.woff"
    font = TTFont(ttf)
    font.flavor = "woff"
    font.save(woff)
    export_font(woff, images, tmp_path / "from-woff.ttf", progress=False)
    assert (tmp_path / "from-woff.ttf").read_bytes()[:4] == b"\x00\x01\x00\x00"

    other = build_font(nanum, tmp_path / "other.ttf", family="Other")
    collection = TTCollection()
    collection.fonts = [TTFont(ttf), TTFont(other)]
    collection.save(tmp_path / "both.ttc")
    out = tmp_path / "from-ttc.ttf"
    export_font(tmp_path / "both.ttc", images, out, face=1, progress=False)
    assert out.read_bytes()[:4] == b"\x00\x01\x00\x00"
    assert TTFont(out)["name"].getBestFamilyName() == "Other fontgen"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or "partial" in p.name)


def test_unwritable_output_leaves_nothing(tmp_path, nanum, images):
    source = build_font(nanum, tmp_path / "test.ttf")
    with pytest.raises(FontgenError, match="cannot write"):
        export_font(source, images, tmp_path / "no-such-folder" / "out.ttf", progress=False)
    assert not (tmp_path / "no-such-folder").exists()

    folder = tmp_path / "taken"
    folder.mkdir()
    with pytest.raises(FontgenError):
        export_font(source, images, folder, progress=False)  # a folder where the file should go
    assert folder.is_dir() and not any(folder.iterdir())
    assert _leftovers(tmp_path) == []


def test_sanitizer_failure_writes_nothing(tmp_path, nanum, images, monkeypatch):
    import fontgen.export as export

    def reject(path):
        raise FontgenError(f"{Path(path).name}: the OpenType Sanitizer rejects the font: ERROR: test")

    monkeypatch.setattr(export, "validate_with_ots", reject)
    source = build_font(nanum, tmp_path / "test.ttf")
    out = tmp_path / "out.ttf"
    with pytest.raises(FontgenError, match=r"out\.ttf: the OpenType Sanitizer rejects"):
        export_font(source, images, out, progress=False)
    assert not out.exists() and _leftovers(tmp_path) == []


def test_validate_with_ots_reports_damage(tmp_path, nanum):
    source = build_font(nanum, tmp_path / "test.ttf")
    validate_with_ots(source)
    data = bytearray(source.read_bytes())
    font = TTFont(io.BytesIO(bytes(data)))
    offset = font.reader.tables["hhea"].offset
    data[offset + 34: offset + 36] = (0xFFFF).to_bytes(2, "big")  # numberOfHMetrics past numGlyphs
    broken = tmp_path / "broken.ttf"
    broken.write_bytes(bytes(data))
    with pytest.raises(FontgenError, match="OpenType Sanitizer"):
        validate_with_ots(broken)


# ---------------------------------------------------------------------------------------------
# Glyph folders


def _save_png(path: Path, ink: np.ndarray, mode: str = "L") -> None:
    pixels = 255 - ink
    image = Image.fromarray(pixels)
    if mode == "RGBA":  # ink as opaque black on a transparent background
        rgba = np.zeros((*ink.shape, 4), np.uint8)
        rgba[..., 3] = ink
        image = Image.fromarray(rgba, "RGBA")
    elif mode != "L":
        image = image.convert(mode)
    image.save(path)


def test_read_glyph_dir(tmp_path, images):
    folder = tmp_path / "glyphs"
    folder.mkdir()
    _save_png(folder / "U+AC01.png", images[NEW[0]])
    _save_png(folder / f"U+{NEW[1]:04x}.png", images[NEW[1]], "RGB")
    _save_png(folder / f"U+{NEW[2]:04X}.png", images[NEW[2]], "RGBA")
    _save_png(folder / "contact_sheet.png", images[NEW[3]])
    _save_png(folder / "check_sheet.png", images[NEW[3]][:64, :64])  # the sheets generate writes beside the glyphs
    (folder / "manifest.json").write_text("{}")
    # what a killed generate leaves: an image cut off before its rename, which export must not read
    partial_path(folder / "U+AC02.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0")
    glyphs = read_glyph_dir(folder)
    assert list(glyphs) == [0xAC01, NEW[1], NEW[2]]
    for cp, ink in glyphs.items():
        assert ink.dtype == np.uint8 and ink.shape == (128, 128)
        assert np.abs(ink.astype(int) - images[cp].astype(int)).max() <= 1


def test_read_glyph_dir_errors(tmp_path, images):
    with pytest.raises(FontgenError, match="no such folder"):
        read_glyph_dir(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FontgenError, match="no glyph images"):
        read_glyph_dir(empty)

    def cut_short(path: Path) -> None:  # a PNG cut off mid-write
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])

    # Each folder: U+AC01 as it should be, then a second file (name, image, damage) and the refusal expected.
    cases = {
        "wrong-name": ("gak.png", images[NEW[1]], None, "gak.png"),
        "wrong-size": ("U+AC02.png", images[NEW[1]][:64, :64], None, r"U\+AC02.png.*same size"),
        "not-square": ("U+AC02.png", images[NEW[1]][:, :100], None, "square"),
        "tiny": ("U+AC00.png", images[NEW[1]][:4, :4], None, "at least 8x8"),
        # Images are read again when export writes each glyph; one cut short is refused when the folder is read.
        "cut-short": ("U+AC02.png", images[NEW[1]], cut_short, r"U\+AC02.png: not a readable PNG"),
    }
    for name, (file, image, damage, refusal) in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        _save_png(folder / "U+AC01.png", images[NEW[0]])
        _save_png(folder / file, image)
        if damage:
            damage(folder / file)
        with pytest.raises(FontgenError, match=refusal):
            read_glyph_dir(folder)


def test_a_glyph_image_damaged_after_its_folder_was_read_is_refused_without_an_output(tmp_path, nanum, images):
    """The folder's images are read one at a time as their glyphs are written; one damaged in between (another
    process writing the folder) ends export in one line, with no font written."""
    folder = tmp_path / "glyphs"
    folder.mkdir()
    for cp in NEW:
        _save_png(folder / f"U+{cp:04X}.png", images[cp])
    glyphs = read_glyph_dir(folder)
    source = build_font(nanum, tmp_path / "test.ttf")
    for damage, refusal in [(lambda path: path.write_bytes(b"not a png"), "not a readable PNG"),
                            (lambda path: _save_png(path, images[NEW[-1]][:64, :64]), "changed while fontgen read")]:
        damage(folder / f"U+{NEW[-1]:04X}.png")
        assert NEW[-1] in glyphs and 0xAC00 not in glyphs  # a membership test does not read the image
        with pytest.raises(FontgenError, match=f"U\\+{NEW[-1]:04X}.png: {refusal}"):
            export_font(source, glyphs, tmp_path / "out.ttf", progress=False)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["glyphs", "test.ttf"]


def test_glyph_dir_to_font(tmp_path, nanum, images):
    folder = tmp_path / "glyphs"
    folder.mkdir()
    for cp in NEW:
        _save_png(folder / f"U+{cp:04X}.png", images[cp])
    source = build_font(nanum, tmp_path / "test.ttf")
    report = export_font(source, read_glyph_dir(folder), tmp_path / "out.ttf", family_name="Mine", progress=False)
    assert report.added == len(NEW) and report.family_name == "Mine"
    assert TTFont(tmp_path / "out.ttf")["name"].getBestFamilyName() == "Mine"
    assert oct(os.stat(tmp_path / "out.ttf").st_mode & 0o777) != "0o600"


def test_full_format4_cmap_moves_new_characters_to_format12(tmp_path):
    """A format 4 cmap that would pass 64 KiB keeps its old mappings; format 12 (3,10) carries all."""
    pen = TTGlyphPen(None)
    pen.moveTo((100, 0))
    pen.lineTo((100, 700))
    pen.lineTo((600, 700))
    pen.lineTo((600, 0))
    pen.closePath()
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder([".notdef", "box"])
    old = {0x4E00 + 2 * i: "box" for i in range(7500)}  # 7,500 one-character segments
    builder.setupCharacterMap(old)
    builder.setupGlyf({".notdef": TTGlyphPen(None).glyph(), "box": pen.glyph()})
    builder.setupHorizontalMetrics({".notdef": (500, 0), "box": (1000, 100)})
    builder.setupHorizontalHeader(ascent=880, descent=-120)
    builder.setupNameTable({"familyName": "Crowded", "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=880, sTypoDescender=-120)
    builder.setupPost()
    source = tmp_path / "crowded.ttf"
    builder.save(str(source))

    renderer = GlyphRenderer(NANUM_GOTHIC, size_px=32)
    new = list(range(0xAC00, 0xAC00 + 1600, 2))  # 800 more segments: past 64 KiB
    report = export_font(source, {cp: renderer.render(cp) for cp in new}, tmp_path / "out.ttf", progress=False)
    assert report.added == len(new)
    font = TTFont(tmp_path / "out.ttf")
    subtables = {(t.platformID, t.platEncID): t for t in font["cmap"].tables}
    assert subtables[(3, 1)].format == 4 and subtables[(3, 1)].cmap == old
    full = subtables[(3, 10)]
    assert full.format == 12
    assert all(full.cmap[cp] == "box" for cp in old) and all(cp in full.cmap for cp in new)
    assert font.getBestCmap()[new[-1]] == f"uni{new[-1]:04X}"


KEPT_AS_THEY_ARE = ("GSUB", "GPOS", "GDEF", "BASE", "kern", "fpgm", "prep", "cvt ", "gasp", "VDMX", "VORG", "vhea")
# What each font brings (a font that stopped carrying one would leave that table untested: the test says so).
CARRIED = {"NanumBarunGothicBold": {"GSUB", "GPOS", "GDEF", "fpgm", "prep", "cvt ", "gasp"},
           "LexiGulim": {"kern", "fpgm", "prep", "cvt ", "gasp", "VDMX", "hdmx"},
           "NotoSansCJKKR-Bold": {"GSUB", "GPOS", "BASE", "VORG", "vhea", "vmtx"}}


@pytest.mark.parametrize("name", list(CARRIED))
def test_export_keeps_what_it_does_not_own(tmp_path, name):
    """Real fonts with layout, kerning, hinting and vertical metrics (glyf and CFF): those tables come out
    byte for byte, every original glyph's outline and metrics (hmtx, vmtx, hdmx) as they were."""
    import glyph_data
    from fontgen.fonts import subset_font

    font = glyph_data.corpus_font(name)
    if not font.path.exists():
        pytest.skip(f"{font.package} is not installed")
    source = subset_font(font.path, font.face, glyph_data.ksx1001_syllables()[:60],
                         tmp_path / f"{name}.{'otf' if name.startswith('Noto') else 'ttf'}")
    drawn = GlyphRenderer(source, 128).render(0xAC00)
    out = tmp_path / f"out{source.suffix}"
    export_font(source, {0xD7A3: drawn, 0xD7A2: drawn}, out, progress=False)
    before, after = TTFont(source), TTFont(out)
    assert CARRIED[name] <= set(before.reader.keys())
    for tag in CARRIED[name] & set(KEPT_AS_THEY_ARE):
        assert after.reader[tag] == before.reader[tag], tag
    old_glyphs = before.getGlyphOrder()
    assert after.getGlyphOrder()[: len(old_glyphs)] == old_glyphs
    for tag in ["hmtx"] + [t for t in ("vmtx",) if t in CARRIED[name]]:
        assert all(after[tag][g] == before[tag][g] for g in old_glyphs), tag
    if "hdmx" in CARRIED[name]:
        for size, widths in before["hdmx"].hdmx.items():
            assert all(after["hdmx"].hdmx[size][g] == widths[g] for g in old_glyphs)
    if "glyf" in before:
        glyf_before, glyf_after = before["glyf"], after["glyf"]
        assert all(glyf_after[g].compile(glyf_after) == glyf_before[g].compile(glyf_before) for g in old_glyphs)
    else:
        strings_before = before["CFF "].cff.topDictIndex[0].CharStrings
        strings_after = after["CFF "].cff.topDictIndex[0].CharStrings
        for g in old_glyphs:
            strings_before[g].compile(), strings_after[g].compile()
            assert strings_after[g].bytecode == strings_before[g].bytecode, g


@pytest.mark.parametrize("cff", [False, True])
def test_outlines_beside_the_images_are_exported_as_they_are(tmp_path, nanum, images, cff):
    """Glyph outlines written as generate writes them (UFO .glif, NanumGothic's own quadratic contours) go into
    TrueType and CFF fonts as they are, not traced; an outline whose image was edited afterwards is traced."""
    source = build_font(nanum, tmp_path / ("test.otf" if cff else "test.ttf"), cff=cff)
    glyph_set, cmap, frame = nanum.getGlyphSet(), nanum.getBestCmap(), frame_for_font(nanum)
    for cp in NEW:
        outline = GlyphOutline(glyph_outline(glyph_set, cmap[cp]), frame, "ttf", image_digest(images[cp]))
        write_outline_glif(outline, cp, tmp_path / f"U+{cp:04X}.glif")
    outlines = read_glyph_outlines(tmp_path)
    assert sorted(outlines) == NEW
    assert outlines[NEW[1]].contours == glyph_outline(glyph_set, cmap[NEW[1]])  # the file holds the points exactly
    edited = dict(images)
    edited[NEW[0]] = np.roll(images[NEW[0]], 3, axis=1)  # a hand fix after generate: the outline no longer holds
    out = tmp_path / ("out.otf" if cff else "out.ttf")
    report = export_font(source, edited, out, outlines=outlines, progress=False)
    assert report.from_outlines == len(NEW) - 1
    _check_export(source, out, report, edited)
    after = TTFont(out)
    if not cff:  # the same frame: every point where NanumGothic has it (a contour may start at another point)
        for cp in NEW[1:4]:
            mine, theirs = after["glyf"][after.getBestCmap()[cp]], nanum["glyf"][cmap[cp]]
            coordinates, ends, flags = theirs.getCoordinates(nanum["glyf"])
            assert list(mine.endPtsOfContours) == list(ends)
            assert mine.flags[0] & flagOverlapSimple  # jamo set against each other may overlap
            on_curve = [flag & flagOnCurve for flag in mine.flags]
            assert sorted(zip(mine.coordinates, on_curve)) == sorted(zip(coordinates, [f & flagOnCurve for f in flags]))
        traced = after["glyf"][after.getBestCmap()[NEW[0]]]
        assert not traced.flags[0] & flagOverlapSimple  # a tracing is one shape
    renderer = GlyphRenderer(out, size_px=128)
    assert iou(renderer.render(NEW[0]), edited[NEW[0]]) > 0.9  # traced from the edited image
    assert min(iou(renderer.render(cp), images[cp]) for cp in NEW[1:]) > 0.97


def test_a_damaged_outline_file_is_refused_in_one_line(tmp_path, nanum, images, capsys):
    from fontgen.cli import main

    source = build_font(nanum, tmp_path / "test.ttf")
    folder = tmp_path / "glyphs"
    folder.mkdir()
    Image.fromarray(255 - images[NEW[0]]).save(folder / f"U+{NEW[0]:04X}.png")
    good = GlyphOutline(glyph_outline(nanum.getGlyphSet(), nanum.getBestCmap()[NEW[0]]), frame_for_font(nanum), "ttf",
                        image_digest(images[NEW[0]]))
    write_outline_glif(good, NEW[0], tmp_path / "good.glif")
    text = (tmp_path / "good.glif").read_text()
    first_x = text[text.index(' x="') + 4:text.index('"', text.index(' x="') + 4)]
    for damaged in (text[: len(text) // 2], text.replace("org.fontgen.outline", "org.other"),
                    text.replace(f' x="{first_x}"', ' x="inf"', 1), text.replace(f' x="{first_x}"', ' x="99999"', 1)):
        (folder / f"U+{NEW[0]:04X}.glif").write_text(damaged)
        assert main(["export", str(source), str(folder), "-o", str(tmp_path / "out.ttf")]) == 1
        said = capsys.readouterr().err.strip()
        assert "U+AC01.glif: not an outline fontgen wrote" in said and "\n" not in said
        assert not (tmp_path / "out.ttf").exists()
    (folder / f"U+{NEW[0]:04X}.glif").write_text(text)
    assert main(["export", str(source), str(folder), "-o", str(tmp_path / "out.ttf")]) == 0
    assert "1 with the font's own moved contours, 0 of them with some jamo traced" in capsys.readouterr().out
    # The ink of jamo left to trace lies in traced/: missing or damaged, it is refused in one line too.
    half = np.where(np.arange(128)[None, :] < 64, images[NEW[0]], 0).astype(np.uint8)
    write_outline_glif(dataclasses.replace(good, traced=half), NEW[0], folder / f"U+{NEW[0]:04X}.glif")
    traced = folder / "traced" / f"U+{NEW[0]:04X}.png"
    assert main(["export", str(source), str(folder), "-o", str(tmp_path / "out2.ttf")]) == 0
    assert "1 of them with some jamo traced" in capsys.readouterr().out
    for damage, message in ((lambda: traced.write_bytes(b"not a png"), "not the ink of a glyph's jamo left to trace"),
                            (traced.unlink, "not an outline fontgen wrote")):
        damage()
        assert main(["export", str(source), str(folder), "-o", str(tmp_path / "out3.ttf")]) == 1
        said = capsys.readouterr().err.strip()
        assert message in said and "\n" not in said
        assert not (tmp_path / "out3.ttf").exists()
