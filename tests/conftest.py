"""Shared fixtures: small fonts built with FontBuilder from real corpus outlines, and a tiny base model."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.recordingPen import DecomposingRecordingPen
from fontTools.pens.ttGlyphPen import TTGlyphPen

import glyph_data
from fontgen.fonts import open_font
from fontgen.recipe import write_recipe

REPO = Path(__file__).resolve().parent.parent
NANUM_PEN = Path("/usr/share/fonts/truetype/nanum/NanumPen.ttf")
NANUM_GOTHIC = Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf")

requires_corpus = pytest.mark.skipif(not NANUM_GOTHIC.exists(), reason="the Debian font corpus is not installed")


def run_cli(*args) -> subprocess.CompletedProcess:
    """A fontgen command run in this process, as the console script runs it: its exit code and what it printed
    (no interpreter start-up per command; a traceback fails the caller's one-line check as it would in a shell)."""
    import contextlib
    import io

    from fontgen.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as stop:  # argparse's own refusals
            code = stop.code
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def build_hangul_font(path: Path, syllables: list[int], source: Path = NANUM_PEN, family: str = "Small Test",
                      fs_type: int = 0) -> Path:
    """A TrueType font holding ASCII letters and the given syllables, outlines copied from a corpus font."""
    donor = open_font(source)
    cmap = donor.getBestCmap()
    glyph_set = donor.getGlyphSet()
    codepoints = [c for c in list(range(0x41, 0x5B)) + list(syllables) if c in cmap]
    names = {c: f"uni{c:04X}" for c in codepoints}
    order = [".notdef", "space", *names.values()]
    builder = FontBuilder(donor["head"].unitsPerEm, isTTF=True)
    builder.setupGlyphOrder(order)
    builder.setupCharacterMap({0x20: "space", **names})
    glyphs, metrics = {}, {}
    for name in (".notdef", "space"):
        glyphs[name] = TTGlyphPen(None).glyph()
        metrics[name] = (donor["hmtx"][cmap[0x20]][0], 0)
    for codepoint, name in names.items():
        recording = DecomposingRecordingPen(glyph_set)
        glyph_set[cmap[codepoint]].draw(recording)
        pen = TTGlyphPen(None)
        recording.replay(pen)
        glyphs[name] = pen.glyph()
        metrics[name] = donor["hmtx"][cmap[codepoint]]
    return finish_built_font(builder, donor, glyphs, metrics, path, family, fs_type)


def finish_built_font(builder: FontBuilder, donor, glyphs: dict, metrics: dict, path: Path, family: str,
                      fs_type: int = 0) -> Path:
    """The glyphs, metrics and the donor font's vertical metrics into a FontBuilder font, saved to `path`."""
    builder.setupGlyf(glyphs)
    builder.setupHorizontalMetrics(metrics)
    os2 = donor["OS/2"]
    builder.setupHorizontalHeader(ascent=donor["hhea"].ascent, descent=donor["hhea"].descent)
    builder.setupNameTable({"familyName": family, "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=os2.sTypoAscender, sTypoDescender=os2.sTypoDescender,
                     usWinAscent=os2.usWinAscent, usWinDescent=os2.usWinDescent, fsType=fs_type)
    builder.setupPost()
    builder.save(path)
    return path


@pytest.fixture(scope="session")
def small_font(tmp_path_factory) -> Path:
    """120 KS X 1001 syllables in Nanum Pen Script's outlines."""
    path = tmp_path_factory.mktemp("fonts") / "SmallPen.ttf"
    return build_hangul_font(path, glyph_data.ksx1001_syllables()[::19][:120])


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Keep render caches of the tests out of the user's cache."""
    import os

    folder = tmp_path_factory.mktemp("fontgen-cache")
    old = os.environ.get("FONTGEN_CACHE")
    os.environ["FONTGEN_CACHE"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("FONTGEN_CACHE", None)
    else:
        os.environ["FONTGEN_CACHE"] = old


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """The tiny recipe pretrained end to end (two fonts, 32 px): the base model the other tests use."""
    from fontgen.pretrain import pretrain

    folder = tmp_path_factory.mktemp("tiny")
    recipe = write_recipe(REPO / "recipes" / "tiny.toml", folder / "tiny.toml",
                          data={"cache_dir": str(folder / "cache")}, train={"output_dir": str(folder / "run")})
    return pretrain(recipe, device="cpu", progress=False)


@pytest.fixture(scope="session")
def learn_recipes(tmp_path_factory) -> dict[str, Path]:
    """The shipped learn recipes cut down to a few steps."""
    folder = tmp_path_factory.mktemp("recipes")
    recipes = {}
    for method in ("ti", "lora", "dreambooth", "hypernetwork"):
        own = {"ti": {}, "lora": {"lora": {"steps": 8}}, "dreambooth": {"dreambooth": {"steps": 6, "prior_fonts": 2}},
               "hypernetwork": {"hypernetwork": {"steps": 8}}}[method]
        recipes[method] = write_recipe(
            REPO / "recipes" / f"{method}.toml", folder / f"{method}.toml",
            learn={"image_size": 32, "batch_size": 8, "holdout_min": 8},
            early_stop={"eval_every": 4, "patience": 3, "sample_glyphs": 4}, ti={"steps": 8}, **own,
        )
    return recipes
