"""`fontgen generate STYLE_DIR -o GLYPH_DIR`: draw syllables in a learned style, batched and resumable.

Each glyph is a PNG named by codepoint (U+AC00.png), black ink on white, written atomically, so an
interrupted run leaves only whole glyphs and the next run draws only what is missing. The noise of
each glyph depends only on the seed and its codepoint, so batching and resuming do not change it.
A stamp in the folder names the style and settings the glyphs were drawn with; glyphs of another
style (a re-learned one) or other settings are removed and drawn again, never mixed in.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

import glyph_data
from fontgen.compose import (COMPAT_JAMO, COMPOSE_SIZE, INVENTORY_FILE, ROLE_NAMES, compat_jamo_images, downsize,
                             has_inventory, load_composer)
from fontgen.errors import FontgenError
from fontgen.files import atomic_path, write_json_atomic
from fontgen.fonts import file_sha256, reference_source, resolve_chars
from fontgen.jamo import VariantTable
from fontgen.model import DEFAULT_CHECKPOINT, sample, to_model_space, to_uint8
from fontgen.outlines import TRACED_FOLDER, GlyphOutline, image_digest, write_outline_glif
from fontgen.reference import fitted_reference_glyphs
from fontgen.render import EDGE_CONTRAST, FINISH_SIZE, INK_LEVEL, GlyphRenderer, finish_glyphs, ink_to_png_pixels
from fontgen.style import MANIFEST_FILE, load_style, read_manifest

GLYPHS_STAMP = "drawn_with.json"


def pick_device(device: str = "auto") -> str:
    """'auto' -> cuda when present, else cpu."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise FontgenError("--device cuda: no CUDA device here")
    return device


def glyph_path(folder: Path, codepoint: int) -> Path:
    return folder / f"U+{codepoint:04X}.png"


def outline_path(folder: Path, codepoint: int) -> Path:
    return folder / f"U+{codepoint:04X}.glif"


def _png_picture(image: np.ndarray, size: int) -> Image.Image:
    """Ink-positive uint8 -> the black-on-white picture at `size` px a glyph PNG holds."""
    picture = Image.fromarray(ink_to_png_pixels(image))
    if picture.size[0] != size:
        picture = picture.resize((size, size), Image.Resampling.BICUBIC)
    return picture


def save_glyph_png(image: np.ndarray, path: Path, size: int, picture: Image.Image | None = None) -> None:
    """Ink-positive uint8 -> black-on-white PNG at `size` px, written atomically."""
    picture = picture if picture is not None else _png_picture(image, size)
    with atomic_path(path) as partial:
        picture.save(partial, format="PNG")


def save_composed_glyph(composer, codepoint: int, sources, folder: Path, size: int) -> bool:
    """A composed syllable's PNG and, where jamo of it could be moved as the font's own contours, their outline
    beside it (U+XXXX.glif, a UFO glyph file, and traced/U+XXXX.png, the ink of the other jamo), which export takes
    instead of tracing the whole PNG. The outline is written first and names the PNG's pixels, so a kill between
    the two leaves an outline no image matches, and a PNG edited by hand later is traced. True when an outline
    was written."""
    image, composed = composer.compose_glyph(codepoint, sources)
    picture = _png_picture(image, size)
    if composed is None:
        outline_path(folder, codepoint).unlink(missing_ok=True)
    else:
        digest = image_digest(ink_to_png_pixels(np.asarray(picture)))
        write_outline_glif(GlyphOutline(composed.contours, composer.font.frame, composer.font.outline_format, digest,
                                        composed.traced), codepoint, outline_path(folder, codepoint))
    save_glyph_png(image, glyph_path(folder, codepoint), size, picture)
    return composed is not None


def glyph_noise(codepoints: list[int], size: int, seed: int) -> torch.Tensor:
    """(n, 1, size, size) starting noise, a function of (seed, codepoint) only."""
    return torch.stack([torch.randn((1, size, size), generator=torch.Generator().manual_seed(seed * 1_000_003 + c))
                        for c in codepoints])


def contact_sheet(folder: Path, codepoints: list[int], path: Path, columns: int = 32, limit: int = 1024) -> None:
    """A grid of drawn glyphs (the first `limit`) for a quick look."""
    chosen = [c for c in codepoints if glyph_path(folder, c).exists()][:limit]
    if chosen:
        _glyph_grid(folder, chosen, path, columns, cell=48)


CHECK_SHEET = "check_sheet.png"


def check_sheet(folder: Path, misread: dict[int, int | None], path: Path, columns: int = 16,
                limit: int = 4096) -> None:
    """The composed glyphs learn's recognizer read as another syllable (the first `limit`), each above the
    intended syllable and what it read, in the reference font: the jamo that differs is the one to look at. No
    sheet (and none left from an earlier run) when there is nothing to check."""
    chosen = [c for c in misread if glyph_path(folder, c).exists()][:limit]
    if not chosen:
        path.unlink(missing_ok=True)
        return
    labels = {c: chr(c) + (f" \u2192 {chr(misread[c])}" if misread[c] else "") for c in chosen}
    _glyph_grid(folder, chosen, path, columns, cell=64, labels=labels)


def _glyph_grid(folder: Path, codepoints: list[int], path: Path, columns: int, cell: int,
                labels: dict[int, str] | None = None) -> None:
    """The glyph images of `codepoints` in a grid of `cell` px squares, each with its label below it in the
    reference font where `labels` are given (PIL's own font has no Hangul: without the reference, no labels)."""
    from PIL import ImageDraw, ImageFont

    reference = glyph_data.reference_font()
    font = ImageFont.truetype(str(reference.path), 13, index=reference.face) if labels and reference.available else None
    label = 18 if labels else 0
    rows = (len(codepoints) + columns - 1) // columns
    sheet = Image.new("L", (columns * cell, rows * (cell + label)), 255)
    draw = ImageDraw.Draw(sheet)
    for i, codepoint in enumerate(codepoints):
        x, y = (i % columns) * cell, (i // columns) * (cell + label)
        with Image.open(glyph_path(folder, codepoint)) as glyph:
            sheet.paste(glyph.convert("L").resize((cell, cell), Image.Resampling.BILINEAR), (x, y))
        if font is not None:
            draw.text((x + 4, y + cell), labels[codepoint], fill=0, font=font)
    with atomic_path(path) as partial:
        sheet.save(partial, format="PNG")


@dataclass
class GenerateReport:
    drawn: int
    kept: int
    seconds: float
    folder: Path
    composed: int = 0  # of `drawn`, composed from the font's own jamo
    by_model: int = 0  # of `drawn`, drawn by the model
    outlined: int = 0  # of `composed`, with the font's own contours (some or all of its jamo) in a .glif beside it
    refined: int = 0  # of `composed`, refined by the model (`refine`)
    to_check: int = 0  # of the wanted glyphs, composed ones learn's recognizer read as another syllable

    @property
    def glyphs_per_second(self) -> float:
        return self.drawn / self.seconds if self.seconds else 0.0


METHODS = ("auto", "compose", "model")
SOURCES_FILE = "sources.json"


def generate(style_dir: str | Path, output: str | Path, chars: str | list[int] = "missing", *, method: str = "auto",
             compat_jamo: bool = False, steps: int = 2, guidance: float = 1.0, lora_scale: float = 1.0,
             hypernetwork_strength: float = 1.0, seed: int = 0, batch_size: int = 64, device: str = "auto",
             base: str | Path = DEFAULT_CHECKPOINT, output_size: int | None = None, ink_level: float | None = None,
             refine: float | None = None, progress: bool = True) -> GenerateReport:
    """Draw the requested syllables in a style folder's style into `output`; returns counts and time.

    `method` "compose" composes every syllable whose jamo the font draws somewhere from the font's own jamo
    (`fontgen.compose`), and has the model draw the rest; "model" has the model draw them all; "auto" (the
    default) is the one learn measured to come closer to the font's held-back syllables (`compose` for a
    style without a model). `output_size` defaults to COMPOSE_SIZE when composing, FINISH_SIZE otherwise.
    `ink_level` (the gray taken as the model's ink edge; higher draws thinner) defaults to the one learn
    measured. `lora_scale` and `hypernetwork_strength` (0 to 1) say how much of a LoRA or a hypernetwork
    style applies (0: textual inversion alone). `compat_jamo` also composes the compatibility letters
    (U+3131-U+318E) the source font lacks.
    `refine` (0 to 1) has the style's model redraw each composed syllable from the composition noised to that
    share of the sampler's schedule (0: the plain composition; 1: the model alone); by default the strength learn
    chose with `auto` (0 unless refining came closer to the font than both composition and the model), else 0.
    A refined glyph is the model's drawing, so it is traced at export, never moved as the font's contours.
    The glyph folder gets sources.json: where each glyph came from and why.
    """
    if method not in METHODS:
        raise FontgenError(f"--method {method}: choose auto, compose or model")
    if ink_level is not None and not 0.05 <= ink_level <= 0.95:
        raise FontgenError(f"--ink-level {ink_level}: choose 0.05 to 0.95 (0.5 is mid-gray)")
    if not 0.0 <= hypernetwork_strength <= 1.0:
        raise FontgenError(f"--hypernetwork-strength {hypernetwork_strength}: choose 0 to 1")
    device = pick_device(device)
    manifest = read_manifest(style_dir)
    known = manifest["source"]["hangul"]
    wanted = resolve_chars(chars, known)
    refine = _refine_strength(refine, method, manifest)
    method, model_reason = _resolve_method(method, manifest)
    if refine and method == "model":
        raise FontgenError(f"--refine {refine}: refinement redraws composed syllables; it does not apply with "
                           "--method model")
    composer = None
    if method == "compose" and not has_inventory(style_dir):
        raise FontgenError(f"{style_dir} has no jamo inventory (learned by an older fontgen); run `fontgen learn` "
                           "again, or pass --method model")
    if has_inventory(style_dir) and (method == "compose" or compat_jamo):  # the letters are always composed
        composer = load_composer(style_dir, known, variants=_variants_if_needed(style_dir, wanted, known))
    output_size = output_size or (COMPOSE_SIZE if method == "compose" else FINISH_SIZE)
    output = Path(output)
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise FontgenError(f"{output}: cannot create the folder ({error.strerror})") from None
    plan = {c: composer.sources(c) if method == "compose" else None for c in wanted}
    for_model = [c for c in wanted if plan[c] is None]
    if for_model and manifest["method"] == "compose":
        if composer is None:
            raise FontgenError(f"{style_dir} was learned with --method compose and has no model; learn with --method "
                               "lora (or ti, dreambooth, hypernetwork), or generate with --method compose")
        why = composer.inventory.missing_jamo(for_model[0])
        raise FontgenError(f"{len(for_model)} of the syllables cannot be composed ({why}, for one) and this style has "
                           "no model; learn with --method lora (or ti, dreambooth, hypernetwork) to draw them")
    style = load_style(style_dir, base, device=device, lora_scale=lora_scale,
                       hypernetwork_strength=hypernetwork_strength) if for_model or refine else None
    if ink_level is None and manifest["method"] != "compose":
        # From the manifest, not the loaded style: the stamp must not depend on whether this run needs the model.
        ink_level = manifest.get("ink_level", INK_LEVEL)
    stamp = {"style_manifest_sha256": file_sha256(Path(style_dir) / MANIFEST_FILE), "method": method, "steps": steps,
             "guidance": guidance, "lora_scale": lora_scale, "seed": seed,
             "hypernetwork_strength": hypernetwork_strength, "scheduler": "ddim",
             "output_size": output_size, "ink_level": ink_level, "edge": f"lanczos, contrast {EDGE_CONTRAST}",
             **({"refine": refine} if refine else {})}  # glyphs drawn before refinement existed stay valid
    _keep_only_this_drawing(output, stamp)
    todo = [c for c in wanted if not glyph_path(output, c).exists()]
    started = time.time()
    bar = tqdm(total=len(todo), desc="generate", unit="glyph", disable=not progress)
    composed, outlined = [c for c in todo if plan[c] is not None], 0
    if refine:
        for codepoint in composed:
            outline_path(output, codepoint).unlink(missing_ok=True)
        _draw_with_model(style, composed, output, steps, guidance, seed, batch_size, device, output_size,
                         ink_level, bar, draft=lambda c: composer.compose(c, plan[c]), strength=refine)
    else:
        for codepoint in composed:
            outlined += save_composed_glyph(composer, codepoint, plan[codepoint], output, output_size)
            bar.update(1)
    by_model = [c for c in todo if plan[c] is None]
    if by_model:
        _draw_with_model(style, by_model, output, steps, guidance, seed, batch_size, device, output_size,
                         ink_level, bar)
    bar.close()
    letters = {}
    if compat_jamo and composer is not None:
        lacking = [letter for letter in COMPAT_JAMO if ord(letter) not in manifest["source"].get("compat_jamo", [])]
        for codepoint, image in compat_jamo_images(composer, lacking).items():
            save_glyph_png(image, glyph_path(output, codepoint), output_size)
            letters[codepoint] = image
    report = sources_report(plan, composer, letters, model_reason, refine)
    write_json_atomic(output / SOURCES_FILE, report)
    contact_sheet(output, wanted, output / "contact_sheet.png")
    # (A syllable is only composed, hence flagged, where there is a composer.)
    check_sheet(output, {c: composer.misread[c] for c in wanted if plan[c] is not None and c in composer.misread},
                output / CHECK_SHEET)
    return GenerateReport(len(todo), len(wanted) - len(todo), time.time() - started, output, len(composed),
                          len(by_model), outlined, len(composed) if refine else 0, report["summary"]["to_check"])


def _resolve_method(method: str, manifest: dict) -> tuple[str, str | None]:
    """`compose` or `model` for `method` (auto: what learn measured to draw this font better; a style without a
    model composes), and why the model draws, if it does."""
    if method != "auto":
        return method, "--method model" if method == "model" else None
    drawing = manifest.get("drawing", {})
    method = drawing.get("chosen", "compose")
    if method != "model":
        return "compose", None  # composed, or composed and refined
    return method, (f"learn measured the model closer to the font's held-back syllables (IoU "
                    f"{drawing['iou']['model']:.3f} against {drawing['iou']['compose']:.3f} composed)")


def _refine_strength(refine: float | None, method: str, manifest: dict) -> float:
    """The refinement strength to draw with: `refine` when given (checked), else what learn chose for `auto`."""
    if refine is None:
        drawing = manifest.get("drawing", {})
        return float(drawing.get("refine", 0.0)) if method == "auto" and drawing.get("chosen") == "refine" else 0.0
    if not 0.0 <= refine <= 1.0:
        raise FontgenError(f"--refine {refine}: choose 0 (the plain composition) to 1 (the model alone)")
    if refine and manifest["method"] == "compose":
        raise FontgenError(f"--refine {refine}: this style was learned with --method compose and has no model to "
                           "refine with; learn with --method lora (or ti, dreambooth, hypernetwork)")
    return float(refine)


def _keep_only_this_drawing(output: Path, stamp: dict) -> None:
    """A glyph folder holds one drawing: glyphs of another style or settings go, and so do a killed run's
    unfinished files (images, outlines, the ink of jamo left to trace)."""
    if _read_stamp(output) != stamp:
        for stale in [*output.glob("U+*.png"), *output.glob("U+*.glif"), *output.glob(f"{TRACED_FOLDER}/U+*.png")]:
            stale.unlink()
        write_json_atomic(output / GLYPHS_STAMP, stamp)
    for leftover in [*output.glob(".*.partial"), *output.glob(f"{TRACED_FOLDER}/.*.partial")]:
        leftover.unlink()


def _variants_if_needed(style_dir, wanted: list[int], known: list[int]):
    """The corpus variant table, read only when a wanted syllable was not planned by learn (e.g. --chars all)."""
    import json

    planned = json.loads((Path(style_dir) / INVENTORY_FILE).read_text()).get("plan", {})
    have = set(known)
    if all(f"U+{c:04X}" in planned or c in have for c in wanted):
        return None
    return VariantTable.shipped()


def _draw_with_model(style, codepoints: list[int], output: Path, steps: int, guidance: float, seed: int,
                     batch_size: int, device: str, output_size: int, ink_level: float, bar, draft=None,
                     strength: float = 1.0) -> None:
    """The model's drawings of `codepoints`, finished and saved; with `draft` (codepoint -> composed image), each
    composition refined at `strength` instead (`fontgen.model.denoise`)."""
    size = style.model.config.image_size
    source = reference_source()
    renderer = GlyphRenderer(source.path, size, face=source.face)
    with torch.inference_mode():
        for start in range(0, len(codepoints), batch_size):
            batch = codepoints[start:start + batch_size]
            fitted = fitted_reference_glyphs(batch, style.fit, size, renderer)
            content = to_model_space(torch.from_numpy(fitted)[:, None])
            ids = style.model.tokenizer.encode(style.token, batch)
            drafts = None if draft is None else to_model_space(
                torch.from_numpy(downsize(np.stack([draft(c) for c in batch]), size))[:, None]).to(device)
            drawn = sample(style.model, content.to(device), ids.to(device), steps=steps, guidance=guidance,
                           noise=glyph_noise(batch, size, seed), draft=drafts, strength=strength)
            for codepoint, image in zip(batch, finish_glyphs(to_uint8(drawn[:, 0]).cpu().numpy(), output_size,
                                                                 ink_level)):
                save_glyph_png(image, glyph_path(output, codepoint), output_size)
            bar.update(len(batch))


MISREAD_NOTE = "learn's jamo recognizer, taught the font's style, reads it as another syllable: look at it first"


def sources_report(plan: dict, composer, compat_letters: dict | None = None, model_reason: str | None = None,
                   refine: float = 0.0) -> dict:
    """Where each glyph came from: composed (from which known syllable each jamo was taken, and how far its
    context is: the share of corpus fonts that draw that jamo differently there; refined by the model at
    `refine`, if above 0; flagged where learn's jamo recognizer, taught the font's style, still read it as another
    syllable: the first a designer should look at) or drawn by the model (why: `model_reason` when the model
    drew them all, else the jamo the font lacks)."""
    glyphs, reasons, compat_letters = {}, {}, compat_letters or {}
    for codepoint, sources in plan.items():
        if sources is not None:
            entry = {"char": chr(codepoint), "from": "composed", "jamo": {}, "context_distance": {}}
            for s in sources:  # a jamo built from two letters has two donors
                role = ROLE_NAMES[s.role]
                entry["jamo"][role] = entry["jamo"].get(role, "") + chr(s.donor)
                entry["context_distance"][role] = round(s.distance, 3)
            built = {ROLE_NAMES[s.role] for s in sources if s.built}
            if built:
                entry["built"] = {role: "from letters the font draws elsewhere, the donors' syllables: "
                                  + entry["jamo"][role] for role in sorted(built)}
            if refine:
                entry["refined"] = refine
            if composer is not None and codepoint in composer.misread:
                entry["check"] = MISREAD_NOTE
                if composer.misread[codepoint] is not None:
                    entry["read_as"] = chr(composer.misread[codepoint])
            glyphs[f"U+{codepoint:04X}"] = entry
        else:
            why = model_reason or (composer.inventory.missing_jamo(codepoint) if composer else "--method model")
            glyphs[f"U+{codepoint:04X}"] = {"char": chr(codepoint), "from": "model", "why": why}
            reasons[why] = reasons.get(why, 0) + 1
    for codepoint in compat_letters:
        glyphs[f"U+{codepoint:04X}"] = {"char": chr(codepoint), "from": "composed",
                                        "why": "a compatibility letter, from the font's own jamo"}
    composed = sum(1 for g in glyphs.values() if g["from"] == "composed")
    return {"summary": {"composed": composed, "model": len(glyphs) - composed, "refined_at": refine,
                        "to_check": sum(1 for g in glyphs.values() if "check" in g),
                        "model_because": dict(sorted(reasons.items(), key=lambda kv: -kv[1]))},
            "glyphs": glyphs}


def _read_stamp(folder: Path) -> dict | None:
    try:
        return json.loads((folder / GLYPHS_STAMP).read_text())
    except (OSError, ValueError):
        return None
