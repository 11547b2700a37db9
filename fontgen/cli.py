"""The `fontgen` command: one subcommand per stage of the pipeline.

Every user-facing failure is a FontgenError, printed as one line with a non-zero exit.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fontgen.errors import FontgenError


def _charset(value: str, missing_from=None) -> list[int]:
    import glyph_data

    if value == "missing":
        return missing_from()
    if value == "ksx1001":
        return glyph_data.ksx1001_syllables()
    if value == "all":
        return glyph_data.all_syllables()
    path = Path(value)
    if path.exists():
        return glyph_data.read_charset_file(path)
    chars = glyph_data.read_charset_text(value)
    if not chars:
        raise FontgenError(f"--chars {value!r}: not a charset name, a file, or characters")
    return chars


def cmd_info(args) -> None:
    from fontgen.fonts import font_info

    info = font_info(args.font, args.face)
    print(f"file:        {info.path}")
    print(f"family:      {info.family}")
    print(f"full name:   {info.full_name}")
    print(f"format:      {info.format}")
    print(f"glyphs:      {info.glyph_count}")
    print(f"units/em:    {info.units_per_em}")
    print(f"Hangul:      {info.hangul_count} of 11,172 syllables ({len(info.missing)} missing)")
    print(f"KS X 1001:   {info.ksx1001_count} of 2,350")
    print(f"fsType:      0x{info.fs_type:04X}")


def cmd_render(args) -> None:
    from PIL import Image

    from fontgen.fonts import font_info
    from fontgen.render import GlyphRenderer, ink_to_png_pixels

    info = font_info(args.font, args.face)
    chars = _charset(args.chars, lambda: info.missing)
    renderer = GlyphRenderer(args.font, args.size, face=args.face)
    out = Path(args.output)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise FontgenError(f"{out}: cannot create the folder ({error.strerror})") from None
    written = 0
    for codepoint in chars:
        if renderer.has(codepoint):
            Image.fromarray(ink_to_png_pixels(renderer.render(codepoint))).save(out / f"U+{codepoint:04X}.png")
            written += 1
    print(f"wrote {written} glyphs to {out} ({len(chars) - written} not in the font)")


def cmd_pretrain(args) -> None:
    from fontgen.pretrain import pretrain

    folder = pretrain(args.recipe, device=args.device, resume=not args.restart, max_steps=args.max_steps)
    print(f"model: {folder}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fontgen", description="Complete Korean fonts in their own style.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="family, format and Hangul coverage of a font")
    p.add_argument("font")
    p.add_argument("--face", type=int, default=0, help="face index in a .ttc collection")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("render", help="render glyphs to PNG files in the font's em frame")
    p.add_argument("font")
    p.add_argument("--chars", default="ksx1001", help="ksx1001, all, missing, a file, or characters")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--face", type=int, default=0)
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("pretrain", help="train the base model from a recipe (resumes by default)")
    p.add_argument("--recipe", default="recipes/base.toml")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many more steps")
    p.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
    p.set_defaults(func=cmd_pretrain)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `fontgen` console script."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except FontgenError as error:
        print(f"fontgen: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fontgen: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
