"""Glyph -> grayscale image in a fixed frame derived from the font's em box (FreeType).

The frame is the same for every glyph of a font, so where a glyph sits inside the em is kept:
placement is part of a style, and a generated glyph lands where the font's own glyphs sit.
Images are uint8 arrays, 0 = paper and 255 = ink, row 0 at the top.
"""
from __future__ import annotations

import ctypes
import io
import statistics
from dataclasses import dataclass
from pathlib import Path

import freetype
import numpy as np
from fontTools.ttLib import TTFont
from PIL import Image

import glyph_data
from fontgen.errors import FontgenError
from fontgen.fonts import open_font, sfnt_bytes


@dataclass(frozen=True)
class EmFrame:
    """A square window onto the glyph plane, in font units.

    size is the em (units per em); bottom is where the em's lower edge falls (the font's descent,
    taken from its typographic metrics scaled to one em); left centres the em on the font's usual
    Hangul advance.
    """

    units_per_em: int
    left: float
    bottom: float
    size: float
    advance: int

    def scale(self, size_px: int) -> float:
        """Pixels per font unit at this image size."""
        return size_px / self.size

    def to_pixels(self, x: float, y: float, size_px: int) -> tuple[float, float]:
        """Font units -> pixel coordinates (x right, y down, origin at the image's top-left corner)."""
        s = self.scale(size_px)
        return (x - self.left) * s, (self.bottom + self.size - y) * s

    def to_units(self, px: float, py: float, size_px: int) -> tuple[float, float]:
        """Pixel coordinates (x right, y down) -> font units."""
        s = self.scale(size_px)
        return px / s + self.left, self.bottom + self.size - py / s


def typical_hangul_advance(font: TTFont) -> int:
    """The median advance width of the font's Hangul syllables (the em when it has none)."""
    cmap = font.getBestCmap() or {}
    hmtx = font["hmtx"]
    advances = [hmtx[cmap[c]][0] for c in cmap if glyph_data.is_syllable(c)]
    if not advances:
        return font["head"].unitsPerEm
    return int(statistics.median(advances))


def frame_for_font(font: TTFont) -> EmFrame:
    """The em frame of a font, from its units per em, vertical metrics and Hangul advance."""
    upem = font["head"].unitsPerEm
    ascent, descent = 0, 0
    if "OS/2" in font:
        ascent, descent = font["OS/2"].sTypoAscender, font["OS/2"].sTypoDescender
    if ascent <= 0 or descent >= 0 or ascent - descent <= 0:
        ascent, descent = font["hhea"].ascent, font["hhea"].descent
    if ascent <= 0 or descent >= 0:
        ascent, descent = round(upem * 0.88), -round(upem * 0.12)
    # The em box sits where the typographic ascent/descent put it, scaled to exactly one em.
    bottom = upem * descent / (ascent - descent)
    advance = typical_hangul_advance(font)
    left = (advance - upem) / 2
    return EmFrame(units_per_em=upem, left=float(left), bottom=float(bottom), size=float(upem), advance=advance)


_LOAD_FLAGS = freetype.FT_LOAD_NO_HINTING | freetype.FT_LOAD_NO_BITMAP | freetype.FT_LOAD_RENDER


class GlyphRenderer:
    """Renders a font's characters into its em frame at one image size."""

    def __init__(self, path: str | Path, size_px: int = 64, face: int = 0, frame: EmFrame | None = None):
        self.path = Path(path)
        self.size_px = int(size_px)
        font = open_font(self.path, face, lazy=True)
        self.frame = frame or frame_for_font(font)
        self.cmap = font.getBestCmap() or {}
        data = sfnt_bytes(self.path, face)
        scale = self.frame.scale(self.size_px)
        ppem = self.frame.units_per_em * scale
        try:
            self.face = freetype.Face(io.BytesIO(data), index=face)
            self.face.set_char_size(int(round(ppem * 64)))
        except freetype.FT_Exception as error:
            raise FontgenError(f"{self.path}: FreeType cannot read this font ({error})") from None
        # Freetype places the pen origin; we split it into whole pixels and a 26.6 sub-pixel shift.
        origin_x, origin_y = self.frame.to_pixels(0.0, 0.0, self.size_px)
        self._ix, self._iy = int(np.floor(origin_x)), int(np.floor(origin_y))
        delta = freetype.FT_Vector(int(round((origin_x - self._ix) * 64)), -int(round((origin_y - self._iy) * 64)))
        self.face.set_transform(freetype.FT_Matrix(0x10000, 0, 0, 0x10000), delta)

    def has(self, codepoint: int) -> bool:
        """True when the font's cmap maps this character."""
        return codepoint in self.cmap

    def render(self, codepoint: int) -> np.ndarray:
        """One character as a (size_px, size_px) uint8 image; blank when the font lacks it."""
        if codepoint not in self.cmap:
            return np.zeros((self.size_px, self.size_px), dtype=np.uint8)
        return self._render_index(self.face.get_char_index(int(codepoint)))

    def _render_index(self, glyph_index: int) -> np.ndarray:
        """One glyph, by its index in the font, as a (size_px, size_px) uint8 image."""
        canvas = np.zeros((self.size_px, self.size_px), dtype=np.uint8)
        try:
            self.face.load_glyph(glyph_index, _LOAD_FLAGS)
        except freetype.FT_Exception as error:  # the font check drew it at another size: damage shows per size
            raise FontgenError(f"{self.path}: glyph {glyph_index} cannot be drawn by FreeType at "
                               f"{self.size_px} px ({error})") from None
        slot = self.face.glyph
        bitmap = slot.bitmap._FT_Bitmap
        rows, width, pitch = bitmap.rows, bitmap.width, bitmap.pitch
        if rows == 0 or width == 0:
            return canvas
        buffer = ctypes.cast(bitmap.buffer, ctypes.POINTER(ctypes.c_ubyte * (rows * abs(pitch)))).contents
        pixels = np.frombuffer(buffer, dtype=np.uint8).reshape(rows, abs(pitch))[:, :width]
        top = self._iy - slot.bitmap_top
        left = self._ix + slot.bitmap_left
        y0, x0 = max(top, 0), max(left, 0)
        y1, x1 = min(top + rows, self.size_px), min(left + width, self.size_px)
        if y1 > y0 and x1 > x0:
            canvas[y0:y1, x0:x1] = pixels[y0 - top:y1 - top, x0 - left:x1 - left]
        return canvas

    def render_many(self, codepoints) -> np.ndarray:
        """Characters as a (n, size_px, size_px) uint8 array."""
        codepoints = list(codepoints)
        out = np.zeros((len(codepoints), self.size_px, self.size_px), dtype=np.uint8)
        for i, codepoint in enumerate(codepoints):
            out[i] = self.render(codepoint)
        return out


def ink_to_png_pixels(image: np.ndarray) -> np.ndarray:
    """Ink-positive uint8 -> black-on-white pixels for PNG files."""
    return 255 - image


FINISH_SIZE = 128  # the size drawings are finished at: generate's PNGs, eval's scores, learn's ink level
INK_LEVEL = 0.5  # the gray level (0..1 of full ink) taken as a drawn glyph's edge, unless a style says otherwise
# Steepness of a finished glyph's edge: about one pixel of anti-aliasing, as a rendered glyph has. Chosen as the
# finish that best restores train fonts' 128 px glyphs from their 64 px renders (benchmarks/finish_edges.py).
EDGE_CONTRAST = 2.0


def crisp(images: np.ndarray, ink_level: float = INK_LEVEL, contrast: float = EDGE_CONTRAST) -> np.ndarray:
    """Make gray `ink_level` the edge of uint8 glyphs and steepen the ink/paper transition around it.

    Glyphs are two-tone with anti-aliased edges; a few-step sampler leaves soft, gray edges where
    the model is unsure. Values are pushed away from the ink level by `contrast` (more where the level
    sits so near ink or paper that full ink or bare paper would otherwise come out gray); a higher
    level makes soft strokes thinner, a lower one bolder.
    """
    slope = max(contrast, 0.5 / (1.0 - ink_level), 0.5 / ink_level)
    x = images.astype(np.float32) / 255.0
    return (np.clip((x - ink_level) * slope + 0.5, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def finish_glyphs(drawn: np.ndarray, size: int, ink_level: float = INK_LEVEL) -> np.ndarray:
    """Model drawings (uint8 at the model's size) -> crisp glyphs at `size` px, as written to PNG; gray at
    `ink_level` (a style's, see `ink_level.choose_ink_level`) becomes the ink edge."""
    # Resized while still soft: steepening first would turn the model's pixels into steps on the edge.
    return crisp(resize_soft(drawn, size), ink_level)


def resize_soft(drawn: np.ndarray, size: int) -> np.ndarray:
    """Soft uint8 drawings resized to `size` px (Lanczos), before their edge is made (see `finish_glyphs`)."""
    if drawn.shape[-1] == size:
        return drawn
    return np.stack([np.asarray(Image.fromarray(g).resize((size, size), Image.Resampling.LANCZOS)) for g in drawn])


def similarity(real: np.ndarray, drawn: np.ndarray) -> dict:
    """Mean IoU (see `ink_iou`), SSIM and RMSE (0..1 intensities) over pairs of uint8 glyphs of one size."""
    from skimage.metrics import structural_similarity

    pairs = list(zip(real, drawn))
    return {"iou": float(np.mean([ink_iou(a, b) for a, b in pairs])),
            "ssim": float(np.mean([structural_similarity(a, b, data_range=255) for a, b in pairs])),
            "rmse": float(np.mean([np.sqrt(np.mean(((a.astype(np.float32) - b.astype(np.float32)) / 255.0) ** 2))
                                   for a, b in pairs]))}


def ink_iou(a: np.ndarray, b: np.ndarray, threshold: int = 128) -> float:
    """Intersection over union of two glyph images binarized at threshold (1.0 when both are blank)."""
    a, b = np.asarray(a) >= threshold, np.asarray(b) >= threshold
    union = np.logical_or(a, b).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(a, b).sum() / union)
