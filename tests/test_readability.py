"""The jamo recognizer reads printed styles; adapted on a font's own known glyphs, it reads that font."""
from __future__ import annotations

import glyph_data
from fontgen.fonts import font_info
from fontgen.readability import RECOGNIZER_SIZE, adapt_recognizer, load_recognizer, read_as_intended
from fontgen.render import GlyphRenderer
from tests.conftest import requires_corpus


@requires_corpus
def test_adapting_the_recognizer_to_a_brush_font_makes_it_read_the_fonts_other_glyphs():
    font = glyph_data.corpus_font("NanumBrush")
    ksx = glyph_data.ksx1001_syllables()
    known = ksx[::9]  # 262 of the syllables the font draws one by one
    # Syllables it never saw: the foundry's composites of the syllables outside KS X 1001.
    others = [c for c in font_info(font.path, font.face).hangul if c not in set(ksx)][::137]
    render = GlyphRenderer(font.path, RECOGNIZER_SIZE, face=font.face).render_many
    shipped = load_recognizer()
    weights = {k: v.clone() for k, v in shipped.state_dict().items()}
    before = read_as_intended(shipped, render(others), others).mean()
    adapted = adapt_recognizer(shipped, render(known), known, steps=100)
    after = read_as_intended(adapted, render(others), others).mean()
    assert before < 0.3  # a hand-drawn brush is far from every train font
    assert after > before + 0.25, (before, after)
    assert read_as_intended(adapted, render(known), known).mean() > 0.9
    assert all((weights[k] == v).all() for k, v in shipped.state_dict().items())  # the shipped model is left as it is


@requires_corpus
def test_the_adapted_recognizer_depends_on_its_seed_alone():
    """Learn re-plans what the adapted recognizer misreads: the same font and seed must give the same
    recognizer whatever ran before in the process (dropout draws from torch's global generator), and leave that
    generator as it found it."""
    import torch

    font = glyph_data.corpus_font("NanumBrush")
    known = glyph_data.ksx1001_syllables()[::50]
    images = GlyphRenderer(font.path, RECOGNIZER_SIZE, face=font.face).render_many(known)
    shipped = load_recognizer()

    def adapted_after(global_seed: int, seed: int = 0) -> dict:
        torch.manual_seed(global_seed)
        weights = adapt_recognizer(shipped, images, known, steps=4, seed=seed).state_dict()
        assert torch.equal(torch.rand(3), (torch.manual_seed(global_seed), torch.rand(3))[1])  # restored
        return weights

    first, second, other_seed = adapted_after(1), adapted_after(2), adapted_after(1, seed=5)
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not all(torch.equal(first[k], other_seed[k]) for k in first)


@requires_corpus
def test_distorted_glyphs_keep_their_strokes_in_another_hand():
    """Training distortion varies the hand (shape, slant, stroke weight) but must not erase or smear the
    letters: every glyph keeps between half and twice its ink, and its ink stays where the glyph is."""
    import numpy as np
    import torch

    from fontgen.readability import distort

    font = glyph_data.corpus_font("NanumSquareRoundR")
    chars = glyph_data.ksx1001_syllables()[::150]
    images = GlyphRenderer(font.path, RECOGNIZER_SIZE, face=font.face).render_many(chars)
    x = torch.from_numpy(images.astype(np.float32) / 255)[:, None]
    varied = distort(x, torch.Generator().manual_seed(0))
    ratio = varied.sum(dim=(1, 2, 3)) / x.sum(dim=(1, 2, 3))
    assert (ratio > 0.5).all() and (ratio < 2.0).all(), ratio
    overlap = (varied * x).sum(dim=(1, 2, 3)) / torch.minimum(varied.sum(dim=(1, 2, 3)), x.sum(dim=(1, 2, 3)))
    assert (overlap > 0.3).all(), overlap  # moved, not scattered
    assert ((varied - x).abs().amax(dim=(1, 2, 3)) > 0.5).all()  # every glyph changed
