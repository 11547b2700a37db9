"""The command line: real commands, one-line errors, no tracebacks, no half-written files. Commands run in this
process as the console script runs them (`run_cli`); one runs as a new process, the way a user starts it."""
import subprocess
import sys

import numpy as np
from PIL import Image

import glyph_data
from tests.conftest import NANUM_GOTHIC, build_hangul_font, requires_corpus, run_cli

pytestmark = requires_corpus


def fontgen_process(*args):
    return subprocess.run([sys.executable, "-m", "fontgen.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300)



def assert_one_line_error(result, pattern):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("fontgen: error:") and pattern in lines[0], result.stderr


def test_info_reports_coverage(tmp_path):
    result = fontgen_process("info", NANUM_GOTHIC)
    assert result.returncode == 0 and "11172 of 11,172 syllables (0 missing)" in result.stdout
    small = build_hangul_font(tmp_path / "s.ttf", glyph_data.all_syllables()[:300], source=NANUM_GOTHIC)
    result = run_cli("info", small)
    assert "300 of 11,172 syllables (10872 missing)" in result.stdout


def test_bad_inputs_are_one_line_errors(tmp_path):
    assert_one_line_error(run_cli("info", tmp_path / "missing.ttf"), "no such file")
    (tmp_path / "notes.ttf").write_text("not a font")
    assert_one_line_error(run_cli("info", tmp_path / "notes.ttf"), "not a font file")
    corrupt = tmp_path / "corrupt.ttf"
    corrupt.write_bytes(NANUM_GOTHIC.read_bytes()[:5000])
    assert_one_line_error(run_cli("info", corrupt), "damaged")
    latin = build_hangul_font(tmp_path / "latin.ttf", [], source=NANUM_GOTHIC)
    assert_one_line_error(run_cli("generate", latin, "--method", "reference", "-o", tmp_path / "g"), "no Hangul")
    assert_one_line_error(run_cli("generate", tmp_path, "-o", tmp_path / "g"), "not a style folder")


def test_render_then_export_round_trip(tmp_path):
    small = build_hangul_font(tmp_path / "s.ttf", glyph_data.ksx1001_syllables()[:40], source=NANUM_GOTHIC)
    wanted = [0xD7A3, 0xB611, 0xAC02]  # none of them in the font
    (tmp_path / "chars.txt").write_text(" ".join(f"U+{c:04X}" for c in wanted))
    result = run_cli("render", NANUM_GOTHIC, "--chars", tmp_path / "chars.txt", "-o", tmp_path / "glyphs")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out.ttf"
    result = run_cli("export", small, tmp_path / "glyphs", "-o", out, "--family-name", "Round Trip")
    assert result.returncode == 0, result.stderr
    info = run_cli("info", out).stdout
    assert "Round Trip" in info and "43 of 11,172" in info


def test_export_refuses_bad_glyph_folders_and_outputs(tmp_path):
    small = build_hangul_font(tmp_path / "s.ttf", glyph_data.ksx1001_syllables()[:40], source=NANUM_GOTHIC)
    glyphs = tmp_path / "glyphs"
    glyphs.mkdir()
    Image.fromarray(np.full((64, 64), 255, np.uint8)).save(glyphs / "hello.png")
    assert_one_line_error(run_cli("export", small, glyphs, "-o", tmp_path / "o.ttf"), "hello.png")
    (glyphs / "hello.png").unlink()
    Image.fromarray(np.full((64, 48), 255, np.uint8)).save(glyphs / "U+D7A3.png")
    assert_one_line_error(run_cli("export", small, glyphs, "-o", tmp_path / "o.ttf"), "U+D7A3.png")
    (glyphs / "U+D7A3.png").unlink()
    image = np.full((64, 64), 255, np.uint8)
    image[10:50, 10:50] = 0
    Image.fromarray(image).save(glyphs / "U+D7A3.png")
    result = run_cli("export", small, glyphs, "-o", tmp_path / "no" / "such" / "dir" / "o.ttf")
    assert_one_line_error(result, "o.ttf")
    assert not (tmp_path / "o.ttf").exists() and not list(tmp_path.glob("**/*partial*"))


def test_export_and_complete_refuse_what_they_cannot_do_in_one_line(tmp_path):
    """Each refusal named before any work: output over the source, an outline format the source lacks, a
    license that forbids changes, a variable font, more than 65,535 glyphs, characters that are not
    Hangul syllables, CUDA where there is none."""
    from fontTools.ttLib import TTFont
    from fontTools.ttLib.tables._f_v_a_r import Axis, table__f_v_a_r

    from tests.hostile_fonts import write_glyph_folder

    small = build_hangul_font(tmp_path / "s.ttf", glyph_data.ksx1001_syllables()[:40], source=NANUM_GOTHIC)
    glyphs = write_glyph_folder(tmp_path / "glyphs", [0xD7A3])
    assert_one_line_error(run_cli("export", small, glyphs, "-o", small), "would overwrite the source")
    assert_one_line_error(run_cli("complete", small, "-o", tmp_path / "o.otf", "--format", "otf"), "--format otf")
    assert_one_line_error(run_cli("complete", small, "-o", tmp_path / "o.ttf", "--chars", "ABC"), "U+0041")
    import torch

    if not torch.cuda.is_available():  # on a machine with a GPU, --device cuda is what the user asked for
        assert_one_line_error(run_cli("complete", small, "-o", tmp_path / "o.ttf", "--device", "cuda"), "no CUDA")
    assert_one_line_error(run_cli("complete", small, "-o", tmp_path / "o.ttf", "--refine", "2"), "--refine 2.0: choose")
    assert_one_line_error(run_cli("complete", small, "-o", tmp_path / "o.ttf", "--method", "compose", "--refine",
                                  "0.5"), "with a learned model")
    restricted = TTFont(small)
    restricted["OS/2"].fsType = 0x0002
    restricted.save(tmp_path / "restricted.ttf")
    assert_one_line_error(run_cli("export", tmp_path / "restricted.ttf", glyphs, "-o", tmp_path / "r.ttf"),
                          "forbid modification")
    variable = TTFont(small)
    fvar = table__f_v_a_r()
    axis = Axis()
    axis.axisTag, axis.minValue, axis.defaultValue, axis.maxValue, axis.axisNameID = "wght", 100, 400, 900, 256
    fvar.axes, fvar.instances = [axis], []
    variable["fvar"] = fvar
    variable["name"].setName("Weight", 256, 3, 1, 0x409)
    variable.save(tmp_path / "variable.ttf")
    assert_one_line_error(run_cli("export", tmp_path / "variable.ttf", glyphs, "-o", tmp_path / "v.ttf"),
                          "variable fonts are not supported")
    noto = glyph_data.corpus_font("NotoSansCJKKR-Regular")
    private_use = write_glyph_folder(tmp_path / "private-use", [0xF0000])
    assert_one_line_error(run_cli("export", noto.path, private_use, "-o", tmp_path / "n.otf", "--face", noto.face),
                          "OpenType limit of 65,535")
    assert not list(tmp_path.glob("[ornv].*tf")) and not list(tmp_path.glob("*.fontgen"))


def test_readme_documents_every_command_and_option():
    """README's option table names every subcommand and every option the parser takes (the docs cannot
    fall behind the command line)."""
    import argparse
    from pathlib import Path

    from fontgen.cli import build_parser

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Every command and option", 1)[1].split("\n## ", 1)[0]
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    undocumented = [f"{name}: {name}" for name in commands if f"| `{name}" not in section]
    for name, parser in commands.items():
        for action in parser._actions:
            long = [o for o in action.option_strings if o.startswith("--") and o != "--help"]
            if long and f"`{long[0]}`" not in section:
                undocumented.append(f"{name}: {long[0]}")
    assert not undocumented, undocumented


def test_a_closed_pipe_is_not_a_bug():
    """`fontgen info FONT | head -1`: the reader stops early; no traceback, no 'internal error'."""
    import os

    shell = f"{sys.executable} -m fontgen.cli info {NANUM_GOTHIC} | true"  # `true` reads nothing and exits
    for buffered in ("", "1"):  # Python writes to a pipe at once (PYTHONUNBUFFERED) or when it exits
        env = {**os.environ, "PYTHONUNBUFFERED": buffered}
        result = subprocess.run(["bash", "-o", "pipefail", "-c", shell], capture_output=True, text=True, env=env)
        assert result.stderr == "" and result.returncode == 141, (buffered, result.stderr)


def test_one_rule_for_every_chars_value(tmp_path):
    """`--chars` (render, generate, complete, the baselines) and a recipe's charset read alike: names, a file of
    characters or U+XXXX codes, the characters themselves; a path that is not there and a non-syllable where
    syllables are drawn are refused in one line."""
    import pytest

    from fontgen.errors import FontgenError
    from fontgen.fonts import resolve_chars

    known = glyph_data.ksx1001_syllables()
    assert len(resolve_chars("missing", known)) == 11172 - 2350
    assert resolve_chars("ksx1001") == known and len(resolve_chars("all")) == 11172
    listed = tmp_path / "wanted.txt"
    listed.write_text("# a comment\nU+AC00 각\n갃", encoding="utf-8")
    assert resolve_chars(str(listed)) == resolve_chars("가각갃") == [0xAC00, 0xAC01, 0xAC03]
    assert resolve_chars("AB가", syllables_only=False) == [0x41, 0x42, 0xAC00]
    assert resolve_chars("".join(map(chr, known[:300]))) == known[:300]  # longer than any file name can be
    for bad, message in (("AB가", "U\\+0041 is not a Hangul syllable"), (str(tmp_path / "gone.txt"), "no such file"),
                         ("missing", "only a command that reads a font"), ("  ", "no characters")):
        with pytest.raises(FontgenError, match=message):
            resolve_chars(bad, None if bad == "missing" else known)
