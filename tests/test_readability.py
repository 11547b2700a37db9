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
