"""`fontgen learn FONT`: learn a font's style from the glyphs it already has.

First the font's jamo inventory (`fontgen.compose`): all that `--method compose` (and `auto`, when it covers
every missing syllable) learns. The model methods then run two stages through the one loop of
`fontgen.finetune`, each keeping its best state on held-back glyphs and stopping early:
Stage 1, textual inversion: a new token, its embedding row (or `num_vectors` rows) trained, everything else frozen.
Stage 2, specialization: a LoRA adapter on the UNet, or DreamBooth (the whole UNet, with a prior-preservation
loss on other fonts' real glyphs under their own tokens), or a hypernetwork (small networks on the prompt
encoding that feeds the cross-attention, the UNet untouched), or nothing (ti).
Last, the style's ink level (`fontgen.ink_level`) and the manifest, written last so that a killed run never
leaves a folder that loads as finished.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from pathlib import Path

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from safetensors import SafetensorError
from safetensors.torch import load_file

import glyph_data
from fontgen.compose import (INVENTORY_FILE, LABELS_FILE, LABELS_VERSION, REPLAN_RULES, Composer, Inventory,
                             downsize, load_composer, write_inventory)
from fontgen.dataset import StyledGlyphs, build_cache, corpus_sources
from fontgen.checkpoint import save_safetensors_atomic
from fontgen.errors import FontgenError
from fontgen.files import atomic_path, write_json_atomic
from fontgen.finetune import (StageResult, UserGlyphs, evaluate, held_back_score, train_stage, user_glyph_loss,
                              with_prior_loss)
from fontgen.fonts import FontSource, compat_jamo_in, file_sha256, font_info, reference_source, require_hangul
from fontgen.hypernetwork import (HYPERNETWORK_FILE, Hypernetwork, apply_hypernetwork, load_hypernetwork,
                                  save_hypernetwork)
from fontgen.jamo import VariantTable
from fontgen.ink_level import style_ink_level
from fontgen.losses import diffusion_loss
from fontgen.model import (CLASS_TOKEN, DEFAULT_CHECKPOINT, GlyphDiffusion, denoise, load_model, model_hash,
                           model_image_size, sample, style_token, to_model_space, to_uint8)
from fontgen.paths import RECIPES, default_cache_dir
from fontgen.readability import recognizer_sha256
from fontgen.recipe import learn_sections, read_recipe
from fontgen.reference import LayoutFit, fitted_reference, fitted_reference_glyphs
from fontgen.render import FINISH_SIZE, INK_LEVEL, GlyphRenderer, crisp, finish_glyphs, ink_iou, similarity
from fontgen.style import (ADAPTER_NAME, EMBEDDINGS_FILE, LORA_FILE, MANIFEST_FILE, STYLE_METHODS, UNET_FILE,
                           add_style_token, load_embedding, save_embedding)

METHODS = STYLE_METHODS
STAGE2_FILES = {"lora": LORA_FILE, "dreambooth": UNET_FILE, "hypernetwork": HYPERNETWORK_FILE}


def token_for_font(path: Path) -> str:
    """`<myfont~1a2b3c>` from the font's file name: its ASCII letters, digits, `_` and `-` (`font` when it has
    none, as `나눔손글씨 펜.ttf`), and a digest of the whole name, so that names differing only in other
    characters get different tokens and no file named like a corpus font meets that font's own token
    (the base model's tokens have no `~`)."""
    readable = re.sub(r"[^0-9A-Za-z_-]+", "", path.stem)[:40] or "font"
    digest = hashlib.sha256(path.stem.encode("utf-8", "surrogatepass")).hexdigest()[:6]
    return f"<{readable}~{digest}>"


def nearest_style_tokens(model: GlyphDiffusion, pairs: StyledGlyphs, count: int = 1, token_rows: int = 8,
                         shortlist: int = 8, drawn_rows: int = 32) -> list[str]:
    """The `count` corpus style tokens (or the class token) under which the model draws the user's glyphs
    best, nearest first.

    The diffusion loss on `token_rows` glyphs shortlists `shortlist` tokens; each then draws `drawn_rows`
    of the user's glyphs with the default sampler, and the ink IoU against the real glyphs orders them.
    The loss alone is a poor judge: it averages every noise level, and the token it likes best changed
    from checkpoint to checkpoint while drawing worse.
    """
    rng = np.random.default_rng(0)
    targets, content, _, codepoints = pairs.batch(rng.integers(0, len(pairs), token_rows))
    targets, content = to_model_space(targets), to_model_space(content)
    candidates = [t for t in model.tokenizer.vocabulary if t.startswith("<") and t != "<null>"] + [CLASS_TOKEN]
    scheduler = model.training_scheduler()
    losses = {}
    with torch.no_grad():
        for token in candidates:
            ids = model.tokenizer.encode(token, codepoints)
            generator = torch.Generator().manual_seed(0)
            losses[token] = diffusion_loss(model, scheduler, targets, content, ids, generator).item()
    ranked = sorted(losses, key=losses.get)
    finalists = ranked[:max(count, shortlist)]
    if len(finalists) == 1 or drawn_rows <= 0:
        return finalists[:count]
    rows = np.random.default_rng(1).choice(len(pairs), min(drawn_rows, len(pairs)), replace=False)
    targets, content, _, codepoints = pairs.batch(rows)
    real = targets[:, 0].numpy()
    content = to_model_space(content)
    drawn_iou = {}
    for token in finalists:
        drawn = sample(model, content, model.tokenizer.encode(token, codepoints), steps=2,
                       generator=torch.Generator().manual_seed(0))
        drawn_iou[token] = float(np.mean([ink_iou(a, b) for a, b in zip(real, to_uint8(drawn[:, 0]).numpy())]))
    return sorted(finalists, key=lambda t: (-drawn_iou[t], losses[t]))[:count]


def user_glyphs(font: Path, face: int, chars: list[int], index: np.ndarray, targets, reference, fit) -> UserGlyphs:
    """The user's glyphs `chars[index]`: content (fitted reference) and target at the model's size from the
    glyph caches, and both again at the finished size."""
    codepoints = [chars[i] for i in index]
    content = fitted_reference(np.asarray(reference.images[0][index]), codepoints, fit)
    return UserGlyphs(to_model_space(torch.from_numpy(content)[:, None]),
                      to_model_space(torch.from_numpy(np.asarray(targets.images[0][index]))[:, None]),
                      codepoints, GlyphRenderer(font, FINISH_SIZE, face=face).render_many(codepoints),
                      fitted_reference_glyphs(codepoints, fit, FINISH_SIZE))


def preview(model: GlyphDiffusion, token: str, held: UserGlyphs, path: Path, count: int = 16,
            ink_level: float = INK_LEVEL) -> None:
    """preview.png: held-back glyphs, real (top row) vs generated at the style's ink level (bottom row)."""
    _, _, drawn = evaluate(model, token, held, count, loss_glyphs=0)  # the drawings alone
    real = to_uint8(held.targets[: len(drawn), 0]).numpy()
    grid = np.concatenate([np.concatenate(list(real), 1), np.concatenate(list(crisp(drawn, ink_level)), 1)], 0)
    with atomic_path(path) as partial:
        Image.fromarray(255 - grid).save(partial, format="PNG")


def learn(font: str | Path, output: str | Path | None = None, method: str = "lora", recipe: str | Path | None = None,
          base: str | Path = DEFAULT_CHECKPOINT, face: int = 0, steps: int | None = None,
          cache_dir: str | Path | None = None, progress: bool = True, resume: bool = False,
          num_vectors: int | None = None, ti_ink_level: bool = False) -> Path:
    """Learn a font's style into a style folder; returns the folder.

    `num_vectors` (default: the recipe's `ti.num_vectors`, else 1) is how many embedding vectors the
    learned token has. `ti_ink_level`: also choose textual inversion's own ink level when a stage 2
    follows it (`fontgen eval` scores the token alone); `--method ti` always does, the others need only
    their last stage's.

    Ctrl-C saves what is finished; `resume` then reuses a finished textual inversion of the same font
    on the same base model and goes on with stage 2.
    """
    if method not in METHODS + ("auto",):
        raise FontgenError(f"unknown method {method!r} (choose from auto, {', '.join(METHODS)})")
    font = Path(font)
    if method == "auto":
        method = method_for_font(font_info(font, face).hangul)
    if method == "compose":
        return _learn_jamo_only(font, output, base, face, cache_dir, progress)
    recipe_path = Path(recipe) if recipe else RECIPES / f"{method}.toml"
    recipe_all = _learn_recipe(recipe_path, method, base)
    settings = {**recipe_all["learn"], **recipe_all["early_stop"]}
    num_vectors = recipe_all["ti"]["num_vectors"] if num_vectors is None else num_vectors
    if not 1 <= num_vectors <= 16:
        raise FontgenError(f"--num-vectors {num_vectors}: choose 1 to 16")
    info = font_info(font, face)
    require_hangul(info, settings["min_glyphs"])
    if not info.missing:
        print(f"{font.name} has all 11,172 syllables: nothing is missing, learning its style anyway")
    out, created = _style_folder(font, output)
    started = time.time()
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    jamo_inventory = _jamo_inventory(font, face, out, info.hangul, cache_dir, progress, created)
    torch.manual_seed(settings["seed"])
    model = load_model(base)
    model.requires_grad_(False)
    ti_ink_level = ti_ink_level or method == "ti"
    glyphs = _training_glyphs(font, face, info.hangul, model.config.image_size, settings, cache_dir, ti_ink_level)
    resumable = {"source_sha256": file_sha256(font), "base_model_sha256": model_hash(base),
                 "num_vectors": num_vectors, "stage1": "done"}
    trained = _train_stages(model, method, glyphs, out, recipe_all, settings, steps, num_vectors, resumable,
                            resume, progress, ti_ink_level)
    ink_level = list(trained.ink_levels.values())[-1]
    preview(model, glyphs.token, glyphs.held, out / "preview.png", ink_level=ink_level)
    # Composed as generate composes: donors chosen with the corpus's variant table.
    composer = load_composer(out, info.hangul, VariantTable.shipped())
    drawing = choose_drawing(model, glyphs.token, glyphs.choice, composer, ink_level)
    manifest = {
        "fontgen": 1, "method": method, "token": glyphs.token, "num_vectors": num_vectors,
        "initialized_from": trained.initial_token,
        "source": {"path": str(font.resolve()), "face": face, "sha256": resumable["source_sha256"],
                   "family": info.family, "hangul": info.hangul, "compat_jamo": compat_jamo_in(font, face)},
        "base_model": str(Path(base)), "base_model_sha256": resumable["base_model_sha256"],
        "image_size": model.config.image_size, "recipe": recipe_all, "recipe_path": str(recipe_path),
        "jamo_inventory": jamo_inventory, **_learned(glyphs, trained, ink_level, drawing),
        "seconds": round(time.time() - started, 1),
    }
    write_json_atomic(out / MANIFEST_FILE, manifest)
    (out / PROGRESS_FILE).unlink(missing_ok=True)
    return out


def _learned(glyphs: TrainingGlyphs, trained: TrainedStages, ink_level: float, drawing: dict) -> dict:
    """The manifest's record of what was learned and on which glyphs: the held-back and choice syllables, the
    layout fit, the files, the ink levels, how generate draws, and each stage's history."""
    return {
        "held_back": glyphs.held.codepoints, "choice_glyphs": glyphs.choice.codepoints,
        "layout_fit": glyphs.fit.affines.tolist(), "artifacts": trained.artifacts,
        "ink_level": ink_level, "ink_levels": trained.ink_levels, "ink_level_glyphs": trained.ink_level_glyphs,
        "drawing": drawing,
        "stages": [{"name": s.name, "steps": s.steps, "best_step": s.best_step, "held_back_score": s.best_score,
                    "held_back_loss": s.best_loss, "seconds": s.seconds, "history": s.history}
                   for s in trained.stages],
    }


PROGRESS_FILE = "progress.json"  # what an interrupted run finished: stage 1, and how many stage-2 steps (saved)


REFINE_STRENGTHS = (0.35, 0.5, 0.7)  # the shares of the sampler's schedule a composition is refined over


def choose_drawing(model: GlyphDiffusion, token: str, held: UserGlyphs, composer: Composer,
                   ink_level: float, batch_size: int = 32) -> dict:
    """How generate draws this style by default (`--method auto`): composed from the font's own jamo, drawn by
    the learned model, or composed and then refined by the model at one of REFINE_STRENGTHS, whichever comes
    closest to `held`, syllables of the font the model never trained on and early stopping never looked at
    (IoU at the finished size).

    Each of them is composed from the font's other syllables and drawn by the model (finished at the style's
    ink level). Neither wins everywhere: composition keeps a printed font's own strokes, the
    model places jamo that composition has to move between contexts better (BENCHMARKS.md); refinement lies
    between the two and is chosen only where it beats both."""
    composed = composer.composed_from_others(held.codepoints)
    rows = [i for i, c in enumerate(held.codepoints) if c in composed]
    if not rows:
        return {"chosen": "model", "refine": 0.0, "glyphs": 0, "iou": {}}
    codepoints = [held.codepoints[i] for i in rows]
    real = held.finished_targets[rows]
    composed = np.stack([composed[c] for c in codepoints])
    model.eval()
    content, ids = held.content[rows], model.tokenizer.encode(token, codepoints)
    noise = torch.randn(content.shape, generator=torch.Generator().manual_seed(0))
    drafts = to_model_space(torch.from_numpy(downsize(composed, model.config.image_size))[:, None])

    def model_iou(strength: float) -> float:
        with torch.no_grad():  # in batches: 118 glyphs at once (2,350 known) would set learn's peak memory
            drawn = torch.cat([denoise(model, content[i:i + batch_size], ids[i:i + batch_size],
                                       noise[i:i + batch_size], steps=2, draft=drafts[i:i + batch_size],
                                       strength=strength) for i in range(0, len(rows), batch_size)])
        return similarity(real, finish_glyphs(to_uint8(drawn[:, 0]).numpy(), FINISH_SIZE, ink_level))["iou"]

    scores = {"compose": similarity(real, downsize(composed, FINISH_SIZE))["iou"], "model": model_iou(1.0)}
    refined = {strength: model_iou(strength) for strength in REFINE_STRENGTHS}
    best_strength = max(refined, key=refined.get)
    chosen = "compose" if scores["compose"] >= scores["model"] else "model"  # a tie keeps the font's strokes
    if refined[best_strength] > scores[chosen]:
        chosen = "refine"
    scores.update({f"refine {strength}": iou for strength, iou in refined.items()})
    return {"chosen": chosen, "refine": best_strength if chosen == "refine" else 0.0, "glyphs": len(rows),
            "iou": {k: round(v, 4) for k, v in scores.items()}}


def _learn_recipe(path: Path, method: str, base: str | Path) -> dict:
    """The learn recipe, checked against the run: its method, and the base model's image size."""
    recipe = read_recipe(path, "learn", learn_sections(method))
    if recipe["learn"]["method"] != method:
        raise FontgenError(f"{path} is a recipe for --method {recipe['learn']['method']}, not {method}")
    base_size = model_image_size(base)
    if base_size is not None and recipe["learn"]["image_size"] != base_size:
        raise FontgenError(f"{path}: [learn] image_size {recipe['learn']['image_size']} is not the base model's "
                           f"({base_size} px)")
    return recipe


@dataclass
class TrainingGlyphs:
    """The user's glyphs as learn uses them: the training pairs, the held-back glyphs early stopping and the
    ink level are measured on, and the wider set textual inversion's ink level is chosen on (when it is)."""

    token: str
    pairs: StyledGlyphs
    held: UserGlyphs
    choice: UserGlyphs  # never trained on nor watched by early stopping: where composing and the model compete
    ti_calibration: UserGlyphs | None
    fit: LayoutFit
    chars: list[int]  # every syllable the font has
    cache_dir: Path


def _training_glyphs(font: Path, face: int, chars: list[int], size: int, settings: dict,
                     cache_dir: Path, ti_ink_level: bool) -> TrainingGlyphs:
    """Held-back glyphs: a fixed share of the user's syllables, at least holdout_min, never trained on; as many
    again for choosing between composing and the model (early stopping picks the model's best state on the
    held-back ones, so the model would look better there than it is); the rest are the training pairs (each
    with its fitted reference glyph as content)."""
    targets = build_cache([FontSource("user", font, face)], chars, size, cache_dir, progress=False)
    reference = build_cache([reference_source()], chars, size, cache_dir, progress=False)
    rng = np.random.default_rng(settings["seed"])
    held_count = max(settings["holdout_min"], int(round(len(chars) * settings["holdout_fraction"])))
    held_index = np.sort(rng.choice(len(chars), min(held_count, len(chars) // 2), replace=False))
    train_mask = np.ones(len(chars), dtype=bool)
    train_mask[held_index] = False
    rest = np.flatnonzero(train_mask)
    choice_index = np.sort(np.random.default_rng(settings["seed"] + 2).choice(
        rest, min(len(held_index), len(rest) // 2), replace=False))
    train_mask[choice_index] = False
    token = token_for_font(font)
    pairs = StyledGlyphs(targets, reference, [token], chars_mask=train_mask[None])
    if len(pairs) == 0:
        raise FontgenError(f"{font}: none of its Hangul glyphs could be rendered")
    fit = pairs.fits[0]
    held = user_glyphs(font, face, chars, held_index, targets, reference, fit)
    choice = user_glyphs(font, face, chars, choice_index, targets, reference, fit)
    # The textual-inversion stage's ink level is also chosen on training glyphs: one token cannot memorize
    # them, and the few held-back glyphs alone cannot tell neighbouring levels apart.
    ti_calibration = None
    if ti_ink_level:
        extra = np.random.default_rng(settings["seed"] + 1).permutation(np.flatnonzero(train_mask))
        ti_calibration = user_glyphs(font, face, chars, np.sort(np.concatenate(
            [held_index, extra[:settings["ink_level_train_glyphs"]]])), targets, reference, fit)
    return TrainingGlyphs(token, pairs, held, choice, ti_calibration, fit, chars, cache_dir)


@dataclass
class TrainedStages:
    """What the model stages left: their results, the files written, the ink level after each stage."""

    stages: list[StageResult]
    initial_token: str
    artifacts: list[str]
    ink_levels: dict[str, float]
    ink_level_glyphs: dict[str, int]


def _train_stages(model: GlyphDiffusion, method: str, glyphs: TrainingGlyphs, out: Path, recipe: dict,
                  settings: dict, steps: int | None, num_vectors: int, resumable: dict, resume: bool,
                  progress: bool, ti_ink_level: bool) -> TrainedStages:
    """Textual inversion (or its saved result, resuming), then the method's stage 2, each saved as it goes:
    `progress.json` records what finished, so that Ctrl-C or a kill loses at most `eval_every` steps.
    The ink level of the last stage is measured, and textual inversion's when `ti_ink_level`."""
    token, pairs, held = glyphs.token, glyphs.pairs, glyphs.held
    progress_file = out / PROGRESS_FILE
    saved = _read_json(progress_file) if resume else None
    if saved is None or any(saved.get(key) != value for key, value in resumable.items()):
        saved = None
    stage2_done = saved.get("stage2_steps", 0) if saved and saved.get("stage2_method") == method else 0
    if type(stage2_done) is not int or stage2_done < 0:
        saved, stage2_done = None, 0  # an edited progress file: nothing of it is trusted
    if saved:
        _check_saved_files(out, [EMBEDDINGS_FILE] + ([STAGE2_FILES[method]] if stage2_done else []))
    try:
        if saved:
            load_embedding(model, out / EMBEDDINGS_FILE)
            stages, initial_token = [], "(resumed)"
        else:
            initial_tokens = nearest_style_tokens(model, pairs, num_vectors)
            initial_token = ", ".join(initial_tokens)
            stages = [_textual_inversion(model, token, initial_tokens, pairs, held, settings, recipe["ti"], steps,
                                         progress)]
            if stages[-1].interrupted:
                raise KeyboardInterrupt
            save_embedding(model, token, out)
        write_json_atomic(progress_file, resumable)
        # A token's drawings barely beat their content glyphs on hand-drawn styles: the widest margin keeps them
        # ahead on the syllables the user lacks. A LoRA's or DreamBooth's beat them widely, and there the margin
        # cost more than it kept (benchmarks/HISTORY.md, learn: "the widest margin").
        ink_levels, ink_level_glyphs = {}, {}
        if ti_ink_level:
            ink_levels["textual inversion"] = style_ink_level(model, token, glyphs.ti_calibration, widest_margin=True)
            ink_level_glyphs["textual inversion"] = len(glyphs.ti_calibration.codepoints)
        artifacts = [EMBEDDINGS_FILE]
        if method in STAGE2_FILES:
            def checkpoint(step: int) -> None:  # the weights first: a kill between the two redoes a few steps
                _save_stage_two(model, method, out)
                write_json_atomic(progress_file, {**resumable, "stage2_method": method,
                                                  "stage2_steps": stage2_done + step})

            saved_weights = out / STAGE2_FILES[method] if stage2_done else None
            stage = STAGE_TWO[method](model, glyphs, settings, recipe, steps, progress, saved_weights, stage2_done,
                                      checkpoint)
            stages.append(stage)
            _save_stage_two(model, method, out)
            artifacts.append(STAGE2_FILES[method])
            if stage.interrupted:
                write_json_atomic(progress_file, {**resumable, "stage2_method": method,
                                                  "stage2_steps": stage2_done + stage.steps})
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        raise FontgenError(f"interrupted; what finished is saved in {out}, run again with --resume") from None
    if method != "ti":
        ink_levels[stages[-1].name] = style_ink_level(model, token, held)
        ink_level_glyphs[stages[-1].name] = len(held.codepoints)
    return TrainedStages(stages, initial_token, artifacts, ink_levels, ink_level_glyphs)


def _save_stage_two(model: GlyphDiffusion, method: str, out: Path) -> None:
    """Stage 2's weights into the style folder, atomically: the LoRA adapter, the hypernetwork or the UNet."""
    if method == "lora":
        partial = out / "lora.partial"
        model.unet.save_lora_adapter(str(partial), adapter_name=ADAPTER_NAME)
        (partial / LORA_FILE).replace(out / LORA_FILE)
        partial.rmdir()
    elif method == "hypernetwork":
        save_hypernetwork(model.hypernetwork, out / HYPERNETWORK_FILE)
    else:
        save_safetensors_atomic(model.unet.state_dict(), out / UNET_FILE, metadata={"format": "pt"})


def _style_folder(font: Path, output: str | Path | None) -> tuple[Path, bool]:
    """The style folder, made, and whether this run made it; a manifest of an earlier learn there is removed
    first, so that a run killed halfway leaves a folder that never loads as a finished style (the new manifest
    is written last)."""
    out = Path(output) if output else font.with_suffix(".fontgen")
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / MANIFEST_FILE).unlink(missing_ok=True)
    except OSError as error:
        raise FontgenError(f"{out}: cannot create the style folder ({error.strerror})") from None
    return out, created


def method_for_font(known: list[int]) -> str:
    """`auto`: the jamo inventory alone when the font's jamo compose every syllable it lacks (a font with the
    2,350 KS X 1001 syllables always does, and most fonts with a few hundred: a consonant is built from
    letters the font draws, ㅒ and ㅖ from its ㅐ and ㅔ with the tick doubled; nothing to train), else LoRA too,
    for the ones that cannot be (another vowel the font never draws: ㅢ, ㅙ, ㅞ, ...)."""
    inventory = Inventory.from_known(known)
    have = set(known)
    composable = all(inventory.can_compose(c) for c in glyph_data.all_syllables() if c not in have)
    return "compose" if composable else "lora"


def _jamo_inventory(font: Path, face: int, out: Path, known: list[int], cache_dir: Path, progress: bool,
                   created: bool) -> dict:
    """The font's jamo inventory in the style folder (kept from an earlier run on the same font file, in this
    folder or any other, with the same recognizer, re-plan rules and segmentation; its labels are kept for the
    same segmentation in any case); its summary. A font refused here, in a folder this run made, leaves no folder
    behind unless labels were saved in it."""
    source_sha256 = file_sha256(font)
    existing = _read_json(out / INVENTORY_FILE)
    if existing and _inventory_is_current(existing, source_sha256):
        return {**existing["summary"], "seconds": 0.0, "kept_from_an_earlier_run": True}
    cached = _inventory_cache(cache_dir, source_sha256)
    if _composes(cached, known) and (summary := _copy_inventory(cached, out, source_sha256)) is not None:
        return {**summary, "seconds": 0.0, "kept_from_an_earlier_run": True}  # learned before into another folder
    started = time.time()
    try:
        summary = write_inventory(font, face, out, known, source_sha256, VariantTable.shipped(), progress,
                                  cache_dir)
    except FontgenError:
        if created and not any(out.glob("*.partial-run")):
            shutil.rmtree(out, ignore_errors=True)
        raise
    try:
        _copy_inventory(out, cached, source_sha256)
    except OSError:
        pass  # a full or read-only cache costs the next run on this font its time, not this run its result
    return {**summary, "seconds": round(time.time() - started, 1)}


def _inventory_is_current(inventory: dict, source_sha256: str) -> bool:
    """Whether a stored jamo inventory was made from this font file by this fontgen's recognizer, re-plan rules
    and segmentation."""
    return (inventory.get("source_sha256") == source_sha256 and isinstance(inventory.get("summary"), dict)
            and inventory.get("recognizer_sha256") == recognizer_sha256()
            and inventory.get("replan_rules") == REPLAN_RULES
            and inventory.get("labels_version") == LABELS_VERSION)


def _inventory_cache(cache_dir: Path, source_sha256: str) -> Path:
    """The cache folder keeping a font file's jamo inventory for learning it again into another folder (a
    2,350-syllable font's takes minutes): one per font file, recognizer, re-plan rules and segmentation."""
    return (Path(cache_dir) / "jamo-inventories" /
            f"{source_sha256[:32]}-{recognizer_sha256()[:16]}-rules{REPLAN_RULES}-labels{LABELS_VERSION}")


def _composes(folder: Path, known: list[int]) -> bool:
    """Whether a folder's jamo inventory loads whole (a cached one damaged on disk is made again, not copied)."""
    if not (folder / INVENTORY_FILE).is_file():
        return False
    try:
        composer = load_composer(folder, known)
    except FontgenError:
        return False
    return bool(composer.font.segmented)  # labels that do not read load as none


def _copy_inventory(source: Path, target: Path, source_sha256: str) -> dict | None:
    """A current jamo inventory (`_inventory_is_current`) copied from one folder into another with the files it
    names (its labels, the known syllables' font), the inventory last: a copy cut short never reads as an
    inventory. Returns its summary (None: the source folder holds no current inventory)."""
    inventory = _read_json(source / INVENTORY_FILE)
    if not inventory or not _inventory_is_current(inventory, source_sha256):
        return None
    names = [LABELS_FILE, inventory.get("source_file")]
    if not all(isinstance(name, str) and Path(name).name == name and (source / name).is_file() for name in names):
        return None
    target.mkdir(parents=True, exist_ok=True)
    for name in names + [INVENTORY_FILE]:
        with atomic_path(target / name) as partial:
            shutil.copyfile(source / name, partial)
    return inventory["summary"]


def learn_report(folder: str | Path) -> list[str]:
    """What learn did, a line per stage: how long it took and what it bought on the held-back glyphs."""
    manifest = json.loads((Path(folder) / MANIFEST_FILE).read_text())
    inventory = manifest.get("jamo_inventory", {})
    missing = inventory.get("composable", 0) + inventory.get("model", 0)
    recut, damaged = inventory.get("shared_strokes_recut", 0), inventory.get("damaged_drawings", 0)
    read = inventory.get("readability") or {}
    notes = ([f"{recut} recut where two jamo share a stroke"] if recut else []) + (
        [f"{damaged} jamo drawings set aside, their cut lost a stroke"] if damaged else []) + (
        [f"{read['misread']:,} composed syllables misread by the recognizer adapted to the font, "
         + _replan_report(read)] if read.get("checked") else [])
    lines = [f"jamo inventory: {inventory.get('labelled', 0)} syllables labelled"
             + (f" ({'; '.join(notes)})" if notes else "")
             + f", {inventory.get('composable', 0):,} "
             f"of the {missing:,} missing composable ({inventory.get('built_jamo', 0):,} with a consonant built from "
             f"letters the font draws), {inventory.get('model', 0):,} left to the model; "
             f"{inventory.get('seconds', 0):.0f} s" + (" (kept from an earlier run)"
                                                      if inventory.get("kept_from_an_earlier_run") else "")]
    moves = inventory.get("moves", {})
    if "iou_reference_placement" in moves:
        by_references, by_boxes = moves["iou_reference_placement"], max(moves["iou_moving_above"].values())
        if moves["placement"] == "references":
            chosen, other, scores = "as the reference fonts place them", "context boxes", (by_references, by_boxes)
        else:
            chosen, other, scores = "by the font's context boxes", "reference placement", (by_boxes, by_references)
        lines.append(f"jamo taken from other syllables placed {chosen} (held-back IoU {scores[0]:.3f} against "
                     f"{scores[1]:.3f} by {other}, {moves['held_back']} syllables)")
    for stage in manifest.get("stages", []):
        metric = manifest["recipe"]["early_stop"].get("metric", "iou")
        start = held_back_score(stage["history"][0], metric)
        lines.append(f"{stage['name']}: {stage['steps']} steps in {stage.get('seconds', 0):.0f} s, held-back {metric} "
                     f"{start:.3f} -> {stage['held_back_score']:.3f} (best at step {stage['best_step']})")
    drawing = manifest.get("drawing")
    if drawing and drawing.get("iou"):
        lines.append(_drawing_report(drawing))
    lines.append(f"in all {manifest.get('seconds', 0):.0f} s")
    return lines


def _replan_report(read: dict) -> str:
    """What learn did with the composed syllables its recognizer misread."""
    if read.get("not_trusted"):  # a style learned when a font misread this much was not re-planned
        return "too many to trust it: none composed again"
    likelier, surer = read.get("likelier", 0), read.get("surer", 0)
    return (f"{read['replanned']:,} of them composed again from donors it reads right"
            + (f", {likelier:,} of the rest from donors it came closer to reading right" if likelier else "")
            + (f"; {surer:,} it read right but unsure of from donors it reads surer" if surer else ""))


def _drawing_report(drawing: dict) -> str:
    """One line: how generate draws by default, and the held-back IoU of each way learn tried."""
    iou = drawing["iou"]
    refined = {key: value for key, value in iou.items() if key.startswith("refine ")}
    chosen = {"compose": "composition", "model": "the model",
              "refine": f"composition refined by the model at strength {drawing.get('refine', 0.0)}"}
    tried = [f"{iou['compose']:.3f} composed", f"{iou['model']:.3f} by the model"]
    if refined:
        best = max(refined, key=refined.get)
        tried.append(f"{refined[best]:.3f} refined at {best.split()[1]}")
    return (f"generate draws with: {chosen[drawing['chosen']]} (held-back IoU {', '.join(tried)}; "
            f"{drawing['glyphs']} syllables)")


def _learn_jamo_only(font: Path, output: str | Path | None, base: str | Path, face: int,
                     cache_dir: str | Path | None, progress: bool) -> Path:
    """`learn --method compose`: the jamo inventory alone, no model (generate composes every syllable whose
    jamo the font draws somewhere and refuses the rest)."""
    started = time.time()
    info = font_info(font, face)
    require_hangul(info, 1)
    out, created = _style_folder(font, output)
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    try:
        summary = _jamo_inventory(font, face, out, info.hangul, cache_dir, progress, created)
    except KeyboardInterrupt:
        raise FontgenError(f"interrupted; the jamo labelled so far are kept in {out}, run again to go on") from None
    manifest = {
        "fontgen": 1, "method": "compose",
        "source": {"path": str(font.resolve()), "face": face, "sha256": file_sha256(font), "family": info.family,
                   "hangul": info.hangul, "compat_jamo": compat_jamo_in(font, face)},
        "base_model": str(Path(base)), "base_model_sha256": model_hash(base), "jamo_inventory": summary,
        "artifacts": [], "seconds": round(time.time() - started, 1),
    }
    write_json_atomic(out / MANIFEST_FILE, manifest)
    return out


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _check_saved_files(out: Path, names: list[str]) -> None:
    """The files a resumed run goes on from read whole: a truncated one is named, not a traceback mid-stage."""
    for name in names:
        try:
            load_file(str(out / name))
        except (OSError, SafetensorError) as error:
            raise FontgenError(f"{out / name}: the saved progress is damaged ({str(error).splitlines()[0][:120]}); "
                               "learn again without --resume") from None


def _textual_inversion(model, token, initial_tokens, pairs, held, settings, ti, steps, progress) -> StageResult:
    """Stage 1: new embedding rows, started from the nearest tokens (one per vector, so that the vectors
    differ and can learn different things); every other row restored each step."""
    embedding = model.prompt_encoder.token_embedding
    initial_ids = [model.tokenizer.ids[t] for t in initial_tokens]
    learned_ids = add_style_token(model, token, embedding.weight[initial_ids].detach().clone(), len(initial_tokens))
    embedding = model.prompt_encoder.token_embedding
    embedding.weight.requires_grad_(True)
    frozen_rows = embedding.weight.detach().clone()
    keep = torch.ones(len(frozen_rows), dtype=torch.bool)
    keep[learned_ids] = False

    def restore_other_rows():
        with torch.no_grad():
            embedding.weight[keep] = frozen_rows[keep]

    result = train_stage("textual inversion", model, [embedding.weight], steps or ti["steps"], ti["learning_rate"],
                         user_glyph_loss(model, token, pairs, settings), token, held, settings,
                         after_step=restore_other_rows, progress=progress)
    embedding.weight.requires_grad_(False)
    return result


def _lora(model, glyphs, settings, recipe, steps, progress, saved: Path | None = None, done: int = 0,
          checkpoint=None) -> StageResult:
    """Stage 2 (lora): a peft LoRA adapter on the UNet, everything else frozen (or going on from a saved one)."""
    from peft import LoraConfig

    lora = recipe["lora"]
    if saved is None:
        model.unet.add_adapter(LoraConfig(r=lora["rank"], lora_alpha=lora["alpha"], init_lora_weights="gaussian",
                                          target_modules=lora["target_modules"]), adapter_name=ADAPTER_NAME)
    else:
        model.unet.load_lora_adapter(str(saved), prefix=None, adapter_name=ADAPTER_NAME)
        for name, parameter in model.unet.named_parameters():
            parameter.requires_grad_("lora_" in name)
    parameters = [p for p in model.unet.parameters() if p.requires_grad]
    return train_stage("LoRA", model, parameters, max(1, (steps or lora["steps"]) - done), lora["learning_rate"],
                       user_glyph_loss(model, glyphs.token, glyphs.pairs, settings), glyphs.token, glyphs.held,
                       settings, progress=progress, checkpoint=checkpoint)


def _hypernetwork(model, glyphs, settings, recipe, steps, progress, saved: Path | None = None, done: int = 0,
                  checkpoint=None) -> StageResult:
    """Stage 2 (hypernetwork): residual networks on the context of every cross-attention's keys and values,
    the UNet frozen (or going on from a saved hypernetwork)."""
    hyper = recipe["hypernetwork"]
    if saved is None:
        hypernetwork = Hypernetwork.for_unet(model.unet, layer_structure=hyper["layer_structure"],
                                             activation=hyper["activation"], dropout=hyper["dropout"])
    else:
        hypernetwork = load_hypernetwork(saved)
    apply_hypernetwork(model, hypernetwork)
    parameters = list(hypernetwork.parameters())
    for parameter in parameters:
        parameter.requires_grad_(True)
    result = train_stage("hypernetwork", model, parameters, max(1, (steps or hyper["steps"]) - done),
                         hyper["learning_rate"], user_glyph_loss(model, glyphs.token, glyphs.pairs, settings),
                         glyphs.token, glyphs.held, settings, progress=progress, checkpoint=checkpoint)
    for parameter in parameters:
        parameter.requires_grad_(False)
    return result


def _prior_glyphs(model, chars, size, cache_dir, prior_fonts: int) -> StyledGlyphs:
    """DreamBooth's class images: real glyphs of corpus fonts the base model knows, under their own tokens."""
    sources = [s for s in corpus_sources("train") if style_token(s.name) in model.tokenizer.ids][:prior_fonts]
    prior_chars = chars[:512]
    targets = build_cache(sources, prior_chars, size, cache_dir, progress=False)
    reference = build_cache([reference_source()], prior_chars, size, cache_dir, progress=False)
    return StyledGlyphs(targets, reference, [style_token(s.name) for s in sources])


def _dreambooth(model, glyphs, settings, recipe, steps, progress, saved: Path | None = None, done: int = 0,
                checkpoint=None) -> StageResult:
    """Stage 2 (dreambooth): the whole UNet, with the prior-preservation loss on other fonts' real glyphs under
    their own tokens (or going on from a saved UNet)."""
    booth = recipe["dreambooth"]
    prior = _prior_glyphs(model, glyphs.chars, model.config.image_size, glyphs.cache_dir, booth["prior_fonts"])
    if saved is not None:
        model.unet.load_state_dict({k: v.float() for k, v in load_file(str(saved)).items()})
    model.unet.requires_grad_(True)
    loss = user_glyph_loss(model, glyphs.token, glyphs.pairs, settings)
    if booth["prior_loss_weight"] > 0:
        loss = with_prior_loss(loss, model, prior, booth["prior_loss_weight"], settings["batch_size"])
    result = train_stage("DreamBooth", model, list(model.unet.parameters()), max(1, (steps or booth["steps"]) - done),
                         booth["learning_rate"], loss, glyphs.token, glyphs.held, settings, progress=progress,
                         checkpoint=checkpoint)
    model.unet.requires_grad_(False)
    return result


STAGE_TWO = {"lora": _lora, "dreambooth": _dreambooth, "hypernetwork": _hypernetwork}
