"""`fontgen eval`: the model against both baselines on held-out glyphs of fonts never trained on.

For each val font, a set of known syllables stands in for the user's font; other syllables of the
same font, never shown to any step, are drawn by each method and scored against the real glyphs
at 128 px: SSIM, RMSE, IoU of the binarized glyph, and placement (ink box edges, in em units).
"""
from __future__ import annotations

import json
import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import glyph_data
from fontgen.baselines import fit_to_font, nearest_corpus_font
from fontgen.compose import COMPOSE_SIZE, downsize, load_composer
from fontgen.dataset import StyledGlyphs, build_cache
from fontgen.errors import FontgenError
from fontgen.export import export_font
from fontgen.files import atomic_path, write_text_atomic
from fontgen.fonts import FontSource, font_info, open_font, reference_source, subset_font
from fontgen.generate import glyph_noise
from fontgen.learn import learn, nearest_style_tokens
from fontgen.model import DEFAULT_CHECKPOINT, load_model, sample, to_model_space, to_uint8
from fontgen.outlines import GlyphOutline, image_digest
from fontgen.paths import default_cache_dir
from fontgen.readability import (RECOGNIZER_DIR, RECOGNIZER_SIZE, JamoRecognizer, read_as_intended,
                                 recognizer_for_font)
from fontgen.reference import fitted_reference_glyphs, ink_boxes
from fontgen.render import FINISH_SIZE, INK_LEVEL, EmFrame, GlyphRenderer, finish_glyphs, frame_for_font, similarity
from fontgen.style import EMBEDDINGS_FILE, load_embedding, load_style, read_manifest
from fontgen.vectorize import TraceParams

SCORE_SIZE = FINISH_SIZE  # drawings are scored as generate writes them


def scores(real: np.ndarray, drawn: np.ndarray) -> dict:
    """Mean SSIM, RMSE (0..1 intensities), IoU (ink >= 128) and placement error (em) over glyph pairs."""
    boxes_real, boxes_drawn = ink_boxes(real), ink_boxes(drawn)
    placement = np.nanmean(np.abs(boxes_real - boxes_drawn), axis=1)
    placement = np.where(np.isnan(placement), 1.0, placement)
    return {**similarity(real, drawn), "placement_em": float(np.mean(placement)), "n": int(len(real))}


def frame_in_other_font(frame: EmFrame, other_units_per_em: int, other_advance: int) -> EmFrame:
    """The same em window expressed in another font's units (to place its glyphs where ours sit)."""
    k = other_units_per_em / frame.units_per_em
    return EmFrame(other_units_per_em, frame.left * k, frame.bottom * k, other_units_per_em, other_advance)


def choose_known(hangul: list[int], known: str | int, seed: int = 0) -> list[int]:
    """An eval case's known syllables: the font's KS X 1001 syllables (`ksx1001`), or `known` of them drawn at
    random with `seed`."""
    have = set(hangul)
    ksx = [c for c in glyph_data.ksx1001_syllables() if c in have]
    if str(known) == "ksx1001":
        return ksx
    rng = np.random.default_rng(seed)
    return sorted(int(c) for c in rng.choice(ksx, min(int(known), len(ksx)), replace=False))


def choose_held_out(rest: list[int], count: int, seed: int = 1) -> list[int]:
    """Held-out syllables, half from KS X 1001 (seen in pretraining, in other fonts) and half from outside
    it (never seen), as far as `rest` has them."""
    ksx = set(glyph_data.ksx1001_syllables())
    seen, unseen = [c for c in rest if c in ksx], [c for c in rest if c not in ksx]
    n_seen = min(len(seen), max(count // 2, count - len(unseen)))
    n_unseen = min(len(unseen), count - n_seen)
    rng = np.random.default_rng(seed)
    chosen = list(rng.choice(seen, n_seen, replace=False)) if n_seen else []
    chosen += list(rng.choice(unseen, n_unseen, replace=False)) if n_unseen else []
    return sorted(int(c) for c in chosen)


def draw(model, token: str, fit, held: list[int], steps: int) -> np.ndarray:
    """Held-out glyphs drawn by a model (uint8 ink at the model's size), with the same noise as generate."""
    size = model.config.image_size
    content = fitted_reference_glyphs(held, fit, size)
    ids = model.tokenizer.encode(token, held)
    with torch.inference_mode():
        drawn = sample(model, to_model_space(torch.from_numpy(content)[:, None]), ids, steps=steps,
                       noise=glyph_noise(held, size, 0))
    return to_uint8(drawn[:, 0]).numpy()


def base_with_nearest_token(base: Path, subset_path: Path, known: list[int], cache_dir: Path):
    """The base model alone, the style given by the train font's token closest to the known glyphs."""
    model = load_model(base)
    size = model.config.image_size
    targets = build_cache([FontSource("eval", subset_path)], known, size, cache_dir, progress=False)
    reference = build_cache([reference_source()], known, size, cache_dir, progress=False)
    pairs = StyledGlyphs(targets, reference, ["<eval>"])
    return model, nearest_style_tokens(model, pairs)[0], pairs.fits[0]


def model_drawings(method: str, font_path: Path, subset_path: Path, known: list[int], held: list[int], base: Path,
                   workdir: Path, learn_steps: int | None, cache_dir: Path, steps: int = 2,
                   recipe: Path | None = None) -> tuple[dict, dict, str, dict | None]:
    """Held-out glyphs drawn at the model's size: by the base model with the nearest train token, and, for
    a learn method, by textual inversion alone (the learned token on the base model) and by the method;
    the ink level each is finished at (learn's, for the learned styles); also the token used and, after
    learning, its time, stages and file sizes."""
    model, nearest_token, fit = base_with_nearest_token(base, subset_path, known, cache_dir)
    drawings = {"base": draw(model, nearest_token, fit, held, steps)}
    ink_levels = {"base": INK_LEVEL}
    if method == "nearest":
        return drawings, ink_levels, nearest_token, None
    style_dir = learn(subset_path, workdir / f"{font_path.stem}.{method}.fontgen", method=method, base=base,
                      recipe=recipe, steps=learn_steps, cache_dir=cache_dir, progress=False, ti_ink_level=True)
    ti_model = load_model(base)
    token = load_embedding(ti_model, style_dir / EMBEDDINGS_FILE)
    drawings["ti"] = draw(ti_model, token, fit, held, steps)
    manifest = read_manifest(style_dir)
    ink_levels["ti"] = manifest["ink_levels"]["textual inversion"]
    if method != "ti":
        style = load_style(style_dir, base)
        drawings[method] = draw(style.model, style.token, style.fit, held, steps)
        ink_levels[method] = style.ink_level
    learned = {"seconds": manifest["seconds"],
               "stages": {s["name"]: {"steps": s["steps"], "best_step": s["best_step"],
                                      "held_back_score": round(s["held_back_score"], 4)} for s in manifest["stages"]},
               "artifact_bytes": {name: (style_dir / name).stat().st_size for name in manifest["artifacts"]}}
    return drawings, ink_levels, token, learned


def composed_drawings(subset_path: Path, known: list[int], held: list[int], workdir: Path,
                      fallback: np.ndarray) -> tuple[np.ndarray, dict, np.ndarray, dict[int, GlyphOutline]]:
    """Held-out glyphs composed from the known syllables' jamo (`learn --method compose`, then what generate
    does) at COMPOSE_SIZE, the `fallback` drawing (the base model's) where a jamo is missing; also which
    were composed, the inventory's summary and time, and the composed glyphs' outlines where the font's own
    contours could be moved (as generate writes them beside the images)."""
    started = time.time()
    style_dir = learn(subset_path, workdir / f"{subset_path.stem}.compose.fontgen", method="compose",
                      progress=False)
    composer = load_composer(style_dir, known)  # held-out syllables are missing ones: learn planned them all
    seconds = time.time() - started
    images, composed, outlines = fallback.copy(), np.zeros(len(held), dtype=bool), {}
    for i, codepoint in enumerate(held):
        sources = composer.sources(codepoint)
        if sources is not None:
            (images[i], outline), composed[i] = composer.compose_glyph(codepoint, sources), True
            if outline is not None:
                outlines[codepoint] = GlyphOutline(outline.contours, composer.font.frame, composer.font.outline_format,
                                                   image_digest(images[i]), outline.traced)
    learned = {"seconds": round(seconds, 1), "jamo_inventory": read_manifest(style_dir)["jamo_inventory"],
               "outlines": len(outlines),
               "outlines_partly_traced": sum(outline.traced is not None for outline in outlines.values())}
    return composed, learned, images, outlines


def through_font_file(subset_path: Path, images: np.ndarray, held: list[int], frame: EmFrame, workdir: Path,
                      outlines: dict[int, GlyphOutline] | None = None) -> np.ndarray:
    """The drawn glyphs as a user gets them: traced (or their moved outlines), written into the font, rendered
    from the font file."""
    out = workdir / f"{subset_path.stem}-completed.ttf"
    export_font(subset_path, dict(zip(held, images)), out, params=TraceParams(upscale_to=384),
                replace_existing=True, outlines=outlines, progress=False)
    return GlyphRenderer(out, SCORE_SIZE, frame=frame).render_many(held)


@dataclass
class EvalCase:
    """A corpus font cut down to its known syllables (the stand-in for a user's font, `subset_path`) and
    the held-out syllables to draw, seen in the frame of the known glyphs."""

    font: glyph_data.CorpusFont
    known: list[int]
    held: list[int]
    subset_path: Path
    frame: EmFrame

    def real(self, size: int = SCORE_SIZE) -> np.ndarray:
        """The held-out glyphs as the font has them (uint8 at `size` px): what drawings are scored against."""
        return GlyphRenderer(self.font.path, size, face=self.font.face, frame=self.frame).render_many(self.held)


def eval_case(name: str, known_spec: str | int, held_out: int, workdir: Path) -> EvalCase:
    """Choose a corpus font's known and held-out syllables (see `choose_known`, `choose_held_out`) and write
    the font cut down to the known ones into `workdir`."""
    font = glyph_data.corpus_font(name)
    info = font_info(font.path, font.face)
    known = choose_known(info.hangul, known_spec)
    held = choose_held_out(sorted(set(info.hangul) - set(known)), held_out)
    subset_path = subset_font(font.path, font.face, known, Path(workdir) / f"{font.path.stem}-known.ttf")
    # Everything is seen in the frame of the known glyphs, as learn, generate and export see the font
    # (a proportional font's median advance, hence its frame, depends on which syllables it has).
    return EvalCase(font, known, held, subset_path, frame_for_font(open_font(subset_path, lazy=True)))


def evaluate_font(name: str, known_spec: str | int, held_out: int, method: str, base: Path, workdir: Path,
                  learn_steps: int | None, cache_dir: Path, steps: int = 2,
                  recipe: Path | None = None) -> tuple[dict, np.ndarray, dict]:
    """Scores of every method on one corpus font, a picture (rows: real, the method, the method through
    the font file, reference, nearest), and the glyphs scored: the real ones and each model's drawings
    before finishing (so that a change to the finish can be re-scored without drawing again)."""
    if glyph_data.corpus_font(name).split == "train":
        raise FontgenError(f"{name} is a train font; quality is only measured on val fonts")
    case = eval_case(name, known_spec, held_out, workdir)
    path, known, held, subset_path, frame = case.font.path, case.known, case.held, case.subset_path, case.frame
    real = case.real()
    started = time.time()
    drawn, ink_levels, token, learned = model_drawings("nearest" if method == "compose" else method, path,
                                                       subset_path, known, held, base, workdir, learn_steps,
                                                       cache_dir, steps, recipe)
    images = {label: finish_glyphs(d, SCORE_SIZE, ink_levels[label]) for label, d in drawn.items()}
    main = method if method != "nearest" else "base"
    for_font_file = images[main] if method != "compose" else None
    composed, outlines = None, None
    if method == "compose":
        composed, learned, for_font_file, outlines = composed_drawings(
            subset_path, known, held, workdir, finish_glyphs(drawn["base"], COMPOSE_SIZE, INK_LEVEL))
        images["compose"] = downsize(for_font_file, SCORE_SIZE)
    model_seconds = time.time() - started
    images["font file"] = through_font_file(subset_path, for_font_file, held, frame, workdir, outlines)
    fit = fit_to_font(subset_path, known)
    images["reference"] = fitted_reference_glyphs(held, fit, SCORE_SIZE)
    nearest = nearest_corpus_font(path, known, cache_dir, face=case.font.face, required=held)
    nearest_font = open_font(nearest.path, nearest.face, lazy=True)
    nearest_frame = frame_in_other_font(frame, nearest_font["head"].unitsPerEm, frame_for_font(nearest_font).advance)
    images["nearest"] = GlyphRenderer(nearest.path, SCORE_SIZE, face=nearest.face, frame=nearest_frame).render_many(held)

    ksx = set(glyph_data.ksx1001_syllables())
    seen = np.array([c in ksx for c in held])
    result = {"font": name, "kind": case.font.kind, "known": len(known), "held_out": len(held),
              "method": method, "sampling_steps": steps, "token": token, "nearest_font": nearest.name,
              "model_seconds": round(model_seconds, 1), "learned": learned, "ink_levels": ink_levels,
              "held_codepoints": held, "scores": {},
              # The process's peak so far: this font's own when it is the first (or only) one evaluated.
              "process_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    if composed is not None:
        result["composed"] = int(composed.sum())
    recognizer = font_recognizer(subset_path, known, frame)
    if recognizer is not None:
        result["recognizer_adapted_on"] = len(known)
        result["real_read_as_intended"] = float(read_as_intended(recognizer, real, held).mean())
    for label, drawn_images in images.items():
        result["scores"][label] = {"all": scores(real, drawn_images)}
        if recognizer is not None:
            result["scores"][label]["all"]["read_as_intended"] = float(read_as_intended(recognizer, drawn_images,
                                                                                        held).mean())
        for part, mask in (("seen", seen), ("unseen", ~seen)):
            if mask.any():
                result["scores"][label][part] = scores(real[mask], drawn_images[mask])
    show = slice(0, 12)
    rows = [real] + [images[label] for label in (main, "font file", "reference", "nearest")]
    picture = np.concatenate([np.concatenate(list(row[show]), 1) for row in rows], 0)
    raw = {"real": real, "reference": images["reference"], **{f"drawn/{label}": d for label, d in drawn.items()}}
    if composed is not None:
        raw["composed"] = images["compose"]
    return result, picture, raw


def font_recognizer(subset_path: Path, known: list[int], frame: EmFrame,
                    folder: Path = RECOGNIZER_DIR) -> JamoRecognizer | None:
    """The jamo recognizer in `folder` (the shipped one) adapted to a font's style on its known glyphs (never the
    held-out ones; None without a recognizer there)."""
    images = GlyphRenderer(subset_path, RECOGNIZER_SIZE, frame=frame).render_many(known)
    # Another seed than learn's (which re-plans the composed syllables its recognizer misreads), so that eval does
    # not grade those plans with the very recognizer that chose them.
    return recognizer_for_font(images, known, seed=1, folder=folder)


METRICS = {"ssim": "SSIM (higher is better)", "rmse": "RMSE", "iou": "IoU (higher is better)",
           "placement_em": "placement error (em)", "read_as_intended": "read as intended (real glyphs: {real})"}


def markdown_table(results: list[dict]) -> str:
    """One row per font and metric; one column per way of drawing the held-out glyphs (best in bold)."""
    labels = list(dict.fromkeys(label for r in results for label in r["scores"]))
    lines = ["| font | known | held out | metric | " + " | ".join(labels) + " | nearest font |",
             "|---|---|---|---|" + "---|" * (len(labels) + 1)]
    for r in results:
        for metric, title in METRICS.items():
            values = {label: r["scores"][label]["all"][metric] for label in labels
                      if label in r["scores"] and metric in r["scores"][label]["all"]}
            if not values:
                continue
            title = title.format(real=f"{r.get('real_read_as_intended', float('nan')):.3f}")
            best = (max if metric in ("ssim", "iou", "read_as_intended") else min)(values.values())
            cells = [("**%.3f**" if values[label] == best else "%.3f") % values[label] if label in values else "-"
                     for label in labels]
            lines.append(f"| {r['font']} | {r['known']} | {r['held_out']} | {title} | " + " | ".join(cells)
                         + f" | {r['nearest_font']} |")
    return "\n".join(lines)


def evaluate_fonts(fonts: list[str] | None = None, known: str | int = "ksx1001", held_out: int = 64,
                   method: str = "nearest", base: str | Path = DEFAULT_CHECKPOINT, output: str | Path = "runs/eval",
                   learn_steps: int | None = None, steps: int = 2, recipe: str | Path | None = None) -> str:
    """Evaluate on val fonts; writes eval.md, eval.json and eval.png into `output` (after each font, so
    a stopped run keeps what it measured); returns the table."""
    fonts = fonts or [f.name for f in glyph_data.corpus_split("val") if f.available]
    for name in fonts:
        try:
            glyph_data.corpus_font(name)
        except KeyError:
            raise FontgenError(f"{name}: not a corpus font (see glyph_data/corpus.toml)") from None
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    cache_dir = default_cache_dir()
    results, pictures = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in fonts:
            result, picture, raw = evaluate_font(name, known, held_out, method, Path(base), Path(tmp), learn_steps,
                                                 cache_dir, steps, Path(recipe) if recipe else None)
            results.append(result)
            pictures.append(picture)
            print("\n".join(markdown_table([result]).splitlines()[2:]), flush=True)
            write_report(results, pictures, output)
            save_drawings(raw, result, output / "drawings" / f"{name}.safetensors")
    return markdown_table(results)


def save_drawings(raw: dict, result: dict, path: Path) -> None:
    """The real held-out glyphs and their fitted reference glyphs (128 px), each model's unfinished drawings,
    the codepoints, and the ink level each drawing was finished at (metadata), as safetensors."""
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    codepoints = np.array(result["held_codepoints"], dtype=np.int32)
    levels = result["ink_levels"]
    with atomic_path(path) as partial:
        save_file({**raw, "codepoints": codepoints}, partial, metadata={"ink_levels": json.dumps(levels)})


def write_report(results: list[dict], pictures: list[np.ndarray], output: Path) -> None:
    """eval.md, eval.json and eval.png (per font: real, the method, through the font file, reference, nearest)."""
    write_text_atomic(output / "eval.md", markdown_table(results) + "\n")
    write_text_atomic(output / "eval.json", json.dumps(results, indent=1))
    gap = np.zeros((8, pictures[0].shape[1]), dtype=np.uint8)
    with atomic_path(output / "eval.png") as partial:
        Image.fromarray(255 - np.concatenate([x for p in pictures for x in (p, gap)], 0)).save(partial, format="PNG")
