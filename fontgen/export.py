"""Add new glyphs, given as images, to the user's own font and write it as a new font file.

Everything the font had stays as it was: existing glyphs keep their glyf/CFF data byte for byte,
and tables the export does not need to touch are copied through unparsed. New glyphs are traced
with potrace (fontgen.vectorize) in the frame the font's own glyphs are rendered in, or, where
composition wrote the font's own moved contours beside an image (fontgen.outlines), take those
(tracing only the ink of the jamo that had none); they are appended at the end of the glyph order as
uniXXXX (cidNNNNN in CID-keyed CFF fonts) and mapped in the cmap. By default the family is renamed so
the result installs beside the original.
"""
from __future__ import annotations

import io
import re
import statistics
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from fontTools.pens.basePen import NullPen
from fontTools.pens.recordingPen import RecordingPen
from fontTools.ttLib import TTFont
from fontTools.ttLib.tables._g_l_y_f import flagOverlapSimple
from PIL import Image, UnidentifiedImageError

import glyph_data
from fontgen.errors import FontgenError
from fontgen.files import atomic_path
from fontgen.fonts import open_font
from fontgen.render import EmFrame, frame_for_font
from fontgen.outlines import (MAX_COORDINATE, GlyphOutline, draw_outline, fit_contours, image_digest,
                              read_outline_glif, split_contours)
from fontgen.vectorize import (
    TraceParams,
    charstring_from_drawing,
    draw_contours,
    drawing_bounds,
    trace_contours,
    ttglyph_from_drawing,
)

MAX_GLYPHS = 0xFFFF
GLYPH_FILE = re.compile(r"^U\+([0-9A-Fa-f]{4,6})\.png$", re.IGNORECASE)
# PNGs fontgen itself may leave in a glyph folder that are not glyphs.
IGNORED_PNGS = {"contact_sheet.png", "check_sheet.png"}  # the sheets generate writes beside the glyphs
# Tables that no longer describe the font once glyphs are added: a digital signature over the
# old bytes, and VTT's private hinting-source tables (indexed by glyph; NanumGothic's zero-length
# TSI3 also makes the OpenType Sanitizer reject the font outright).
DROPPED_TABLES = ("DSIG", "TSI0", "TSI1", "TSI2", "TSI3", "TSI5", "TSIB", "TSIC", "TSID", "TSIJ", "TSIP", "TSIV")
UNICODE_RANGE_HANGUL_SYLLABLES = 56
CODEPAGE_KOREAN_WANSUNG = 19
CODEPAGE_KOREAN_JOHAB = 21


@dataclass
class ExportReport:
    """What export_font did."""

    added: int
    skipped: list[int]
    output: Path
    seconds: float
    replaced: list[int] = field(default_factory=list)
    empty: list[int] = field(default_factory=list)  # images with no ink: added as blank glyphs
    dropped_tables: list[str] = field(default_factory=list)
    family_name: str = ""
    from_outlines: int = 0  # glyphs that took the font's own moved contours (all, or the jamo that have their own)
    partly_traced: int = 0  # of those, glyphs with some jamo traced


# ---------------------------------------------------------------------------------------------
# Glyph folders


def _image_to_ink(image: Image.Image) -> np.ndarray:
    """A PNG's pixels (black ink on white paper, any mode) -> ink-positive uint8."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        pixels = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or pixels.max() > 255 else 255.0
        gray = np.clip(pixels / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return 255 - gray
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, rgba)
    gray = np.asarray(image.convert("L"), dtype=np.uint8)
    return 255 - gray


def _read_ink(file: Path) -> np.ndarray:
    """One glyph PNG's ink, or a one-line refusal."""
    try:
        with Image.open(file) as image:
            image.load()
            return _image_to_ink(image)
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise FontgenError(f"{file}: not a readable PNG image ({error})") from None


class GlyphFolder(Mapping):
    """A checked folder of glyph images (`read_glyph_dir`), {codepoint: ink uint8 array}, each image read when
    it is asked for: a completed font's 11,000 images at 256 px would otherwise hold about 0.7 GB through export.
    An image that changed after the check (another process writing the folder) is refused in one line."""

    def __init__(self, files: dict[int, Path], size: tuple[int, int]):
        self.files, self.size = dict(sorted(files.items())), size

    def __getitem__(self, codepoint: int) -> np.ndarray:
        file = self.files[codepoint]
        ink = _read_ink(file)
        if ink.shape != self.size:
            raise FontgenError(f"{file}: changed while fontgen read the folder (now {ink.shape[1]}x{ink.shape[0]} "
                               f"px, the others {self.size[1]}x{self.size[0]})")
        return ink

    def __contains__(self, codepoint) -> bool:  # without reading the image, as Mapping's would
        return codepoint in self.files

    def __iter__(self):
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)

    def restricted_to(self, codepoints) -> GlyphFolder:
        """The same folder, only the given codepoints' images."""
        wanted = set(codepoints)
        return GlyphFolder({c: file for c, file in self.files.items() if c in wanted}, self.size)


def read_glyph_dir(path: str | Path) -> GlyphFolder:
    """Glyph images named by codepoint (U+AC00.png, black on white) -> {codepoint: ink uint8 array}, each read
    when asked for.

    Every image is checked here, before anything is written from them: a PNG whose name is not a codepoint, an
    unreadable image, a non-square one or sizes that differ are errors. Other kinds of files (*.json, the
    contact and check sheets) are ignored.
    """
    folder = Path(path)
    if not folder.exists():
        raise FontgenError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise FontgenError(f"{folder}: not a folder")
    files: dict[int, Path] = {}
    size: tuple[int, int] | None = None
    first: Path | None = None
    for file in sorted(folder.iterdir()):
        if not file.is_file() or file.suffix.lower() != ".png" or file.name.startswith("."):
            continue
        if file.name.lower() in IGNORED_PNGS:
            continue
        match = GLYPH_FILE.match(file.name)
        if not match:
            raise FontgenError(f"{file}: glyph images must be named by codepoint, like U+AC00.png")
        codepoint = int(match.group(1), 16)
        if codepoint > 0x10FFFF or 0xD800 <= codepoint <= 0xDFFF or codepoint == 0:
            raise FontgenError(f"{file}: U+{codepoint:04X} is not a character that a font can map")
        if codepoint in files:
            raise FontgenError(f"{file}: same codepoint as {files[codepoint].name}")
        shape = _read_ink(file).shape
        if shape[0] != shape[1]:
            raise FontgenError(f"{file}: glyph images must be square, this one is {shape[1]}x{shape[0]}")
        if shape[0] < 8:
            raise FontgenError(f"{file}: glyph images must be at least 8x8 px, this one is {shape[1]}x{shape[0]}")
        if size is None:
            size, first = shape, file
        elif shape != size:
            raise FontgenError(
                f"{file}: is {shape[1]}x{shape[0]} px but {first.name} is {size[1]}x{size[0]}; "
                "all glyph images must be the same size"
            )
        files[codepoint] = file
    if not files:
        raise FontgenError(f"{folder}: no glyph images (U+XXXX.png) in this folder")
    return GlyphFolder(files, size)


# ---------------------------------------------------------------------------------------------
# Validation


OUTLINE_FILE = re.compile(r"^U\+([0-9A-Fa-f]{4,6})\.glif$", re.IGNORECASE)


def read_glyph_outlines(path: str | Path) -> dict[int, GlyphOutline]:
    """The outlines generate wrote beside its images (U+AC00.glif: a composed syllable as the font's own moved
    contours) -> {codepoint: outline}. Other .glif files are ignored; a damaged outline is refused in one line."""
    outlines = {}
    for file in sorted(Path(path).glob("U+*.glif")):
        match = OUTLINE_FILE.match(file.name)
        if match and file.is_file():
            outlines[int(match.group(1), 16)] = read_outline_glif(file)
    return outlines


def _one_line(text: str, limit: int = 600) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line] or lines
    joined = "; ".join(errors)
    return joined if len(joined) <= limit else joined[: limit - 3] + "..."


def validate_with_ots(path: str | Path) -> None:
    """Run the OpenType Sanitizer on a font file; FontgenError with OTS's message when it fails."""
    try:
        import ots
    except ImportError:
        raise FontgenError("the OpenType Sanitizer (opentype-sanitizer package) is not installed") from None
    path = Path(path)
    try:
        result = ots.sanitize(str(path), capture_output=True)
    except OSError as error:
        raise FontgenError(f"cannot run the OpenType Sanitizer: {error}") from None
    if result.returncode != 0:
        output = (result.stderr or b"").decode("utf-8", "replace") + (result.stdout or b"").decode("utf-8", "replace")
        raise FontgenError(f"{path.name}: the OpenType Sanitizer rejects the font: {_one_line(output) or 'no message'}")


def _check_readable(path: Path, label: str, codepoints: list[int], glyph_ids: list[int]) -> None:
    """Re-open the written font with fontTools and FreeType and load some of the new glyphs."""
    import freetype

    try:
        font = TTFont(path)
        cmap = font.getBestCmap() or {}
        glyph_set = font.getGlyphSet()
        for codepoint, gid in zip(codepoints, glyph_ids):
            name = cmap.get(codepoint)
            if name is None or font.getGlyphID(name) != gid:
                raise FontgenError(f"{label}: U+{codepoint:04X} is not mapped to its new glyph after writing")
            glyph_set[name].draw(NullPen())
        font.close()
    except FontgenError:
        raise
    except Exception as error:
        raise FontgenError(f"{label}: fontTools cannot read the written font back "
                           f"({type(error).__name__}: {error})") from None
    try:
        face = freetype.Face(str(path))
        face.set_char_size(48 * 64)
        for codepoint, gid in zip(codepoints, glyph_ids):
            if face.get_char_index(codepoint) != gid:
                raise FontgenError(f"{label}: FreeType does not find U+{codepoint:04X} in the written font")
            face.load_glyph(gid, freetype.FT_LOAD_NO_BITMAP | freetype.FT_LOAD_NO_HINTING)
    except FontgenError:
        raise
    except freetype.FT_Exception as error:
        raise FontgenError(f"{label}: FreeType cannot read the written font ({error})") from None


def _ps_clean(text: str) -> str:
    """Characters allowed in a PostScript name (printable ASCII but []{}()<>/% and spaces)."""
    return "".join(ch for ch in text if 33 <= ord(ch) <= 126 and ch not in "[](){}<>/%")


def _rename(font: TTFont, family_name: str | None) -> tuple[str, str, str]:
    """Give the font a new family: nameIDs 1, 3, 4, 6, 16 (and 18, 21 when present), CFF names.

    Returns (English family, full name, PostScript name).
    """
    name_table = font["name"]
    original_family = name_table.getBestFamilyName() or "Untitled"
    original_ps = name_table.getDebugName(6) or _ps_clean(original_family)
    subfamily = name_table.getBestSubFamilyName() or "Regular"
    chosen = family_name.strip() if family_name and family_name.strip() else None
    new_family = chosen or f"{original_family} fontgen"
    ps_name, style = _postscript_name(new_family, original_ps, subfamily)
    english_full = new_family if not style else f"{new_family} {subfamily}"
    _rename_records(name_table, chosen, original_family, ps_name)
    # Fonts that lack some of the basic names get them (Windows, English).
    present = {record.nameID for record in name_table.names}
    for nid, value in ((1, new_family), (3, _unique_id(ps_name)), (4, english_full), (6, ps_name)):
        if nid not in present:
            name_table.setName(value, nid, 3, 1, 0x409)
    if "CFF " in font:
        cff = font["CFF "].cff
        cff.fontNames = [ps_name]
        top = cff.topDictIndex[0]
        if "FullName" in top.rawDict or hasattr(top, "FullName"):
            top.FullName = english_full
        if "FamilyName" in top.rawDict or hasattr(top, "FamilyName"):
            top.FamilyName = new_family
    return new_family, english_full, ps_name


def _postscript_name(new_family: str, original_ps: str, subfamily: str) -> tuple[str, str]:
    """The new PostScript name, the family without spaces plus the original's style suffix; and that suffix."""
    if "-" in original_ps:
        style = original_ps.rsplit("-", 1)[1]
    else:
        style = "" if subfamily.lower() in ("regular", "normal", "book") else _ps_clean(subfamily)
    base = _ps_clean(new_family)
    if not base:  # a family name with no ASCII letters
        base = _ps_clean(original_ps.split("-")[0]) + "fontgen"
    return (base + ("-" + style if style else ""))[:63], style


def _unique_id(ps_name: str) -> str:
    return f"fontgen;{ps_name}"


def _rename_records(name_table, chosen: str | None, original_family: str, ps_name: str) -> None:
    """Each record of the family, full name, PostScript name or unique ID renamed in its own language: the
    family there (or `chosen`) plus " fontgen"; a record its legacy Mac encoding cannot spell is dropped."""
    groups: dict[tuple, dict[int, str]] = {}  # per (platform, encoding, language): the names as they were
    for record in name_table.names:
        try:
            groups.setdefault((record.platformID, record.platEncID, record.langID), {})[record.nameID] = (
                record.toUnicode())
        except UnicodeDecodeError:
            continue
    drop = []
    for record in name_table.names:
        strings = groups.get((record.platformID, record.platEncID, record.langID), {})
        old_family = strings.get(16) or strings.get(21) or strings.get(1) or original_family
        try:
            text = record.toUnicode()
        except UnicodeDecodeError:
            text = ""
        value = _renamed(record.nameID, text, strings, old_family, chosen or f"{old_family} fontgen", ps_name)
        if value is None:
            continue
        record.string = value
        try:
            record.toBytes()
        except (UnicodeEncodeError, LookupError):
            drop.append(record)
    for record in drop:
        name_table.names.remove(record)


def _renamed(name_id: int, text: str, strings: dict[int, str], old_family: str, new_family: str,
             ps_name: str) -> str | None:
    """A name record's new text (None: a name fontgen leaves alone); `strings`: its language's other names."""
    if name_id in (16, 21):
        return new_family
    if name_id in (1, 4, 18) and old_family and text.startswith(old_family):
        return new_family + text[len(old_family):]  # keeps what follows the family, e.g. " Bold"
    if name_id == 1:
        return new_family
    if name_id in (4, 18):
        sub = strings.get(17) or strings.get(2) or ""
        return new_family if sub.lower() in ("", "regular") else f"{new_family} {sub}"
    if name_id == 6:
        return ps_name
    if name_id == 3:
        return _unique_id(ps_name)
    return None


# ---------------------------------------------------------------------------------------------
# Export


def _unique_name(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    i = 1
    while f"{base}.fontgen{i}" in taken:
        i += 1
    return f"{base}.fontgen{i}"


def _glyph_base_name(codepoint: int) -> str:
    return f"uni{codepoint:04X}" if codepoint <= 0xFFFF else f"u{codepoint:05X}"


def _check_images(glyphs: Mapping) -> Mapping[int, np.ndarray]:
    """The glyphs by codepoint, each a square 2-D ink array (a `GlyphFolder` was checked as it was read)."""
    if isinstance(glyphs, GlyphFolder):
        return glyphs
    checked = {}
    for codepoint, image in glyphs.items():
        codepoint = int(codepoint)
        if not 0 < codepoint <= 0x10FFFF or 0xD800 <= codepoint <= 0xDFFF:
            raise FontgenError(f"U+{codepoint:04X} is not a character that a font can map")
        array = np.asarray(image)
        if array.ndim != 2 or array.shape[0] != array.shape[1] or array.shape[0] < 8:
            raise FontgenError(f"U+{codepoint:04X}: glyph image must be a square 2-D array, got shape {array.shape}")
        checked[codepoint] = array
    return dict(sorted(checked.items()))


def _hangul_glyph_names(font: TTFont) -> list[str]:
    cmap = font.getBestCmap() or {}
    return [cmap[c] for c in cmap if glyph_data.is_syllable(c)]


def _glyf_header(glyph) -> tuple[int, int, int, int, int] | None:
    """(numberOfContours, xMin, yMin, xMax, yMax) of a glyph without expanding it."""
    data = getattr(glyph, "data", None)
    if data is not None:
        if len(data) < 10:
            return None
        return struct.unpack(">hhhhh", data[:10])
    if getattr(glyph, "numberOfContours", 0) == 0:
        return None
    return glyph.numberOfContours, glyph.xMin, glyph.yMin, glyph.xMax, glyph.yMax


def _vertical_defaults(font: TTFont, is_cff: bool, frame: EmFrame) -> tuple[int, float]:
    """(vertical advance, vertical origin y) for new glyphs in a font with vmtx."""
    vmtx = font["vmtx"].metrics
    names = [n for n in _hangul_glyph_names(font) if n in vmtx]
    if names:
        advance = int(statistics.median(vmtx[n][0] for n in names))
    else:
        advance = font["vhea"].advanceHeightMax if "vhea" in font else frame.units_per_em
    if "VORG" in font:
        return advance, float(font["VORG"].defaultVertOriginY)
    origins = []
    if not is_cff:
        raw = font["glyf"].glyphs
        for name in names[:2000]:
            header = _glyf_header(raw[name])
            if header:
                origins.append(vmtx[name][1] + header[4])
    if origins:
        return advance, float(statistics.median(origins))
    return advance, float(round(frame.bottom + frame.size))


def _free_cids(order: list[str], count: int) -> list[int]:
    """CIDs for new glyphs: above the highest one in use, then unused ones below it (CIDs are 16-bit)."""
    used = {int(n[3:]) for n in order if n.startswith("cid") and n[3:].isdigit()}
    used.add(0)
    highest = max(used)
    free = list(range(highest + 1, min(highest + 1 + count, 0xFFFF)))
    if len(free) < count:
        free += [cid for cid in range(1, highest) if cid not in used][: count - len(free)]
    return sorted(free)


def _cid_fd_for_new_glyphs(font: TTFont, top) -> int:
    """The Font DICT most of the font's Hangul syllables use (else the most common one)."""
    order = font.getGlyphOrder()
    index = {name: i for i, name in enumerate(order)}
    gids = [index[n] for n in _hangul_glyph_names(font) if n in index]
    fd_select = top.FDSelect
    picks = [fd_select[g] for g in gids] or list(fd_select.gidArray)
    return statistics.mode(picks) if picks else 0


class GlyfWriter:
    """New TrueType glyphs into `glyf` (quadratic contours), and the maxp limits they raise."""

    curve_format = "ttf"

    def __init__(self, font: TTFont, order: list[str], count: int):
        self.glyf, self.maxp = font["glyf"], font["maxp"]
        self.max_points = self.max_contours = 0

    def name(self, codepoint: int, taken: set[str]) -> str:
        return _unique_name(_glyph_base_name(codepoint), taken)

    def add(self, name: str, draw, advance: int, may_overlap: bool = False) -> tuple[int, int, int, int] | None:
        """Store the glyph `draw(pen)` draws; its bounds (None: empty). `may_overlap`: its contours may overlap
        (jamo set against each other), which the first point's OVERLAP_SIMPLE flag tells rasterizers."""
        glyph = ttglyph_from_drawing(draw)
        self.glyf.glyphs[name] = glyph
        if glyph.numberOfContours == 0:
            return None
        if may_overlap:
            glyph.flags[0] |= flagOverlapSimple
        self.max_points = max(self.max_points, len(glyph.coordinates))
        self.max_contours = max(self.max_contours, glyph.numberOfContours)
        return glyph.xMin, glyph.yMin, glyph.xMax, glyph.yMax

    def finish(self, new_order: list[str], bounds: list[tuple]) -> None:
        self.glyf.setGlyphOrder(new_order)
        # maxp limits only grow; composite and instruction limits are unchanged (no new ones).
        if self.maxp.tableVersion >= 0x00010000:
            self.maxp.maxPoints = max(self.maxp.maxPoints, self.max_points)
            self.maxp.maxContours = max(self.maxp.maxContours, self.max_contours)


class CffWriter:
    """New glyphs into a CFF table (cubic charstrings), name-keyed or CID-keyed (new CIDs, in the Font DICT
    the font's Hangul uses), and the charset, glyph count, CID count and FontBBox they change."""

    curve_format = "otf"

    def __init__(self, font: TTFont, order: list[str], count: int):
        cff = font["CFF "].cff
        self.top = top = cff.topDictIndex[0]
        self.char_strings, self.global_subrs = top.CharStrings, cff.GlobalSubrs
        self.is_cid = hasattr(top, "ROS")
        if self.is_cid:
            self.fd_index = _cid_fd_for_new_glyphs(font, top)
            self.private = top.FDArray[self.fd_index].Private
            self.free_cids = iter(_free_cids(order, count))
        else:
            self.private = top.Private

    def name(self, codepoint: int, taken: set[str]) -> str:
        if self.is_cid:
            return f"cid{next(self.free_cids):05d}"
        return _unique_name(_glyph_base_name(codepoint), taken)

    def add(self, name: str, draw, advance: int, may_overlap: bool = False) -> tuple[int, int, int, int] | None:
        """Store the glyph `draw(pen)` draws; its bounds (None: empty). CFF has no flag for overlapping contours
        (nonzero winding fills them)."""
        charstring = charstring_from_drawing(draw, self.private, self.global_subrs, advance)
        if self.char_strings.charStringsAreIndexed:
            self.char_strings.charStringsIndex.append(charstring)
            self.char_strings.charStrings[name] = len(self.char_strings.charStringsIndex) - 1
        else:
            self.char_strings.charStrings[name] = charstring
        if self.is_cid:
            self.top.FDSelect.append(self.fd_index)
        return drawing_bounds(draw)

    def finish(self, new_order: list[str], bounds: list[tuple]) -> None:
        top = self.top
        top.charset = new_order
        top.numGlyphs = len(new_order)
        if self.is_cid:
            highest = max(int(n[3:]) for n in new_order if n.startswith("cid") and n[3:].isdigit())
            top.CIDCount = max(getattr(top, "CIDCount", 8720), highest + 1)
        if bounds:
            box = list(top.FontBBox)
            top.FontBBox = [min(box[0], min(b[0] for b in bounds)), min(box[1], min(b[1] for b in bounds)),
                            max(box[2], max(b[2] for b in bounds)), max(box[3], max(b[3] for b in bounds))]


class NewGlyphMetrics:
    """hmtx (and vmtx, in a font with vertical metrics) entries for the new glyphs, and the extremes that
    head, hhea and vhea then record."""

    def __init__(self, font: TTFont, frame: EmFrame, is_cff: bool):
        self.font, self.advance = font, frame.advance
        self.hmtx = font["hmtx"].metrics
        self.vertical = "vmtx" in font and "vhea" in font
        if self.vertical:
            self.vmtx = font["vmtx"].metrics
            self.v_advance, self.v_origin = _vertical_defaults(font, is_cff, frame)
        self.bounds: list[tuple[int, int, int, int]] = []
        self.lsbs, self.rsbs, self.extents = [], [], []
        self.v_tsbs, self.v_bsbs, self.v_extents = [], [], []

    def add(self, name: str, bounds: tuple[int, int, int, int] | None) -> None:
        if not bounds:
            self.hmtx[name] = (self.advance, 0)
            if self.vertical:
                self.vmtx[name] = (self.v_advance, 0)
            return
        x_min, y_min, x_max, y_max = bounds
        self.bounds.append(bounds)
        self.hmtx[name] = (self.advance, x_min)
        self.lsbs.append(x_min)
        self.rsbs.append(self.advance - x_max)
        self.extents.append(x_max)
        if self.vertical:
            tsb = round(self.v_origin - y_max)
            self.vmtx[name] = (self.v_advance, tsb)
            self.v_tsbs.append(tsb)
            self.v_bsbs.append(self.v_advance - tsb - (y_max - y_min))
            self.v_extents.append(tsb + (y_max - y_min))

    def finish(self) -> None:
        """head's bounding box, hhea's and vhea's maxima and minima, grown to take in the new glyphs."""
        head, hhea = self.font["head"], self.font["hhea"]
        if self.bounds:
            head.xMin = min(head.xMin, min(b[0] for b in self.bounds))
            head.yMin = min(head.yMin, min(b[1] for b in self.bounds))
            head.xMax = max(head.xMax, max(b[2] for b in self.bounds))
            head.yMax = max(head.yMax, max(b[3] for b in self.bounds))
        hhea.advanceWidthMax = max(hhea.advanceWidthMax, self.advance)
        if self.lsbs:
            hhea.minLeftSideBearing = min(hhea.minLeftSideBearing, min(self.lsbs))
            hhea.minRightSideBearing = min(hhea.minRightSideBearing, min(self.rsbs))
            hhea.xMaxExtent = max(hhea.xMaxExtent, max(self.extents))
        if self.vertical:
            vhea = self.font["vhea"]
            vhea.advanceHeightMax = max(vhea.advanceHeightMax, self.v_advance)
            if self.v_tsbs:
                vhea.minTopSideBearing = min(vhea.minTopSideBearing, min(self.v_tsbs))
                vhea.minBottomSideBearing = min(vhea.minBottomSideBearing, min(self.v_bsbs))
                vhea.yMaxExtent = max(vhea.yMaxExtent, max(self.v_extents))


class DeviceTables:
    """hdmx and LTSH, indexed by glyph ID: read before the glyph order changes, given linear entries for the
    unhinted new glyphs after."""

    def __init__(self, font: TTFont):
        self.hdmx = self.y_pels = None
        if "hdmx" in font:
            table = font["hdmx"]
            table.hdmx = self.hdmx = {ppem: dict(widths.items()) for ppem, widths in table.hdmx.items()}
        if "LTSH" in font:
            self.y_pels = font["LTSH"].yPels
        self.upem = font["head"].unitsPerEm

    def add(self, names: list[str], advance: int) -> None:
        for ppem, widths in (self.hdmx or {}).items():
            width = min(255, int(round(advance * ppem / self.upem)))
            for name in names:
                widths[name] = width
        if self.y_pels is not None:
            for name in names:
                self.y_pels[name] = 1


def export_font(
    source_path: str | Path,
    glyphs: Mapping[int, np.ndarray],
    out_path: str | Path,
    *,
    face: int = 0,
    family_name: str | None = None,
    force: bool = False,
    params: TraceParams = TraceParams(),
    replace_existing: bool = False,
    outlines: dict[int, GlyphOutline] | None = None,
    progress: bool = True,
) -> ExportReport:
    """Trace glyph images into new glyphs of the font at source_path and write out_path.

    Images are ink-positive uint8 squares in the font's em frame (render.frame_for_font), any
    size. Characters the font already maps are skipped unless replace_existing, in which case the
    codepoint is remapped to a new glyph (the old glyph stays, unmapped by that codepoint). A glyph with an
    outline in `outlines` made with the same image (composition's moved contours, `read_glyph_outlines`)
    takes that outline instead of a tracing of its image.
    The steps: check the request, trace each image into the outline format's writer (with its metrics),
    append the new glyphs to the glyph order, then the post-steps (outline tables, metrics, device
    tables, cmap, OS/2, names, dropped tables), and write through a temporary file, validated.
    """
    started = time.perf_counter()
    source, out = Path(source_path), Path(out_path)
    glyphs = _check_images(glyphs)
    if not glyphs:
        raise FontgenError("no glyphs to export")
    _check_output(source, out)
    font = open_font(source, face)
    is_cff = _check_source(font, source, force)
    skipped, replaced, todo = _additions(font, list(glyphs), replace_existing, source)
    order = list(font.getGlyphOrder())
    frame = frame_for_font(font)
    writer = (CffWriter if is_cff else GlyfWriter)(font, order, len(todo))
    metrics = NewGlyphMetrics(font, frame, is_cff)
    device_tables = DeviceTables(font)
    taken, new_names, empty = set(order), [], []
    outlines = outlines or {}
    from_outlines = partly_traced = 0
    for codepoint in _progress(todo, progress):
        name = writer.name(codepoint, taken)
        taken.add(name)
        draw, moved, traced, blank = _glyph_drawing(glyphs[codepoint], outlines.get(codepoint), frame, params,
                                                    writer.curve_format, codepoint, source)
        if blank:
            empty.append(codepoint)
        from_outlines, partly_traced = from_outlines + moved, partly_traced + (moved and traced)
        metrics.add(name, writer.add(name, draw, frame.advance, may_overlap=moved))
        new_names.append(name)

    new_order = order + new_names  # new glyphs at the end
    font.setGlyphOrder(new_order)
    writer.finish(new_order, metrics.bounds)
    metrics.finish()
    device_tables.add(new_names, frame.advance)
    _update_cmap(font, dict(zip(todo, new_names)), source)
    _update_os2_ranges(font, todo)
    new_family, _, _ = _rename(font, family_name)
    dropped = [tag for tag in DROPPED_TABLES if tag in font]
    for tag in dropped:
        del font[tag]
    # Existing glyph data must be written as read: no bounding-box recalculation (which would
    # expand and recompile every glyph); the new glyphs carry their own bounds.
    font.recalcBBoxes = False
    font.flavor = None
    _write(font, out, todo, list(range(len(order), len(new_order))))
    return ExportReport(
        added=len(todo), skipped=skipped, output=out, seconds=time.perf_counter() - started,
        replaced=replaced, empty=empty, dropped_tables=dropped, family_name=new_family, from_outlines=from_outlines,
        partly_traced=partly_traced,
    )


def _additions(font: TTFont, codepoints: list[int], replace_existing: bool,
               source: Path) -> tuple[list[int], list[int], list[int]]:
    """The requested characters the font already maps and keeps (skipped) or remaps (replaced), and those to
    add; refused when nothing is to be added or the glyphs would pass the OpenType limit."""
    cmap = font.getBestCmap() or {}
    skipped = [cp for cp in codepoints if cp in cmap and not replace_existing]
    replaced = [cp for cp in codepoints if cp in cmap and replace_existing]
    todo = [cp for cp in codepoints if cp not in cmap or replace_existing]
    if not todo:
        raise FontgenError(f"{source}: nothing to add, the font already has all {len(codepoints)} characters")
    count = len(font.getGlyphOrder())
    if count + len(todo) > MAX_GLYPHS:
        raise FontgenError(f"{source}: the font has {count:,} glyphs; adding {len(todo):,} would pass the OpenType "
                           f"limit of {MAX_GLYPHS:,}")
    return skipped, replaced, todo


def _progress(codepoints: list[int], shown: bool):
    if not shown:
        return codepoints
    from tqdm import tqdm

    return tqdm(codepoints, desc="vectorizing", unit="glyph", leave=False)


def _glyph_drawing(image: np.ndarray, outline: GlyphOutline | None, frame: EmFrame, params: TraceParams,
                   curve_format: str, codepoint: int, source: Path):
    """How a new glyph is drawn, (draw callable, moved, partly traced, empty): the outline made with this very
    image (its contours, the rest of its ink traced), else a tracing of the image."""
    if outline is not None and outline.contours and outline.image_sha == image_digest(image):
        contours = _outline_contours(outline, frame, params, curve_format, codepoint, source)
        return partial(draw_outline, contours), True, outline.traced is not None, False
    contours = trace_contours(image, frame, params, curve_format)
    return partial(draw_contours, contours), False, False, not contours


def _outline_contours(outline: GlyphOutline, frame: EmFrame, params: TraceParams, curve_format: str,
                      codepoint: int, source: Path) -> list:
    """A glyph's moved contours in the font's frame and format, with the ink of its other jamo traced and added."""
    contours = outline.fitted(frame, curve_format)
    ink = outline.ink_to_trace()
    if ink is not None:
        traced = RecordingPen()
        draw_contours(trace_contours(ink, outline.frame, params, curve_format), traced)
        contours += fit_contours(split_contours(traced.value), outline.frame, frame, curve_format, curve_format)
    bounds = drawing_bounds(partial(draw_outline, contours))
    if bounds is None or max(abs(v) for v in bounds) > MAX_COORDINATE:
        raise FontgenError(f"U+{codepoint:04X}: its outline does not fit the coordinates of {source}")
    return contours


def _check_output(source: Path, out: Path) -> None:
    """A plain TTF/OTF name, not the source itself, in a folder that can be written."""
    if out.suffix.lower() in (".woff", ".woff2", ".ttc", ".otc"):
        raise FontgenError(f"{out}: the new font is written as a plain TTF/OTF file; give it a .ttf or .otf name")
    try:
        if out.resolve() == source.resolve():
            raise FontgenError(f"{out}: would overwrite the source font; write to another file")
    except OSError:
        pass
    _check_output_location(out)


def _check_source(font: TTFont, source: Path, force: bool) -> bool:
    """A static font with glyf or CFF outlines whose license bits allow changes (or `force`); True for CFF."""
    if "fvar" in font or "CFF2" in font:
        raise FontgenError(f"{source}: variable fonts are not supported; export into a static instance")
    is_cff = "CFF " in font
    if not is_cff and "glyf" not in font:
        raise FontgenError(f"{source}: the font has no glyf or CFF outlines")
    fs_type = font["OS/2"].fsType if "OS/2" in font else 0
    if fs_type & 0x0002 and not force:
        raise FontgenError(
            f"{source}: its license bits (fsType) forbid modification; pass --force if you hold the rights"
        )
    return is_cff


def _update_os2_ranges(font: TTFont, codepoints: list[int]) -> None:
    """OS/2 says the font covers Hangul syllables (and the Korean code pages) once it has any."""
    if "OS/2" in font and any(glyph_data.is_syllable(cp) for cp in codepoints):
        os2 = font["OS/2"]
        os2.ulUnicodeRange2 |= 1 << (UNICODE_RANGE_HANGUL_SYLLABLES - 32)
        if os2.version >= 1:
            os2.ulCodePageRange1 |= (1 << CODEPAGE_KOREAN_WANSUNG) | (1 << CODEPAGE_KOREAN_JOHAB)


def _update_cmap(font: TTFont, mapping: dict[int, str], source: Path) -> None:
    """Map new codepoints in every Unicode format 4 and format 12 subtable (format 12 made if needed)."""
    from fontTools.ttLib.tables._c_m_a_p import CmapSubtable

    table = font["cmap"]
    bmp = {cp: name for cp, name in mapping.items() if cp <= 0xFFFF}
    unicode_tables = [t for t in table.tables if t.isUnicode()]
    format4 = [t for t in unicode_tables if t.format == 4]
    format12 = [t for t in unicode_tables if t.format == 12]
    need_full = len(bmp) < len(mapping)
    before = {id(t): dict(t.cmap) for t in format4}
    for sub in format4:
        sub.cmap.update(bmp)
    overflow = False
    for sub in format4:
        try:
            sub.compile(font)
        except struct.error:
            overflow = True
    if overflow:
        # Format 4 tops out at 64 KiB; keep it as it was and carry everything in format 12.
        for sub in format4:
            sub.cmap.clear()
            sub.cmap.update(before[id(sub)])
        need_full = True
    for sub in format12:
        sub.cmap.update(mapping)
    if not format4 and not format12:
        sub = CmapSubtable.newSubtable(4)
        sub.platformID, sub.platEncID, sub.language = 3, 1, 0
        sub.cmap = {cp: name for cp, name in (font.getBestCmap() or {}).items() if cp <= 0xFFFF}
        sub.cmap.update(bmp)
        table.tables.append(sub)
        format4 = [sub]
    if need_full and not format12:
        best = {}
        for sub in unicode_tables:
            best.update(sub.cmap)
        best.update(mapping)
        sub = CmapSubtable.newSubtable(12)
        sub.platformID, sub.platEncID, sub.language = 3, 10, 0
        sub.cmap = best
        table.tables.append(sub)


def _check_output_location(out: Path) -> Path:
    """Fail before any work when the output cannot be written there; returns its folder."""
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise FontgenError(f"{out}: cannot write here, {folder} is not an existing folder")
    if out.is_dir():
        raise FontgenError(f"{out}: is a folder; give a font file name")
    return folder


def _write(font: TTFont, out: Path, codepoints: list[int], glyph_ids: list[int]) -> None:
    """Save to a temporary file beside out, validate it, then move it into place."""
    _check_output_location(out)
    buffer = io.BytesIO()
    try:
        font.save(buffer, reorderTables=True)
    except FontgenError:
        raise
    except Exception as error:
        raise FontgenError(f"{out}: could not build the font ({type(error).__name__}: {error})") from None
    try:
        with atomic_path(out) as temp:
            temp.write_bytes(buffer.getvalue())
            try:
                validate_with_ots(temp)
            except FontgenError as error:
                raise FontgenError(str(error).replace(temp.name, out.name)) from None
            sample = list(range(0, len(codepoints), max(1, len(codepoints) // 50)))[:50]
            _check_readable(temp, str(out), [codepoints[i] for i in sample], [glyph_ids[i] for i in sample])
    except OSError as error:
        raise FontgenError(f"{out}: cannot write the font ({error.strerror or error})") from None
