"""Bitmap -> outline: round trips on real Nanum glyphs, holes, contour direction, clean points."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from fontTools.cffLib import PrivateDict
from fontTools.pens.areaPen import AreaPen
from fontTools.pens.recordingPen import RecordingPen
from skimage.measure import label

import glyph_data
from fontgen.render import GlyphRenderer
from fontgen.vectorize import (
    TraceParams,
    charstring_for_cff,
    draw_contours,
    glyph_for_ttf,
    roundtrip_iou,
    trace_contours,
)

NANUM_GOTHIC = Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf")
NANUM_MYEONGJO = Path("/usr/share/fonts/truetype/nanum/NanumMyeongjo.ttf")

pytestmark = pytest.mark.skipif(
    not (NANUM_GOTHIC.exists() and NANUM_MYEONGJO.exists()), reason="fonts-nanum is not installed"
)

# 15 KS X 1001 syllables per font, fixed seed, plus two with holes and many strokes.
SAMPLE = sorted(random.Random(7).sample(glyph_data.ksx1001_syllables(), 13) + [ord("앙"), ord("뷁")])
ANG = ord("앙")


@pytest.fixture(scope="module")
def gothic():
    return GlyphRenderer(NANUM_GOTHIC, size_px=128)


def _contours_from_recording(recording: RecordingPen) -> list[list[tuple[str, tuple]]]:
    contours, current = [], []
    for op, args in recording.value:
        if op == "moveTo":
            current = [(op, args)]
        elif op in ("closePath", "endPath"):
            contours.append(current)
        else:
            current.append((op, args))
    return contours


def _glyf_contours(glyph):
    coords, ends, _ = glyph.getCoordinates(None)
    start, out = 0, []
    for end in ends:
        out.append([tuple(coords[i]) for i in range(start, end + 1)])
        start = end + 1
    return out


def _enclosed_paper(image: np.ndarray) -> np.ndarray:
    """Labels of paper regions that do not touch the border (counters, like the inside of ㅇ)."""
    labels = label(image < 128, connectivity=1)
    border = set(np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])))
    return np.array([k for k in np.unique(labels) if k and k not in border])


@pytest.mark.parametrize("font", [NANUM_GOTHIC, NANUM_MYEONGJO], ids=["gothic", "myeongjo"])
def test_roundtrip_iou_at_128px(font):
    smooth = roundtrip_iou(font, 0, SAMPLE, size_px=128, params=TraceParams(upscale_to=384))
    assert set(smooth) == set(SAMPLE)
    values = np.array(list(smooth.values()))
    assert values.mean() >= 0.97, values
    assert values.min() >= 0.95, values
    # Tracing the 128 px bitmap as it is (the default) stays close, if less exact.
    plain = np.array(list(roundtrip_iou(font, 0, SAMPLE, size_px=128).values()))
    assert plain.mean() >= 0.94, plain
    assert plain.min() >= 0.92, plain


def test_64px_input_with_smoothing_stays_close():
    cps = SAMPLE[:10]
    plain = np.array(list(roundtrip_iou(NANUM_MYEONGJO, 0, cps, size_px=64).values()))
    smooth = np.array(list(roundtrip_iou(NANUM_MYEONGJO, 0, cps, size_px=64, params=TraceParams(upscale_to=256)).values()))
    assert smooth.mean() >= 0.95, smooth
    assert smooth.mean() > plain.mean()


def test_missing_codepoints_are_left_out():
    result = roundtrip_iou(NANUM_GOTHIC, 0, [0xAC00, 0x10FFFD], size_px=64)
    assert list(result) == [0xAC00]


def test_hole_is_kept(gothic):
    image = gothic.render(ANG)
    holes = _enclosed_paper(image)
    assert len(holes) == 2  # the two ㅇ of 앙
    glyph = glyph_for_ttf(image, gothic.frame)
    areas = _contour_areas(lambda pen: glyph.draw(pen, None))
    assert sum(a > 0 for a in areas) == 2  # two counter-clockwise holes in TrueType
    assert sum(a < 0 for a in areas) >= 3  # ㅇ, ㅏ, ㅇ outside

    # The traced outline rendered again: the counters are still open where they were.
    again = roundtrip_iou(NANUM_GOTHIC, 0, [ANG], size_px=128)
    assert again[ANG] > 0.95
    traced = _rasterize(glyph, gothic.frame, 128)
    labels = label(image < 128, connectivity=1)
    for hole in holes:
        ys, xs = np.nonzero(labels == hole)
        cy, cx = int(np.median(ys)), int(np.median(xs))
        assert image[cy, cx] < 128 and traced[cy, cx] < 128
    assert len(_enclosed_paper(traced)) == 2


def _rasterize(glyph, frame, size_px: int) -> np.ndarray:
    """A TrueType glyph drawn by FreeType in the frame it was traced in (uint8 ink)."""
    from fontTools.pens.freetypePen import FreeTypePen

    pen = FreeTypePen(None)
    glyph.draw(pen, None)
    s = size_px / frame.size
    coverage = pen.array(width=size_px, height=size_px, transform=(s, 0, 0, s, -frame.left * s, -frame.bottom * s))
    return (np.clip(coverage, 0, 1) * 255).astype(np.uint8)


def _contour_areas(draw) -> list[float]:
    """Exact signed area of each contour (positive: counter-clockwise, y up)."""
    recording = RecordingPen()
    draw(recording)
    areas = []
    for contour in _contours_from_recording(recording):
        pen = AreaPen()
        for op, args in contour:
            getattr(pen, op)(*args)
        pen.closePath()
        areas.append(pen.value)
    return areas


@pytest.mark.parametrize("codepoint", [ANG, ord("뷁"), ord("한")])
def test_outer_contours_clockwise_for_ttf_counter_clockwise_for_otf(gothic, codepoint):
    image = gothic.render(codepoint)
    glyph = glyph_for_ttf(image, gothic.frame)
    ttf = _contour_areas(lambda pen: glyph.draw(pen, None))
    assert max(ttf, key=abs) < 0  # outer contours clockwise

    charstring = charstring_for_cff(image, gothic.frame, TraceParams(), PrivateDict(), [], 1000)
    otf = _contour_areas(charstring.draw)
    assert max(otf, key=abs) > 0  # outer contours counter-clockwise
    # The same outline traversed the other way (up to the quadratic conversion), holes included.
    assert len(otf) == len(ttf)
    assert sorted(-a for a in otf) == pytest.approx(sorted(ttf), rel=0.01)
    if codepoint == ANG:
        assert sum(a < 0 for a in otf) == 2 and sum(a > 0 for a in ttf) == 2


def test_points_are_integers_without_duplicates_or_zero_length_segments(gothic):
    for codepoint in SAMPLE:
        recording = RecordingPen()
        draw_contours(trace_contours(gothic.render(codepoint), gothic.frame, TraceParams(), "otf"), recording)
        assert recording.value
        for contour in _contours_from_recording(recording):
            current = contour[0][1][0]
            start = current
            for op, args in contour[1:]:
                for x, y in args:
                    assert isinstance(x, int) and isinstance(y, int)
                assert args[-1] != current, (op, args)  # no zero-length segment
                if op == "lineTo":
                    assert args[-1] != start or contour[-1] != (op, args)  # closing line left to closePath
                current = args[-1]
        glyph = glyph_for_ttf(gothic.render(codepoint), gothic.frame)
        for contour in _glyf_contours(glyph):
            assert len(contour) >= 3
            assert all(contour[i] != contour[i - 1] for i in range(len(contour)))


def test_traced_glyph_lands_where_the_font_glyph_is(gothic):
    from fontgen.fonts import open_font

    font = open_font(NANUM_GOTHIC)
    name = font.getBestCmap()[ord("한")]
    original = font["glyf"][name]
    traced = glyph_for_ttf(gothic.render(ord("한")), gothic.frame)
    one_pixel = gothic.frame.size / 128
    for attr in ("xMin", "yMin", "xMax", "yMax"):
        assert abs(getattr(traced, attr) - getattr(original, attr)) <= 1.5 * one_pixel, attr


def test_blank_image_gives_empty_glyph(gothic):
    blank = np.zeros((128, 128), np.uint8)
    glyph = glyph_for_ttf(blank, gothic.frame)
    assert glyph.numberOfContours == 0
    recording = RecordingPen()
    draw_contours(trace_contours(blank, gothic.frame, TraceParams(), "ttf"), recording)
    assert recording.value == []
