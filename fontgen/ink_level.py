"""The ink level of a learned style: the gray generate takes as the edge of a model-drawn stroke.

The model draws at 64 px in soft grays; finished at a larger size, the gray taken as the edge decides the
stroke weight. learn chooses it per style by drawing glyphs the font has and comparing them, finished at
each level, with the real ones.
"""
from __future__ import annotations

import numpy as np
import torch

from fontgen.finetune import UserGlyphs
from fontgen.model import GlyphDiffusion, sample, to_uint8
from fontgen.render import crisp, resize_soft, similarity


INK_LEVELS = tuple(round(0.25 + 0.05 * i, 2) for i in range(12))  # 0.25 .. 0.8, the levels learn chooses from


def ink_level_score(scores: dict) -> float:
    """One number from `render.similarity`'s scores: the mean of IoU, SSIM and 1 - RMSE."""
    return (scores["iou"] + scores["ssim"] + 1.0 - scores["rmse"]) / 3.0


def choose_ink_level(drawn: np.ndarray, real: np.ndarray, content: np.ndarray | None = None,
                     levels: tuple[float, ...] = INK_LEVELS, widest_margin: bool = False) -> tuple[float, dict]:
    """The gray level (0..1) that, taken as the ink edge, best finishes the drawn glyphs (uint8 at the model's
    size) into the real ones (uint8 at the finished size); also each level's IoU, SSIM and RMSE.

    A model unsure of a style's strokes draws them soft and often too heavy (or too light); the level
    where the finished drawings best match the font's own glyphs gives them the font's weight. Each of the
    three scores eval reports is degenerate alone: IoU always prefers heavier strokes (misplaced ones overlap
    more), SSIM fainter ones (bare paper scores well), so the level with the best mean of the three is chosen.
    With `content` (the fitted reference glyphs at the finished size, what a user would get without fontgen)
    only among the levels at which the drawings score at least as well as their content glyphs on each of the
    three, when there are any (past some level the mean buys SSIM by thinning strokes into fragments); with
    `widest_margin` too, the level at which they beat the content glyphs by the widest margin on the worst of
    the three: the mean sits on the edge where one score just stops losing, and on the syllables a user lacks
    that edge moves (brush and pen strokes drawn by a print style: IoU below the plain reference font's).
    """
    soft = resize_soft(drawn, real.shape[-1])
    level_scores = {level: similarity(real, crisp(soft, level)) for level in levels}
    candidates = list(levels)
    if content is not None:
        floor = similarity(real, content)
        if widest_margin:
            return max(levels, key=lambda level: worst_margin(level_scores[level], floor)), level_scores
        candidates = [level for level in levels if worst_margin(level_scores[level], floor) >= 0] or candidates
    return max(candidates, key=lambda level: ink_level_score(level_scores[level])), level_scores


def worst_margin(scores: dict, floor: dict) -> float:
    """How far `scores` beat `floor` on the worst of IoU, SSIM and RMSE (negative: lose on at least one)."""
    return min(scores["iou"] - floor["iou"], scores["ssim"] - floor["ssim"], floor["rmse"] - scores["rmse"])


def style_ink_level(model: GlyphDiffusion, token: str, glyphs: UserGlyphs, widest_margin: bool = False,
                    batch_size: int = 64) -> float:
    """The ink level of the model's current style: `glyphs` drawn with the 2-step sampler, the level chosen by
    `choose_ink_level` against the real glyphs and their content glyphs."""
    model.eval()
    drawn = []
    with torch.no_grad():
        for start in range(0, len(glyphs.codepoints), batch_size):
            codepoints = glyphs.codepoints[start:start + batch_size]
            ids = model.tokenizer.encode(token, codepoints)
            images = sample(model, glyphs.content[start:start + batch_size], ids, steps=2,
                            generator=torch.Generator().manual_seed(start))
            drawn.append(to_uint8(images[:, 0]).numpy())
    return choose_ink_level(np.concatenate(drawn), glyphs.finished_targets, glyphs.finished_content,
                            widest_margin=widest_margin)[0]
