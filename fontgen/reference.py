"""The content glyph: the reference font's syllable, fitted to a target font's layout.

For each layout class (vowel placement, with or without final) we compare where the target font's ink
sits with where the reference font's ink sits, over syllables both fonts have, and move and scale the
reference glyphs to match. The fitted reference is the model's content input and, on its own, the
honest baseline every model must beat.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

import glyph_data
from fontgen.fonts import reference_source
from fontgen.render import GlyphRenderer

INK_THRESHOLD = 96
CLASS_INDEX = {name: i for i, name in enumerate(glyph_data.LAYOUT_CLASSES)}


def layout_class_indices(codepoints) -> np.ndarray:
    """Layout class index (0..5) of each syllable."""
    return np.array([CLASS_INDEX[glyph_data.layout_class(c)] for c in codepoints], dtype=np.int64)


def ink_boxes(images: np.ndarray) -> np.ndarray:
    """(n, 4) ink boxes x0, y0, x1, y1 as fractions of the frame; NaN rows for blank images."""
    images = np.asarray(images)
    n, size = images.shape[0], images.shape[-1]
    ink = images >= INK_THRESHOLD
    boxes = np.full((n, 4), np.nan, dtype=np.float64)
    rows, cols = ink.any(axis=2), ink.any(axis=1)
    for i in range(n):
        ys, xs = np.flatnonzero(rows[i]), np.flatnonzero(cols[i])
        if len(xs):
            boxes[i] = (xs[0], ys[0], xs[-1] + 1, ys[-1] + 1)
    return boxes / size


@dataclass
class LayoutFit:
    """Per layout class: scale and shift (sx, sy, tx, ty) taking reference positions to the target's."""

    affines: np.ndarray  # (6, 4)

    @classmethod
    def identity(cls) -> "LayoutFit":
        return cls(np.tile(np.array([1.0, 1.0, 0.0, 0.0]), (len(glyph_data.LAYOUT_CLASSES), 1)))

    @classmethod
    def from_boxes(cls, codepoints, target_boxes: np.ndarray, reference_boxes: np.ndarray) -> "LayoutFit":
        """Fit from ink boxes of the same syllables in the target and the reference font."""
        classes = layout_class_indices(codepoints)
        valid = ~(np.isnan(target_boxes).any(1) | np.isnan(reference_boxes).any(1))
        overall = _affine_between(reference_boxes[valid], target_boxes[valid]) if valid.any() else None
        affines = []
        for k in range(len(glyph_data.LAYOUT_CLASSES)):
            chosen = valid & (classes == k)
            if chosen.sum() >= 3:
                affines.append(_affine_between(reference_boxes[chosen], target_boxes[chosen]))
            else:
                affines.append(overall if overall is not None else np.array([1.0, 1.0, 0.0, 0.0]))
        return cls(np.stack(affines))

    def for_codepoints(self, codepoints) -> np.ndarray:
        """(n, 4) affines, one per syllable by its layout class."""
        return self.affines[layout_class_indices(codepoints)]


def _affine_between(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Scale and shift that take the mean source box onto the mean target box."""
    s, t = source.mean(0), target.mean(0)
    sx = (t[2] - t[0]) / max(s[2] - s[0], 1e-3)
    sy = (t[3] - t[1]) / max(s[3] - s[1], 1e-3)
    tx = t[0] - sx * s[0]
    ty = t[1] - sy * s[1]
    return np.array([sx, sy, tx, ty])


def warp(images: torch.Tensor, affines: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Move and scale a batch of images (n, c, h, w) by per-image affines (sx, sy, tx, ty) in frame fractions.

    Paper is zero outside the source, so images must be ink-positive (paper 0) when passed in.
    """
    affines = torch.as_tensor(affines, dtype=images.dtype, device=images.device)
    sx, sy, tx, ty = affines.unbind(1)
    theta = torch.zeros(images.shape[0], 2, 3, dtype=images.dtype, device=images.device)
    # Output coordinate u (in -1..1) reads the source at u / s + (1 - 2 t) / s - 1.
    theta[:, 0, 0] = 1 / sx
    theta[:, 0, 2] = (1 - 2 * tx) / sx - 1
    theta[:, 1, 1] = 1 / sy
    theta[:, 1, 2] = (1 - 2 * ty) / sy - 1
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def fitted_reference(reference_images: np.ndarray, codepoints, fit: LayoutFit) -> np.ndarray:
    """Reference glyph images (n, s, s) uint8 warped by the fit: the content glyphs, uint8."""
    tensor = torch.from_numpy(np.asarray(reference_images, dtype=np.float32))[:, None] / 255.0
    warped = warp(tensor, fit.for_codepoints(codepoints))
    return (warped[:, 0].clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).numpy()


def fitted_reference_glyphs(codepoints: list[int], fit: LayoutFit, size: int,
                            renderer: GlyphRenderer | None = None) -> np.ndarray:
    """The reference font's glyphs for these syllables at `size` px, fitted (uint8, ink-positive): the model's
    content input, and the reference baseline."""
    source = reference_source()
    renderer = renderer or GlyphRenderer(source.path, size, face=source.face)
    return fitted_reference(renderer.render_many(codepoints), codepoints, fit)
