"""Bitmap -> outline with potrace, in font units of the frame the bitmap was rendered in.

A glyph image (uint8, 0 = paper, 255 = ink, row 0 on top) is thresholded, traced by potrace into
cubic Bezier contours, mapped back to font units with EmFrame.to_units (so a traced glyph lands
exactly where a rendered one came from), rounded to integers and cleaned (no zero-length segments,
no doubled or collinear in-between points). Contours are oriented for the target format: outer
contours clockwise for TrueType, counter-clockwise for CFF; holes the other way.
"""
from __future__ import annotations

import io
import math
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import potracecffi
from fontTools.pens.areaPen import AreaPen
from fontTools.pens.boundsPen import BoundsPen
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.recordingPen import RecordingPen
from fontTools.pens.reverseContourPen import ReverseContourPen
from fontTools.pens.t2CharStringPen import T2CharStringPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from PIL import Image

from fontgen.errors import FontgenError
from fontgen.render import EmFrame, GlyphRenderer, ink_iou

OUTLINE_FORMATS = ("ttf", "otf")

# Quadratic conversion tolerance for TrueType outlines, in font units.
CU2QU_MAX_ERR = 1.0


@dataclass(frozen=True)
class TraceParams:
    """How a bitmap is traced.

    turdsize: speckles of at most this many pixels are dropped. alphamax: potrace's corner
    threshold (0 = all corners, 1.334 = no corners). opttolerance: curve optimisation tolerance.
    threshold: ink level (0..255) at or above which a pixel counts as ink. upscale_to: when set and
    larger than the image, the grayscale image is first resized to this many pixels (bicubic), so
    that small (64/96 px) bitmaps give smooth outlines instead of staircases.
    """

    turdsize: int = 2
    alphamax: float = 1.0
    opttolerance: float = 0.2
    threshold: int = 128
    upscale_to: int | None = None


# A contour is a cyclic list of segments; each segment is ("L", (end,)) or ("C", (c1, c2, end))
# with integer (x, y) points in font units. A segment starts where the previous one ends, so the
# contour starts (and ends) at the end point of its last segment.
Point = tuple[int, int]
Segment = tuple[str, tuple[Point, ...]]
Contour = list[Segment]


def _check_image(image) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 2 or image.shape[0] != image.shape[1] or image.shape[0] == 0:
        raise FontgenError(f"glyph image must be a square 2-D array, got shape {image.shape}")
    if image.dtype != np.uint8:
        if image.dtype == bool:
            image = image.astype(np.uint8) * 255
        else:
            image = np.clip(image, 0, 255).astype(np.uint8)
    return image


def _bitmap(image: np.ndarray, params: TraceParams) -> np.ndarray:
    """Thresholded (optionally upsampled) ink mask, C-contiguous bool."""
    size = image.shape[0]
    if params.upscale_to and params.upscale_to > size:
        target = int(params.upscale_to)
        image = np.asarray(Image.fromarray(image, mode="L").resize((target, target), Image.BICUBIC))
    return np.ascontiguousarray(image >= params.threshold)


def _round(value: float) -> int:
    return int(math.floor(value + 0.5))


def _signed_area(contour: Contour) -> float:
    """The area the contour encloses (fontTools' AreaPen; positive: counter-clockwise, y up)."""
    pen = AreaPen()
    draw_contours([contour], pen)
    return pen.value


def _reverse(contour: Contour) -> Contour:
    """The same contour traversed the other way, keeping its start point (fontTools' ReverseContourPen)."""
    recording = RecordingPen()
    draw_contours([contour], ReverseContourPen(recording))
    start = recording.value[0][1][0]
    reversed_contour: Contour = []
    for operator, points in recording.value[1:]:
        if operator == "lineTo":
            reversed_contour.append(("L", tuple(points)))
        elif operator == "curveTo":
            reversed_contour.append(("C", tuple(points)))
    if reversed_contour[-1][1][-1] != start:
        reversed_contour.append(("L", (start,)))  # the closing line the pen leaves to closePath
    return reversed_contour


def _between_on_line(a: Point, b: Point, c: Point) -> bool:
    """True when b lies on segment a-c (within half a unit), so a->b->c is one straight line."""
    (ax, ay), (bx, by), (cx, cy) = a, b, c
    dx, dy = cx - ax, cy - ay
    length2 = dx * dx + dy * dy
    if length2 == 0:
        return False
    cross = (bx - ax) * dy - (by - ay) * dx
    if cross * cross > 0.25 * length2:  # distance from the line > 0.5 unit
        return False
    dot = (bx - ax) * dx + (by - ay) * dy
    return 0 < dot < length2


def _clean(contour: Contour) -> Contour:
    """Drop zero-length segments, degenerate curves and collinear points between two lines."""
    if not contour:
        return []
    kept: Contour = []
    previous = contour[-1][1][-1]
    for kind, pts in contour:
        end = pts[-1]
        if end == previous and (kind == "L" or all(p == end for p in pts)):
            continue  # zero length
        if kind == "C" and pts[0] == previous and pts[1] == end:
            kind, pts = "L", (end,)  # handles on the end points: a straight line
        kept.append((kind, pts))
        previous = end
    if len(kept) < 2:
        return []
    start = kept[-1][1][-1]  # the last segment is never dropped below, so the start stays
    out: Contour = []
    for segment in kept:
        if segment[0] == "L":
            while out and out[-1][0] == "L":
                before = out[-2][1][-1] if len(out) >= 2 else start
                if _between_on_line(before, out[-1][1][0], segment[1][0]):
                    out.pop()
                else:
                    break
        out.append(segment)
    # The joints next to the start point.
    changed = True
    while changed and len(out) > 2:
        changed = False
        if out[-1][0] == "L" and out[0][0] == "L" and _between_on_line(out[-2][1][-1], out[-1][1][0], out[0][1][0]):
            out.pop()
            changed = True
        elif out[0][0] == "L" and out[1][0] == "L" and _between_on_line(out[-1][1][-1], out[0][1][0], out[1][1][0]):
            out.pop(0)
            changed = True
    if len(out) < 2 or (len(out) == 2 and out[0][0] == out[1][0] == "L"):
        return []  # a there-and-back line encloses nothing
    return out


def trace_contours(image, frame: EmFrame, params: TraceParams = TraceParams(),
                   outline_format: str = "ttf") -> list[Contour]:
    """Trace an ink-positive image into oriented, integer contours in the frame's font units."""
    if outline_format not in OUTLINE_FORMATS:
        raise ValueError(f"outline_format must be one of {OUTLINE_FORMATS}, not {outline_format!r}")
    image = _check_image(image)
    bitmap = _bitmap(image, params)
    if not bitmap.any():
        return []
    size_px = bitmap.shape[0]
    state = potracecffi.trace(
        bitmap, turdsize=int(params.turdsize), alphamax=float(params.alphamax),
        opttolerance=float(params.opttolerance),
    )
    # Pixel (x right, y down) -> font units, as EmFrame.to_units does.
    scale = frame.size / size_px
    left, top = frame.left, frame.bottom + frame.size
    corner_tag = potracecffi.CORNER
    contours: list[Contour] = []
    for path in potracecffi.iter_paths(state):
        curve = path.curve
        n = curve.n
        tags, c = curve.tag, curve.c
        contour: Contour = []
        for i in range(n):
            seg = c[i]
            p1, p2 = seg[1], seg[2]
            end = (_round(p2.x * scale + left), _round(top - p2.y * scale))
            if tags[i] == corner_tag:
                contour.append(("L", ((_round(p1.x * scale + left), _round(top - p1.y * scale)),)))
                contour.append(("L", (end,)))
            else:
                p0 = seg[0]
                contour.append(("C", (
                    (_round(p0.x * scale + left), _round(top - p0.y * scale)),
                    (_round(p1.x * scale + left), _round(top - p1.y * scale)),
                    end,
                )))
        contour = _clean(contour)
        if not contour:
            continue
        area = _signed_area(contour)
        if area == 0:
            continue
        outer = path.sign == ord("+")
        # y is up: positive area is counter-clockwise.
        want_ccw = (outline_format == "otf") == outer
        if (area > 0) != want_ccw:
            contour = _reverse(contour)
        contours.append(contour)
    return contours


def draw_contours(contours: list[Contour], pen) -> None:
    """Draw contours into a fontTools segment pen (the closing line is left to closePath)."""
    for contour in contours:
        pen.moveTo(contour[-1][1][-1])
        last = len(contour) - 1
        for i, (kind, pts) in enumerate(contour):
            if kind == "L":
                if i != last:
                    pen.lineTo(pts[0])
            else:
                pen.curveTo(*pts)
        pen.closePath()


def drawing_bounds(draw) -> tuple[int, int, int, int] | None:
    """Exact bounds of what `draw(pen)` draws, rounded outwards to whole units; None when it draws nothing."""
    pen = BoundsPen(None)
    draw(pen)
    if pen.bounds is None:
        return None
    x0, y0, x1, y1 = pen.bounds
    return math.floor(x0), math.floor(y0), math.ceil(x1), math.ceil(y1)


def ttglyph_from_contours(contours: list[Contour]):
    """Contours (ttf orientation) -> a simple glyf Glyph with quadratic curves and bounds set."""
    return ttglyph_from_drawing(partial(draw_contours, contours))


def ttglyph_from_drawing(draw) -> object:
    """A glyf Glyph (quadratic curves, bounds set) from `draw(pen)`, which draws an outline in TrueType
    orientation into a segment pen (cubic curves are converted, quadratic ones kept as they are)."""
    tt_pen = TTGlyphPen(None)
    draw(Cu2QuPen(tt_pen, max_err=CU2QU_MAX_ERR, reverse_direction=False))
    glyph = tt_pen.glyph()
    glyph.recalcBounds(None)
    return glyph


def glyph_for_ttf(image, frame: EmFrame, params: TraceParams = TraceParams()):
    """An image -> fontTools.ttLib.tables._g_l_y_f.Glyph (quadratic, outer contours clockwise)."""
    return ttglyph_from_contours(trace_contours(image, frame, params, "ttf"))


def charstring_from_contours(contours: list[Contour], private, global_subrs, width: int | None):
    """Contours (otf orientation) -> T2CharString; width is the advance in font units."""
    return charstring_from_drawing(partial(draw_contours, contours), private, global_subrs, width)


def charstring_from_drawing(draw, private, global_subrs, width: int | None):
    """`draw(pen)` (an outline in CFF orientation) -> T2CharString; width is the advance in font units.

    The advance is written relative to the private dict's nominalWidthX, or left out when it
    equals defaultWidthX, as the CFF spec asks.
    """
    encoded = None
    if width is not None and private is not None:
        default = getattr(private, "defaultWidthX", 0)
        nominal = getattr(private, "nominalWidthX", 0)
        if width != default:
            encoded = width - nominal
    elif width is not None:
        encoded = width
    pen = T2CharStringPen(encoded, None)
    draw(pen)
    return pen.getCharString(private=private, globalSubrs=global_subrs)


def charstring_for_cff(image, frame: EmFrame, params: TraceParams, private, global_subrs, width: int | None):
    """An image -> fontTools T2CharString (cubic, outer contours counter-clockwise)."""
    return charstring_from_contours(trace_contours(image, frame, params, "otf"), private, global_subrs, width)


def _roundtrip_font(glyphs: dict[int, object], frame: EmFrame) -> bytes:
    """A minimal TrueType font holding the traced glyphs, for re-rendering them."""
    from fontTools.fontBuilder import FontBuilder

    names = {cp: f"uni{cp:04X}" if cp <= 0xFFFF else f"u{cp:05X}" for cp in glyphs}
    builder = FontBuilder(frame.units_per_em, isTTF=True)
    order = [".notdef", *names.values()]
    builder.setupGlyphOrder(order)
    builder.setupCharacterMap({cp: name for cp, name in names.items()})
    empty = TTGlyphPen(None).glyph()
    glyf = {".notdef": empty, **{names[cp]: glyph for cp, glyph in glyphs.items()}}
    builder.setupGlyf(glyf)
    metrics = {name: (frame.advance, getattr(glyph, "xMin", 0)) for name, glyph in glyf.items()}
    builder.setupHorizontalMetrics(metrics)
    ascent = round(frame.bottom + frame.size)
    descent = round(frame.bottom)
    builder.setupHorizontalHeader(ascent=ascent, descent=descent)
    builder.setupNameTable({"familyName": "fontgen roundtrip", "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=ascent, sTypoDescender=descent, usWinAscent=max(ascent, 0),
                     usWinDescent=max(-descent, 0))
    builder.setupPost()
    buffer = io.BytesIO()
    builder.save(buffer)
    return buffer.getvalue()


def roundtrip_iou(font_path: str | Path, face: int = 0, codepoints=(), size_px: int = 128,
                  params: TraceParams = TraceParams()) -> dict[int, float]:
    """Render real glyphs, vectorize them, render the outlines again in the same frame: IoU each.

    Returns {codepoint: IoU of the two images binarized at 128}; codepoints the font lacks are
    left out.
    """
    renderer = GlyphRenderer(font_path, size_px=size_px, face=face)
    frame = renderer.frame
    wanted = [cp for cp in codepoints if renderer.has(cp)]
    if not wanted:
        return {}
    originals = {cp: renderer.render(cp) for cp in wanted}
    glyphs = {cp: glyph_for_ttf(image, frame, params) for cp, image in originals.items()}
    data = _roundtrip_font(glyphs, frame)
    with tempfile.TemporaryDirectory(prefix="fontgen-roundtrip-") as folder:
        path = Path(folder) / "roundtrip.ttf"
        path.write_bytes(data)
        again = GlyphRenderer(path, size_px=size_px, face=0, frame=frame)
        return {cp: ink_iou(originals[cp], again.render(cp)) for cp in wanted}
