"""`fontgen complete FONT -o OUT`: learn (or reuse) the style, draw what is missing, write the font."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import glyph_data
from fontgen.compose import Inventory
from fontgen.errors import FontgenError
from fontgen.export import export_font, read_glyph_dir, read_glyph_outlines
from fontgen.fonts import compat_jamo_in, file_sha256, font_info, resolve_chars
from fontgen.generate import generate, pick_device
from fontgen.learn import learn
from fontgen.model import DEFAULT_CHECKPOINT, model_hash
from fontgen.style import read_manifest
from fontgen.vectorize import TraceParams


@dataclass
class CompleteReport:
    added: int  # syllables
    output: Path
    style_dir: Path
    glyph_dir: Path
    reused_style: bool
    seconds: float
    letters: int = 0  # compatibility letters
    from_outlines: int = 0  # glyphs with the font's own contours moved (some or all of their jamo), not traced
    to_check: int = 0  # composed syllables learn's recognizer read as another (flagged in the glyph folder)


def matching_style(style_dir: Path, font: Path, method: str, base: Path) -> bool:
    """True when a style folder was learned from this very font file on this base model, by this method."""
    if not (style_dir / "manifest.json").exists():
        return False
    manifest = read_manifest(style_dir)
    return (manifest.get("source", {}).get("sha256") == file_sha256(font) and manifest.get("method") == method
            and manifest.get("base_model_sha256") == model_hash(base))


def learn_method_for(known: list[int], wanted: set[int], method: str) -> str:
    """`auto`: compose alone when the font draws every jamo the wanted syllables need somewhere (nothing to
    train), else LoRA for the syllables that cannot be composed (as `learn.method_for_font`, for the
    syllables asked for); any other method as given."""
    if method != "auto":
        return method
    inventory = Inventory.from_known(known)
    return "compose" if all(inventory.can_compose(c) for c in wanted) else "lora"


def complete(font: str | Path, output: str | Path, *, chars: str | list[int] = "missing", method: str = "auto",
             draw: str = "auto", compat_jamo: bool = True,
             recipe: str | Path | None = None, style_dir: str | Path | None = None, glyph_dir: str | Path | None = None,
             family_name: str | None = None, output_format: str | None = None, force: bool = False,
             steps: int = 2, learn_steps: int | None = None, seed: int = 0, batch_size: int = 64, device: str = "auto",
             hypernetwork_strength: float = 1.0, refine: float | None = None,
             base: str | Path = DEFAULT_CHECKPOINT, face: int = 0, progress: bool = True) -> CompleteReport:
    """Learn, generate and export in one go; the original glyphs stay untouched.

    `method` is how the style is learned (`auto`: see `learn_method_for`); `draw` how the glyphs are made
    (auto: whichever of the two learn measured closer to the font, compose for a style without a model;
    compose: from the font's own jamo where it can, the model elsewhere; model: the model alone); `refine`: see
    `fontgen.generate.generate`;
    `compat_jamo` adds the compatibility letters U+3131-U+318E the font lacks, composed from its jamo."""
    started = time.time()
    font, output, base = Path(font), Path(output), Path(base)
    device = pick_device(device)  # refused now, not after the learning
    if not 0.0 <= hypernetwork_strength <= 1.0:
        raise FontgenError(f"--hypernetwork-strength {hypernetwork_strength}: choose 0 to 1")
    if refine is not None and not 0.0 <= refine <= 1.0:  # refused now, not after the learning
        raise FontgenError(f"--refine {refine}: choose 0 (the plain composition) to 1 (the model alone)")
    info = font_info(font, face)
    source_is_cff = info.format.endswith("OTF (CFF)")
    if output_format and output_format != ("otf" if source_is_cff else "ttf"):
        raise FontgenError(f"--format {output_format}: fontgen keeps the source's outline format "
                           f"({'otf' if source_is_cff else 'ttf'}); convert the font first")
    if info.fs_type & 0x0002 and not force:
        raise FontgenError(f"{font}: its license bits (fsType) forbid modification; pass --force if you hold the "
                           "rights")
    wanted = set(resolve_chars(chars, info.hangul)) - set(info.hangul)
    if not wanted:
        raise FontgenError(f"{font}: nothing to add (the font already has every requested syllable)")
    style_dir = Path(style_dir) if style_dir else output.with_suffix(".fontgen")
    glyph_dir = Path(glyph_dir) if glyph_dir else output.with_suffix(".glyphs")
    if draw == "model" and method in ("auto", "compose"):
        method = "lora" if method == "auto" else method
    method = learn_method_for(info.hangul, wanted, method)
    if draw == "model" and method == "compose":
        raise FontgenError("--draw model needs a learned model: pass --method lora, dreambooth, hypernetwork or ti")
    if refine and (method == "compose" or draw == "model"):
        raise FontgenError(f"--refine {refine}: refinement redraws composed syllables with a learned model: pass "
                           "--method lora, dreambooth, hypernetwork or ti, and --draw auto or compose")
    reused = matching_style(style_dir, font, method, base)
    if not reused:
        learn(font, style_dir, method=method, recipe=recipe, base=base, face=face, steps=learn_steps, progress=progress)
    drawn = generate(style_dir, glyph_dir, chars, method=draw, compat_jamo=compat_jamo, steps=steps,
                     seed=seed, batch_size=batch_size, device=device, base=base, progress=progress,
                     hypernetwork_strength=hypernetwork_strength, refine=refine)
    letters = set(glyph_data.COMPAT_LETTERS) - set(compat_jamo_in(font, face)) if compat_jamo else set()
    glyphs = read_glyph_dir(glyph_dir).restricted_to(set(wanted) | letters)
    # Syllables mapped to empty glyphs count as missing: their codepoints move to the new glyphs.
    report = export_font(font, glyphs, output, face=face, family_name=family_name, force=force,
                         params=TraceParams(upscale_to=384), replace_existing=True,
                         outlines=read_glyph_outlines(glyph_dir), progress=progress)
    added_letters = len(set(glyphs) & letters)
    return CompleteReport(report.added - added_letters, report.output, style_dir, glyph_dir, reused,
                          time.time() - started, added_letters, report.from_outlines, drawn.to_check)
