"""Glyph outlines as the font draws them: read from a font, moved, written to and read from UFO glyph files.

An outline is a list of contours, each the fontTools pen calls that draw it (`RecordingPen` records:
moveTo / lineTo / curveTo / qCurveTo, then closePath), in font units, quadratic or cubic as the font
stores it. Composition moves a jamo's own contours where it moves the jamo's ink (`fontgen.compose`), so
a composed syllable keeps the designer's points instead of a tracing of them; generate writes each such
outline beside its PNG as a UFO glyph file (.glif), and export reads it back in place of tracing the image.
"""
from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from fontTools.pens.basePen import BasePen
from fontTools.pens.recordingPen import DecomposingRecordingPen, RecordingPen
from fontTools.pens.pointPen import PointToSegmentPen, SegmentToPointPen
from fontTools.pens.reverseContourPen import ReverseContourPen
from fontTools.pens.roundingPen import RoundingPen
from fontTools.pens.transformPen import TransformPen
from fontTools.ufoLib.errors import GlifLibError
from fontTools.ufoLib.glifLib import readGlyphFromString, writeGlyphToString
from PIL import Image, UnidentifiedImageError

from fontgen.errors import FontgenError
from fontgen.files import atomic_path, write_text_atomic
from fontgen.render import EmFrame

Contour = list  # [(operator, arguments), ...] as RecordingPen records them, one closed contour
OUTLINE_FORMATS = ("ttf", "otf")  # quadratic, outer contours clockwise / cubic, counter-clockwise
MAX_COORDINATE = 32767  # a glyf coordinate is a 16-bit integer


def glyph_outline(glyph_set, glyph_name: str) -> list[Contour]:
    """A glyph's contours, components decomposed, in font units."""
    pen = DecomposingRecordingPen(glyph_set)
    glyph_set[glyph_name].draw(pen)
    return split_contours(pen.value)


def component_outline(glyph_set, component) -> list[Contour]:
    """A composite glyph's component (fontTools GlyphComponent) as contours, where it sits in the composite."""
    pen = DecomposingRecordingPen(glyph_set)
    pen.addComponent(*component.getComponentInfo())
    return split_contours(pen.value)


def split_contours(value: list) -> list[Contour]:
    """Recorded pen calls cut into one list per contour (each ending in closePath or endPath)."""
    contours, current = [], []
    for operator, arguments in value:
        current.append((operator, tuple(arguments)))
        if operator in ("closePath", "endPath"):
            contours.append(current)
            current = []
    if current:
        contours.append(current + [("closePath", ())])
    return contours


def draw_outline(contours: list[Contour], pen) -> None:
    """Replay contours into any fontTools segment pen."""
    for contour in contours:
        for operator, arguments in contour:
            getattr(pen, operator)(*arguments)


def transformed(contours: list[Contour], matrix: tuple) -> list[Contour]:
    """Contours under an affine transform (xx, xy, yx, yy, dx, dy), as fontTools' TransformPen applies it."""
    pen = RecordingPen()
    draw_outline(contours, TransformPen(pen, matrix))
    return split_contours(pen.value)


def reversed_contours(contours: list[Contour]) -> list[Contour]:
    """Each contour drawn the other way round (TrueType and CFF wind their outer contours oppositely)."""
    pen = RecordingPen()
    draw_outline(contours, ReverseContourPen(pen))
    return split_contours(pen.value)


SAMPLES_PER_SEGMENT = 8


class _SegmentCollector(BasePen):
    """The segments drawn into it (lines, quadratic and cubic curves), the implied closing line included."""

    def __init__(self):
        super().__init__(None)
        self.segments = {1: [], 2: [], 3: []}  # by degree

    def _moveTo(self, point):
        self.start = point

    def _lineTo(self, point):
        self.segments[1].append((self._getCurrentPoint(), point))

    def _curveToOne(self, a, b, c):
        self.segments[3].append((self._getCurrentPoint(), a, b, c))

    def _qCurveToOne(self, a, b):
        self.segments[2].append((self._getCurrentPoint(), a, b))

    def _closePath(self):
        if self._getCurrentPoint() != self.start:
            self.segments[1].append((self._getCurrentPoint(), self.start))


def contour_points(contour: Contour) -> tuple[np.ndarray, np.ndarray]:
    """Points along one contour's path, SAMPLES_PER_SEGMENT on each segment ((n, 2) font units), and the length
    of path each stands for (n,)."""
    collector = _SegmentCollector()
    draw_outline([contour], collector)
    t = (np.arange(SAMPLES_PER_SEGMENT) + 0.5) / SAMPLES_PER_SEGMENT
    points, lengths = [], []
    for degree, segments in collector.segments.items():
        if not segments:
            continue
        nodes = np.array(segments, dtype=np.float64)  # (segments, degree + 1, 2)
        # Bernstein polynomials of the segment's degree, at the same t on every segment.
        basis = np.stack([math.comb(degree, i) * t ** i * (1 - t) ** (degree - i) for i in range(degree + 1)], 1)
        points.append(np.einsum("td,sdx->stx", basis, nodes).reshape(-1, 2))
        polygon = np.linalg.norm(np.diff(nodes, axis=1), axis=2).sum(axis=1)  # the control polygon's length
        lengths.append(np.repeat(polygon / SAMPLES_PER_SEGMENT, SAMPLES_PER_SEGMENT))
    if not points:
        return np.zeros((0, 2)), np.zeros(0)
    return np.concatenate(points), np.concatenate(lengths)


def frame_matrix(source: EmFrame, target: EmFrame) -> tuple:
    """The transform that puts an outline drawn in one em frame where the same ink sits in another."""
    k = target.size / source.size
    return (k, 0, 0, k, target.left - source.left * k, target.bottom - source.bottom * k)


# ---------------------------------------------------------------------------------------------
# An outline beside its glyph image: a UFO glyph file (.glif) export reads back, a type designer can open.

def image_digest(image: np.ndarray) -> str:
    """A short fingerprint of a glyph image's pixels: an outline is used only with the image it was made with,
    so an image edited by hand afterwards is traced, not replaced by a stale outline."""
    return hashlib.sha256(np.ascontiguousarray(image, dtype=np.uint8).tobytes()).hexdigest()[:16]


def fit_contours(contours: list[Contour], source: EmFrame, frame: EmFrame, source_format: str,
                 outline_format: str) -> list[Contour]:
    """Contours drawn in one em frame and outline format, where the same ink sits in another frame, wound as the
    other format winds them."""
    if (source.left, source.bottom, source.size) != (frame.left, frame.bottom, frame.size):
        contours = transformed(contours, frame_matrix(source, frame))
    if source_format != outline_format:  # the two formats wind their outer contours the other way round
        contours = reversed_contours(contours)
    return contours


@dataclass
class GlyphOutline:
    """A glyph's contours in the em frame and outline format of the font they were drawn in, the ink left to be
    traced (uint8, square, in the same frame; None: none), and the fingerprint of the image they belong with."""

    contours: list[Contour]
    frame: EmFrame
    outline_format: str
    image_sha: str
    traced: np.ndarray | Path | None = None  # a file is read when the ink is needed (thousands wait in export)

    def ink_to_trace(self) -> np.ndarray | None:
        """The ink of the jamo left to trace (None: none), read from its file if it is not in memory."""
        if isinstance(self.traced, Path):
            return _read_traced(self.traced)
        return self.traced

    def fitted(self, frame: EmFrame, outline_format: str) -> list[Contour]:
        """The contours where the same ink sits in another em frame, wound as `outline_format` winds them."""
        return fit_contours(self.contours, self.frame, frame, self.outline_format, outline_format)


class _GlifGlyph:
    """What glifLib reads and writes besides the points: the advance, the character, the lib and the image."""

    def __init__(self, width: float = 0, lib: dict | None = None, unicodes: list[int] | None = None,
                 image: dict | None = None):
        self.width, self.lib, self.unicodes, self.image = width, lib or {}, unicodes or [], image


LIB_KEY = "org.fontgen.outline"  # the em frame, outline format and image fingerprint, in the glyph's lib
TRACED_FOLDER = "traced"  # beside the .glif files: the ink of the jamo export traces, as a PNG per glyph


def outline_glif(outline: GlyphOutline, codepoint: int) -> str:
    """The GLIF text of a character's outline (points as the font has them: quadratic or cubic, implied on-curve
    points kept implied), with what `read_outline_glif` needs in its lib; the ink left to trace is named as the
    glyph's image (`traced/U+XXXX.png`, as a UFO editor shows a background image)."""
    frame = outline.frame
    lib = {LIB_KEY: {"unitsPerEm": frame.units_per_em, "left": frame.left, "bottom": frame.bottom,
                     "size": frame.size, "advance": frame.advance, "format": outline.outline_format,
                     "imageSHA256": outline.image_sha}}
    image = None if outline.traced is None else {"fileName": f"{TRACED_FOLDER}/U+{codepoint:04X}.png"}

    def draw_points(point_pen) -> None:  # to a hundredth of a unit: export rounds to whole units anyway
        draw_outline(outline.contours, RoundingPen(SegmentToPointPen(point_pen), roundFunc=_hundredths))

    return writeGlyphToString(f"uni{codepoint:04X}", _GlifGlyph(frame.advance, lib, [codepoint], image),
                              draw_points, validate=True)


def write_outline_glif(outline: GlyphOutline, codepoint: int, path: Path) -> None:
    """An outline's GLIF file (and the PNG of its ink left to trace, first), each written under a hidden name and
    renamed, so a killed run leaves none half written."""
    if outline.traced is not None:
        traced = path.parent / TRACED_FOLDER / f"U+{codepoint:04X}.png"
        traced.parent.mkdir(exist_ok=True)
        with atomic_path(traced) as partial:
            Image.fromarray(255 - outline.ink_to_trace()).save(partial, format="PNG")
    write_text_atomic(path, outline_glif(outline, codepoint))


def read_outline_glif(path: Path) -> GlyphOutline:
    """An outline written by `outline_glif`, with its ink left to trace; a file that is not such an outline is
    refused in one line."""
    glyph, recording = _GlifGlyph(), RecordingPen()
    try:
        readGlyphFromString(path.read_bytes(), glyph, PointToSegmentPen(recording), validate=True)
        info = glyph.lib[LIB_KEY]
        frame = EmFrame(int(info["unitsPerEm"]), float(info["left"]), float(info["bottom"]), float(info["size"]),
                        int(info["advance"]))
        outline_format, image_sha = info["format"], info["imageSHA256"]
        if outline_format not in OUTLINE_FORMATS or not re.fullmatch(r"[0-9a-f]{16}", str(image_sha)):
            raise ValueError("unknown format or fingerprint")
        if not all(math.isfinite(v) for v in (frame.left, frame.bottom, frame.size)) or not (
                16 <= frame.units_per_em <= 16384 and 16 <= frame.size <= 16384):
            raise ValueError("bad em frame")
        contours = split_contours(recording.value)
        if not all(math.isfinite(v) and abs(v) <= MAX_COORDINATE for contour in contours for _, arguments in contour
                   for point in arguments if point is not None for v in point):
            raise ValueError("a coordinate is not a number a font can hold")
        traced = None
        if glyph.image:
            name = glyph.image["fileName"]
            if not re.fullmatch(rf"{TRACED_FOLDER}/U\+[0-9A-Fa-f]{{4,6}}\.png", name):
                raise ValueError(f"image {name!r} is not in {TRACED_FOLDER}/")
            traced = path.parent / name
            if not traced.is_file():
                raise ValueError(f"{name} is missing")
    except (OSError, GlifLibError, KeyError, TypeError, ValueError) as error:
        raise FontgenError(f"{path}: not an outline fontgen wrote ({_first_line(error)})") from None
    return GlyphOutline(contours, frame, outline_format, image_sha, traced)


def _read_traced(path: Path) -> np.ndarray:
    """The ink of a glyph's jamo left to trace, from the PNG its .glif names; a damaged one is refused in a line."""
    try:
        with Image.open(path) as image:
            if image.size[0] != image.size[1] or not 16 <= image.size[0] <= 4096:
                raise ValueError("not a square image of 16 to 4096 px")
            return 255 - np.asarray(image.convert("L"), dtype=np.uint8)
    except (OSError, ValueError, UnidentifiedImageError) as error:
        raise FontgenError(f"{path}: not the ink of a glyph's jamo left to trace ({_first_line(error)})") from None


def _hundredths(value: float) -> float | int:
    rounded = round(float(value), 2)
    return int(rounded) if rounded.is_integer() else rounded


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
