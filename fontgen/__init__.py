"""fontgen: learn a Korean font's style and draw the Hangul syllables it lacks.

Stages, one module each, data flowing one way:
fonts/render (glyph data) -> model -> pretrain / learn -> generate -> vectorize -> export.
"""
__version__ = "0.1.0"
