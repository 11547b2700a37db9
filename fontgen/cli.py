"""The `fontgen` command: one subcommand per stage of the pipeline.

Every user-facing failure is a FontgenError, printed as one line with a non-zero exit.
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from fontgen import __version__
from fontgen.errors import FontgenError
from fontgen.paths import DEFAULT_CHECKPOINT


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
    if info.blank_hangul:
        print(f"blank:       {len(info.blank_hangul)} syllables are mapped to empty glyphs (counted as missing)")
    print(f"fsType:      0x{info.fs_type:04X}")


def cmd_render(args) -> None:
    from PIL import Image

    from fontgen.files import atomic_path
    from fontgen.fonts import font_info, resolve_chars
    from fontgen.render import GlyphRenderer, ink_to_png_pixels

    info = font_info(args.font, args.face)
    chars = resolve_chars(args.chars, info.hangul, syllables_only=False)
    renderer = GlyphRenderer(args.font, args.size, face=args.face)
    out = Path(args.output)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise FontgenError(f"{out}: cannot create the folder ({error.strerror})") from None
    written = 0
    for codepoint in chars:
        if renderer.has(codepoint):
            with atomic_path(out / f"U+{codepoint:04X}.png") as partial:
                Image.fromarray(ink_to_png_pixels(renderer.render(codepoint))).save(partial, format="PNG")
            written += 1
    print(f"wrote {written} glyphs to {out} ({len(chars) - written} not in the font)")


def cmd_pretrain(args) -> None:
    from fontgen.pretrain import pretrain

    folder = pretrain(args.recipe, device=args.device, resume=not args.restart, max_steps=args.max_steps,
                      init_from=args.init_from, data_pack=args.data_pack)
    print(f"model: {folder}")


def cmd_pack(args) -> None:
    from fontgen.datapack import write_pack
    from fontgen.pretrain import read_pretrain_recipe, training_caches

    recipe = read_pretrain_recipe(args.recipe)
    path = write_pack(training_caches(recipe), args.output, recipe)
    print(f"data pack: {path} ({path.stat().st_size / 1e6:.1f} MB)")


def cmd_learn(args) -> None:
    from fontgen.learn import learn, learn_report

    folder = learn(args.font, args.output, method=args.method, recipe=args.recipe, base=args.base, face=args.face,
                   steps=args.steps, resume=args.resume, num_vectors=args.num_vectors)
    print("\n".join(learn_report(folder)))
    print(f"style: {folder}")


def cmd_generate(args) -> None:
    from fontgen.generate import CHECK_SHEET, generate

    chars = args.chars
    report = generate(args.style, args.output, chars, method=args.method, compat_jamo=args.compat_jamo,
                      steps=args.steps, guidance=args.guidance,
                      lora_scale=args.lora_scale, hypernetwork_strength=args.hypernetwork_strength, seed=args.seed,
                      batch_size=args.batch_size, device=args.device,
                      base=args.base, output_size=args.size, ink_level=args.ink_level, refine=args.refine)
    refined = f", {report.refined} of them refined by the model" if report.refined else ""
    print(f"drew {report.drawn} glyphs ({report.composed} composed from the font's own jamo{refined}, "
          f"{report.outlined} of them with its own contours in a .glif beside the PNG; {report.by_model} by the model; "
          f"{report.kept} already there) in {report.seconds:.1f} s ({report.glyphs_per_second:.1f} glyphs/s) into "
          f"{report.folder}; where each came from: {report.folder / 'sources.json'}")
    if report.to_check:
        print(f"{report.to_check} composed glyphs read as another syllable to the recognizer taught the font's style: "
              f"look at them first ({CHECK_SHEET}, and \"check\" in sources.json)")


def cmd_generate_reference(args) -> None:
    from fontgen.baselines import generate_reference

    count, folder = generate_reference(args.style, args.output, args.chars, size=args.size or 128)
    print(f"drew {count} glyphs with the reference baseline (Noto Sans CJK KR fitted to the font) into {folder}")


def cmd_export(args) -> None:
    from fontgen.export import export_font, read_glyph_dir, read_glyph_outlines
    from fontgen.vectorize import TraceParams

    glyphs = read_glyph_dir(args.glyph_dir)
    params = TraceParams(turdsize=args.turdsize, alphamax=args.alphamax, opttolerance=args.opttolerance,
                         upscale_to=args.smooth or None)
    report = export_font(args.font, glyphs, args.output, face=args.face, family_name=args.family_name,
                         force=args.force, params=params, replace_existing=args.replace,
                         outlines=read_glyph_outlines(args.glyph_dir))
    print(f"added {report.added} glyphs ({len(report.skipped)} already in the font; {report.from_outlines} with the "
          f"font's own moved contours, {report.partly_traced} of them with some jamo traced; the others traced) -> "
          f"{report.output} [{report.family_name}] in {report.seconds:.1f} s")


def cmd_complete(args) -> None:
    from fontgen.complete import complete
    from fontgen.generate import CHECK_SHEET

    report = complete(args.font, args.output, chars=args.chars, method=args.method, draw=args.draw,
                      compat_jamo=not args.no_compat_jamo, recipe=args.recipe,
                      family_name=args.family_name, output_format=args.format, force=args.force, steps=args.steps,
                      seed=args.seed, device=args.device, base=args.base, face=args.face,
                      hypernetwork_strength=args.hypernetwork_strength, refine=args.refine)
    print(f"added {report.added} syllables and {report.letters} compatibility letters ({report.from_outlines} with the "
          f"font's own contours moved, the others traced) in {report.seconds:.0f} s -> {report.output}")
    print(f"style: {report.style_dir} ({'reused' if report.reused_style else 'learned'}); glyphs: {report.glyph_dir}")
    if report.to_check:
        print(f"{report.to_check} composed syllables read as another syllable to the recognizer taught the font's "
              f"style: look at them first ({report.glyph_dir / CHECK_SHEET}, and \"check\" in sources.json)")


def cmd_specimen(args) -> None:
    from fontgen.specimen import write_specimen, write_specimen_png

    if args.png:
        html, png = write_specimen_png(args.font, args.output, args.png, original_font=args.original)
        print(f"specimen: {html} and {png}")
    else:
        print(f"specimen: {write_specimen(args.font, args.output, original_font=args.original)}")


def cmd_eval(args) -> None:
    from fontgen.evaluate import evaluate_fonts

    table = evaluate_fonts(args.fonts, known=args.known, held_out=args.held_out, method=args.method,
                           base=args.base, output=args.output, learn_steps=args.learn_steps, steps=args.steps,
                           recipe=args.recipe)
    print(table)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fontgen", description="Complete Korean fonts in their own style.")
    parser.add_argument("--version", action="version", version=f"fontgen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    face_help = "which font of a .ttc collection, from 0 (default 0)"
    device_help = "where the model runs: auto (a GPU when there is one), cpu or cuda"
    chars_help = ("missing (default: the syllables the font lacks), ksx1001, all, the characters themselves, or a "
                  "file of characters or U+XXXX codes")

    p = sub.add_parser("info", help="family, format and Hangul coverage of a font")
    p.add_argument("font")
    p.add_argument("--face", type=int, default=0, help=face_help)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("render", help="render glyphs to PNG files in the font's em frame")
    p.add_argument("font")
    p.add_argument("--chars", default="ksx1001", help="ksx1001, all, missing, a file, or characters")
    p.add_argument("--size", type=int, default=128, help="image size in pixels, the em square (default 128)")
    p.add_argument("--face", type=int, default=0, help=face_help)
    p.add_argument("-o", "--output", required=True, help="folder for the U+XXXX.png images")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("pretrain", help="train the base model from a recipe (resumes by default)")
    p.add_argument("--recipe", default="recipes/base.toml", help="pretraining recipe (default: recipes/base.toml)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help=device_help)
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many more steps")
    p.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
    p.add_argument("--init-from", help="without a run to resume, start from this model folder (e.g. checkpoints/base)")
    p.add_argument("--data-pack", help="read the glyphs from a data pack (`fontgen pack`) instead of installed fonts")
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser("pack", help="write a recipe's rendered glyphs into a data pack for a machine without fonts")
    p.add_argument("--recipe", default="recipes/base.toml", help="pretraining recipe whose glyphs are packed")
    p.add_argument("-o", "--output", required=True, help="the pack file, e.g. base-pack.tar.xz")
    p.set_defaults(func=cmd_pack)

    base_help = "base model folder (default: the shipped checkpoint)"
    p = sub.add_parser("learn", help="learn a font's style (its jamo; textual inversion, then LoRA, DreamBooth or a "
                                     "hypernetwork)")
    p.add_argument("font")
    p.add_argument("-o", "--output", help="style folder (default: FONT.fontgen next to the font)")
    p.add_argument("--method", default="auto",
                   choices=["auto", "compose", "lora", "dreambooth", "hypernetwork", "ti"],
                   help="every method writes the font's jamo inventory; compose: that alone, no model; lora, "
                        "dreambooth, hypernetwork, ti: also a model for syllables whose jamo the font lacks; auto "
                        "(default): "
                        "compose when the font's jamo cover every missing syllable, else lora")
    p.add_argument("--recipe", help="TOML recipe (default: recipes/METHOD.toml)")
    p.add_argument("--steps", type=int, help="override each stage's step count")
    p.add_argument("--resume", action="store_true", help="reuse a finished first stage of an interrupted run")
    p.add_argument("--num-vectors", type=int, help="embedding vectors of the learned token (default: the recipe's, 1)")
    p.add_argument("--face", type=int, default=0, help=face_help)
    p.add_argument("--base", default=str(DEFAULT_CHECKPOINT), help=base_help)
    p.set_defaults(func=cmd_learn)

    p = sub.add_parser("generate", help="draw syllables in a learned style as PNG files")
    p.add_argument("style", help="style folder written by `fontgen learn` (with --method reference: the font)")
    p.add_argument("-o", "--output", required=True, help="glyph folder (resumes: existing glyphs are kept)")
    p.add_argument("--chars", default="missing", help=chars_help)
    p.add_argument("--compat-jamo", action="store_true",
                   help="also the compatibility letters U+3131-U+318E the font lacks, from its own jamo")
    p.add_argument("--method", default="auto", choices=["auto", "compose", "model", "reference"],
                   help="auto (default): whichever of compose and model learn measured closer to the font (compose "
                        "for a style without a model); compose: from the font's own jamo where it draws them, the "
                        "model elsewhere; model: the model alone; reference: the Noto Sans CJK KR baseline")
    p.add_argument("--steps", type=int, default=2, help="sampling steps (2: 12 glyphs/s on a 2-core CPU)")
    p.add_argument("--guidance", type=float, default=1.0,
                   help="classifier-free guidance scale of the model's drawing (default 1: none)")
    p.add_argument("--lora-scale", type=float, default=1.0,
                   help="how much of a LoRA style applies, 0 (textual inversion alone) to 1 (default)")
    p.add_argument("--hypernetwork-strength", type=float, default=1.0,
                   help="how much of a hypernetwork style applies, 0 (textual inversion alone) to 1 (default)")
    p.add_argument("--ink-level", type=float, help="gray taken as the ink edge, 0.05-0.95; higher draws thinner "
                                                   "(default: the style's, measured by learn)")
    p.add_argument("--refine", type=float, help="redraw each composed syllable with the style's model from the "
                   "composition noised to this share, 0 (the plain composition) to 1 (the model alone); default: "
                   "what learn measured best with --method auto, else 0")
    p.add_argument("--seed", type=int, default=0, help="seed of the model's noise (default 0): same seed, same glyphs")
    p.add_argument("--batch-size", type=int, default=64, help="glyphs the model draws at once (default 64)")
    p.add_argument("--size", type=int, help="PNG size in pixels (default: 256 composing, 128 with the model alone)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help=device_help)
    p.add_argument("--base", default=str(DEFAULT_CHECKPOINT), help=base_help)
    p.set_defaults(func=lambda a: (cmd_generate_reference if a.method == "reference" else cmd_generate)(a))

    p = sub.add_parser("export", help="vectorize PNG glyphs (U+XXXX.png) into a copy of the font")
    p.add_argument("font")
    p.add_argument("glyph_dir", help="folder of U+XXXX.png images (and .glif outlines), as generate writes")
    p.add_argument("-o", "--output", required=True, help="the new font file (never the source itself)")
    p.add_argument("--family-name", help="family name of the new font (default: '<family> fontgen')")
    p.add_argument("--force", action="store_true", help="ignore fsType bits that forbid modification")
    p.add_argument("--replace", action="store_true", help="replace syllables the font already has")
    p.add_argument("--face", type=int, default=0, help=face_help)
    p.add_argument("--turdsize", type=int, default=2, help="tracing: specks up to this many pixels are dropped (2)")
    p.add_argument("--alphamax", type=float, default=1.0,
                   help="tracing: corner threshold, 0 (all corners) to 1.33 (all curves) (default 1)")
    p.add_argument("--opttolerance", type=float, default=0.2,
                   help="tracing: how far joined curves may stray, in pixels (default 0.2)")
    p.add_argument("--smooth", type=int, default=384, help="upscale bitmaps to this size before tracing (0: off)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("complete", help="learn, generate and export in one go")
    p.add_argument("font")
    p.add_argument("-o", "--output", required=True, help="the completed font file (never the source itself)")
    p.add_argument("--chars", default="missing", help=chars_help)
    p.add_argument("--method", default="auto",
                   choices=["auto", "compose", "lora", "dreambooth", "hypernetwork", "ti"],
                   help="how the style is learned; auto: compose alone when the font's jamo cover every missing "
                        "syllable, else LoRA too for the rest")
    p.add_argument("--draw", default="auto", choices=["auto", "compose", "model"],
                   help="auto (default): whichever of compose and model learn measured closer to the font; "
                        "compose: from the font's own jamo where it can, the model elsewhere; model: the model alone")
    p.add_argument("--no-compat-jamo", action="store_true",
                   help="do not add the compatibility letters U+3131-U+318E the font lacks")
    p.add_argument("--recipe", help="learn recipe TOML (default: recipes/METHOD.toml)")
    p.add_argument("--format", choices=["ttf", "otf"], help="must match the source's outlines")
    p.add_argument("--family-name", help="family name of the new font (default: '<family> fontgen')")
    p.add_argument("--force", action="store_true", help="ignore fsType bits that forbid modification")
    p.add_argument("--steps", type=int, default=2, help="sampling steps")
    p.add_argument("--hypernetwork-strength", type=float, default=1.0,
                   help="with --method hypernetwork: how much of it applies, 0 (textual inversion alone) to 1")
    p.add_argument("--refine", type=float, help="redraw each composed syllable with the style's model from the "
                   "composition noised to this share, 0 (the plain composition) to 1 (the model alone); default: "
                   "what learn measured best with --draw auto, else 0")
    p.add_argument("--seed", type=int, default=0, help="seed of the model's noise (default 0)")
    p.add_argument("--face", type=int, default=0, help=face_help)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help=device_help)
    p.add_argument("--base", default=str(DEFAULT_CHECKPOINT), help=base_help)
    p.set_defaults(func=cmd_complete)

    p = sub.add_parser("specimen", help="an HTML specimen page (and PNG via headless Chromium)")
    p.add_argument("font")
    p.add_argument("-o", "--output", required=True, help="HTML file")
    p.add_argument("--original", help="the font before completion: its syllables are shown unmarked")
    p.add_argument("--png", help="also write a screenshot PNG here")
    p.set_defaults(func=cmd_specimen)

    p = sub.add_parser("eval", help="score the model against baselines on held-out glyphs of val fonts")
    p.add_argument("fonts", nargs="*", help="corpus val font names (default: all val fonts)")
    p.add_argument("--known", default="ksx1001", help="ksx1001 or a number of known syllables (e.g. 256)")
    p.add_argument("--held-out", type=int, default=64, help="held-out syllables scored per font")
    p.add_argument("--method", default="nearest",
                   choices=["nearest", "compose", "ti", "lora", "dreambooth", "hypernetwork"],
                   help="how the style is got: nearest train-font token, learned, or composed from the font's own "
                        "jamo (the base model with the nearest token where a jamo is missing)")
    p.add_argument("--learn-steps", type=int, default=None, help="steps of each learn stage (default: the recipe's)")
    p.add_argument("--recipe", default=None, help="learn recipe TOML (default: recipes/METHOD.toml)")
    p.add_argument("--steps", type=int, default=2, help="sampling steps")
    p.add_argument("--base", default=str(DEFAULT_CHECKPOINT), help=base_help)
    p.add_argument("-o", "--output", default="runs/eval", help="folder for the table, JSON and picture")
    p.set_defaults(func=cmd_eval)
    return parser


def quiet_libraries() -> None:
    """fontTools and diffusers warn about harmless things in real fonts; users see only our messages."""
    import logging
    import os
    import warnings

    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")  # diffusers resets its logger level on import
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    logging.getLogger("diffusers").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="diffusers")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `fontgen` console script."""
    args = build_parser().parse_args(argv)
    quiet_libraries()
    try:
        args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the try, not as Python's message at exit
    except FontgenError as error:
        print(f"fontgen: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fontgen: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `fontgen info FONT | head`: the reader stopped reading, nothing went wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 141
    except Exception:  # damaged input is refused where it is found (FontgenError): this is fontgen's own bug
        traceback.print_exc()
        print(f"fontgen: internal error: a bug in fontgen {__version__}, not a problem with your input; please "
              "report it to fontgen's issue tracker with the command and the lines above (README.md, "
              "\"Reporting a bug\")", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
