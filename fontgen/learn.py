"""`fontgen learn FONT`: learn a font's style from the glyphs it already has.

Stage 1, textual inversion: a new token, its embedding row (or `num_vectors` rows) trained, everything else frozen.
Stage 2, specialization: a LoRA adapter on the UNet (the default model), or DreamBooth (the whole UNet, with a
prior-preservation loss on other fonts' real glyphs under their own tokens), or a hypernetwork (small networks
on the prompt encoding that feeds the cross-attention, the UNet untouched), or nothing (ti).
Each stage watches the loss and the SSIM and IoU of held-back glyphs (the recipe says which score counts),
keeps its best state and stops early.
Both stages train on the recipe's `train_loss`: "sampler-steps" (the default recipes: each noise level
the 2-step sampler visits, fed the sampler's own previous guess) or "diffusion" (DDPM, every noise level);
with `sampler_loss_weight` also on glyphs drawn by the sampler with gradients through every step.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file
from tqdm import tqdm

import glyph_data
from fontgen.compose import INVENTORY_FILE, Inventory, write_inventory
from fontgen.dataset import StyledGlyphs, build_cache, corpus_sources
from fontgen.errors import FontgenError
from fontgen.checkpoint import save_safetensors_atomic
from fontgen.files import write_json_atomic
from fontgen.fonts import FontSource, compat_jamo_in, file_sha256, font_info, reference_source, require_hangul
from fontgen.hypernetwork import (HYPERNETWORK_FILE, Hypernetwork, apply_hypernetwork, load_hypernetwork,
                                  save_hypernetwork)
from fontgen.jamo import VariantTable
from fontgen.model import (CLASS_TOKEN, DEFAULT_CHECKPOINT, GlyphDiffusion, denoise, load_model, model_hash,
                           model_image_size, sample, style_token, to_model_space, to_uint8)
from fontgen.paths import RECIPES, default_cache_dir
from fontgen.pretrain import diffusion_loss
from fontgen.recipe import learn_sections, read_recipe
from fontgen.reference import fitted_reference, fitted_reference_glyphs
from fontgen.render import FINISH_SIZE, INK_LEVEL, GlyphRenderer, crisp, ink_iou, resize_soft, similarity
from fontgen.style import (ADAPTER_NAME, EMBEDDINGS_FILE, LORA_FILE, MANIFEST_FILE, UNET_FILE, add_style_token,
                           load_embedding, save_embedding)

METHODS = ("compose", "ti", "lora", "dreambooth", "hypernetwork")
STAGE2_FILES = {"lora": LORA_FILE, "dreambooth": UNET_FILE, "hypernetwork": HYPERNETWORK_FILE}


def token_for_font(path: Path) -> str:
    """`<myfont~1a2b3c>` from the font's file name: its ASCII letters, digits, `_` and `-` (`font` when it has
    none, as `나눔손글씨 펜.ttf`), and a digest of the whole name, so that names differing only in other
    characters get different tokens and no file named like a corpus font meets that font's own token
    (the base model's tokens have no `~`)."""
    readable = re.sub(r"[^0-9A-Za-z_-]+", "", path.stem)[:40] or "font"
    digest = hashlib.sha256(path.stem.encode("utf-8", "surrogatepass")).hexdigest()[:6]
    return f"<{readable}~{digest}>"


@dataclass
class UserGlyphs:
    """Some of the user's glyphs, ready for the model and for finishing."""

    content: torch.Tensor
    targets: torch.Tensor
    codepoints: list[int]
    finished_targets: np.ndarray  # the same glyphs (uint8) at the size generate finishes drawings at
    finished_content: np.ndarray  # their fitted reference glyphs (the content input) at that size
    noise_seed: int = 1234


@dataclass
class StageResult:
    name: str
    steps: int
    best_step: int
    best_score: float
    best_loss: float
    history: list[dict] = field(default_factory=list)
    interrupted: bool = False  # Ctrl-C: the stage stopped early, at its best state so far
    seconds: float = 0.0


def evaluate(model: GlyphDiffusion, token: str, held: UserGlyphs, sample_glyphs: int) -> tuple[float, dict, np.ndarray]:
    """Validation loss (fixed noise), and SSIM and IoU of a few drawn held-back glyphs; also the drawings."""
    model.eval()
    with torch.no_grad():
        ids = model.tokenizer.encode(token, held.codepoints)
        generator = torch.Generator().manual_seed(held.noise_seed)
        loss = diffusion_loss(model, model.training_scheduler(), held.targets, held.content, ids, generator).item()
        n = min(sample_glyphs, len(held.codepoints))
        drawn = sample(model, held.content[:n], ids[:n], steps=2, generator=torch.Generator().manual_seed(0))
    drawn_u8 = to_uint8(drawn[:, 0]).numpy()
    real_u8 = to_uint8(held.targets[:n, 0]).numpy()
    scores = similarity(real_u8, drawn_u8)
    return loss, {"ssim": scores["ssim"], "iou": scores["iou"]}, drawn_u8


def sampler_loss(model: GlyphDiffusion, targets: torch.Tensor, content: torch.Tensor, input_ids: torch.Tensor,
                 steps: int = 2) -> torch.Tensor:
    """MSE of glyphs drawn by the few-step sampler itself (gradients through every step) against the real ones.

    The diffusion loss trains each noise level on noised real glyphs, but the sampler's second step sees its
    own first guess re-noised; on styles far from the base model the two part ways (the loss falls while the
    drawn glyphs fall apart), so this trains what generate will actually run.
    """
    drawn = denoise(model, content, input_ids, torch.randn(targets.shape), steps=steps)
    return torch.nn.functional.mse_loss(drawn, targets)


def sampler_steps_loss(model: GlyphDiffusion, targets: torch.Tensor, content: torch.Tensor, input_ids: torch.Tensor,
                       steps: int = 2, backward: bool = False) -> torch.Tensor:
    """The clean-glyph loss at each noise level the few-step sampler visits, each step fed the sampler's own
    previous guess (detached), averaged over the steps.

    The diffusion loss trains every noise level on noised real glyphs; generate runs two levels only,
    and its second step sees the first step's guess re-noised, a blurrier glyph than any real one. On
    styles far from the base model that gap shows as speckled, broken strokes. Unlike `sampler_loss` no
    gradient flows from step to step, so each step costs one forward and backward pass. With `backward`
    each step's gradients are taken before the next step runs, so only one step's graph is ever in memory
    (1.4 GB less peak memory in learn at batch 16), and the returned mean is detached.
    """
    scheduler = model.sampling_scheduler()
    scheduler.set_timesteps(steps)
    latents = torch.randn(targets.shape).to(targets.device) * scheduler.init_noise_sigma
    losses = []
    for t in scheduler.timesteps:
        timesteps = torch.full((targets.shape[0],), int(t), dtype=torch.long, device=targets.device)
        # The prompt is encoded again each step: a step's backward frees its graph, the prompt encoder's included.
        predicted = model(latents, timesteps, content, input_ids)
        loss = torch.nn.functional.mse_loss(predicted, targets) / len(scheduler.timesteps)
        if backward:
            loss.backward()
            loss = loss.detach()
        losses.append(loss)
        latents = scheduler.step(predicted.detach(), t, latents).prev_sample
    return torch.stack(losses).sum()


def held_back_score(scores: dict, metric: str) -> float:
    """The number early stopping keeps the highest of: "loss" (minus the held-back diffusion loss),
    "ssim", "iou" or "ssim+iou" (their mean) of a few held-back glyphs drawn.

    The loss is an average over every noise level and many glyphs, so it moves smoothly; the scores of
    a few drawn glyphs are noisy, and SSIM rewards paper (on thin strokes a lighter, emptier glyph can
    score higher), which can keep a stage at its very first state.
    """
    if metric == "loss":
        return -scores["loss"]
    if metric == "ssim+iou":
        return (scores["ssim"] + scores["iou"]) / 2
    if metric not in scores:
        raise FontgenError(f"unknown early-stop metric {metric!r} (loss, ssim, iou or ssim+iou)")
    return scores[metric]


def train_stage(name: str, model: GlyphDiffusion, parameters: list[torch.nn.Parameter], steps: int, lr: float,
                token: str, pairs: StyledGlyphs, held: UserGlyphs, settings: dict, after_step=None,
                prior: StyledGlyphs | None = None, prior_weight: float = 0.0, progress: bool = True,
                checkpoint=None) -> StageResult:
    """One readable fine-tuning loop with early stopping; leaves the model at its best state.

    Ctrl-C ends the stage like early stopping does, with `interrupted` set, so the caller can save it;
    `checkpoint(step)`, called after each held-back evaluation, saves the model as it is, so that a killed
    run loses at most `eval_every` steps.
    """
    started = time.time()
    rng = np.random.default_rng(settings["seed"])
    optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=0.0)
    scheduler = model.training_scheduler()
    batch_size = settings["batch_size"]
    eval_every, patience = settings["eval_every"], settings["patience"]
    metric, sampler_weight, train_loss = settings["metric"], settings["sampler_loss_weight"], settings["train_loss"]
    if train_loss not in ("diffusion", "sampler-steps"):
        raise FontgenError(f"unknown train_loss {train_loss!r} (diffusion or sampler-steps)")
    best_loss, held_scores, _ = evaluate(model, token, held, settings["sample_glyphs"])
    best_score = held_back_score({**held_scores, "loss": best_loss}, metric)
    best_state, best_step, waited = [p.detach().clone() for p in parameters], 0, 0
    result = StageResult(name, 0, 0, best_score, best_loss, [{"step": 0, "loss": best_loss, **held_scores}])
    bar = tqdm(range(1, steps + 1), desc=name, disable=not progress)
    try:
        for step in bar:
            model.train()
            targets, content, _, codepoints = pairs.batch(rng.integers(0, len(pairs), batch_size))
            ids = model.tokenizer.encode(token, codepoints)
            targets, content = to_model_space(targets), to_model_space(content)
            if train_loss == "sampler-steps":
                loss = sampler_steps_loss(model, targets, content, ids, backward=True)  # gradients already taken
            else:
                loss = diffusion_loss(model, scheduler, targets, content, ids)
            if sampler_weight > 0:
                loss = loss + sampler_weight * sampler_loss(model, targets, content, ids)
            if prior is not None and prior_weight > 0:
                p_targets, p_content, p_styles, p_codepoints = prior.batch(rng.integers(0, len(prior), batch_size))
                p_ids = model.tokenizer.encode_many(p_styles, p_codepoints)
                loss = loss + prior_weight * diffusion_loss(model, scheduler, to_model_space(p_targets),
                                                            to_model_space(p_content), p_ids)
            if loss.requires_grad:  # the terms whose gradients are not taken yet
                loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if after_step:
                after_step()
            bar.set_postfix(loss=f"{loss.item():.4f}", best=f"{best_score:.3f}")
            result.steps = step
            if step % eval_every == 0 or step == steps:
                val_loss, held_scores, _ = evaluate(model, token, held, settings["sample_glyphs"])
                result.history.append({"step": step, "loss": val_loss, **held_scores})
                score = held_back_score({**held_scores, "loss": val_loss}, metric)
                if score > best_score + 1e-4:
                    best_score, best_loss, best_step, waited = score, val_loss, step, 0
                    best_state = [p.detach().clone() for p in parameters]
                else:
                    waited += 1
                    if waited >= patience:
                        break
                if checkpoint and step < steps:
                    checkpoint(step)
    except KeyboardInterrupt:
        result.interrupted = True
    bar.close()
    with torch.no_grad():
        for parameter, value in zip(parameters, best_state):
            parameter.copy_(value)
    result.best_step, result.best_score, result.best_loss = best_step, best_score, best_loss
    result.seconds = round(time.time() - started, 1)
    return result


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
            losses[token] = diffusion_loss(model, scheduler, targets, content, ids, torch.Generator().manual_seed(0)).item()
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


INK_LEVELS = tuple(round(0.25 + 0.05 * i, 2) for i in range(12))  # 0.25 .. 0.8, the levels learn chooses from


def ink_level_score(scores: dict) -> float:
    """One number from `render.similarity`'s scores: the mean of IoU, SSIM and 1 - RMSE."""
    return (scores["iou"] + scores["ssim"] + 1.0 - scores["rmse"]) / 3.0


def choose_ink_level(drawn: np.ndarray, real: np.ndarray, content: np.ndarray | None = None,
                     levels: tuple[float, ...] = INK_LEVELS, widest_margin: bool = False) -> tuple[float, dict]:
    """The gray level (0..1) that, taken as the ink edge, best finishes the drawn glyphs (uint8 at the model's
    size) into the real ones (uint8 at the finished size); also each level's IoU, SSIM and RMSE.

    A model unsure of a style's strokes draws them soft and often too heavy (or too light); the level
    where the finished drawings best match the font's own glyphs gives them the font's weight. Each of the
    three scores eval reports is degenerate alone: IoU always prefers heavier strokes (misplaced ones overlap
    more), SSIM fainter ones (bare paper scores well), so the level with the best mean of the three is chosen.
    With `content` (the fitted reference glyphs at the finished size, what a user would get without fontgen)
    only among the levels at which the drawings score at least as well as their content glyphs on each of the
    three, when there are any (past some level the mean buys SSIM by thinning strokes into fragments); with
    `widest_margin` too, the level at which they beat the content glyphs by the widest margin on the worst of
    the three: the mean sits on the edge where one score just stops losing, and on the syllables a user lacks
    that edge moves (brush and pen strokes drawn by a print style: IoU below the plain reference font's).
    """
    soft = resize_soft(drawn, real.shape[-1])
    level_scores = {level: similarity(real, crisp(soft, level)) for level in levels}
    candidates = list(levels)
    if content is not None:
        floor = similarity(real, content)
        if widest_margin:
            return max(levels, key=lambda level: worst_margin(level_scores[level], floor)), level_scores
        candidates = [level for level in levels if worst_margin(level_scores[level], floor) >= 0] or candidates
    return max(candidates, key=lambda level: ink_level_score(level_scores[level])), level_scores


def worst_margin(scores: dict, floor: dict) -> float:
    """How far `scores` beat `floor` on the worst of IoU, SSIM and RMSE (negative: lose on at least one)."""
    return min(scores["iou"] - floor["iou"], scores["ssim"] - floor["ssim"], floor["rmse"] - scores["rmse"])


def style_ink_level(model: GlyphDiffusion, token: str, glyphs: UserGlyphs, widest_margin: bool = False,
                    batch_size: int = 64) -> float:
    """The ink level of the model's current style: `glyphs` drawn with the 2-step sampler, the level chosen by
    `choose_ink_level` against the real glyphs and their content glyphs."""
    model.eval()
    drawn = []
    with torch.no_grad():
        for start in range(0, len(glyphs.codepoints), batch_size):
            codepoints = glyphs.codepoints[start:start + batch_size]
            ids = model.tokenizer.encode(token, codepoints)
            images = sample(model, glyphs.content[start:start + batch_size], ids, steps=2,
                            generator=torch.Generator().manual_seed(start))
            drawn.append(to_uint8(images[:, 0]).numpy())
    return choose_ink_level(np.concatenate(drawn), glyphs.finished_targets, glyphs.finished_content,
                            widest_margin=widest_margin)[0]


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
    _, _, drawn = evaluate(model, token, held, count)
    real = to_uint8(held.targets[: len(drawn), 0]).numpy()
    grid = np.concatenate([np.concatenate(list(real), 1), np.concatenate(list(crisp(drawn, ink_level)), 1)], 0)
    Image.fromarray(255 - grid).save(path)


def learn(font: str | Path, output: str | Path | None = None, method: str = "lora", recipe: str | Path | None = None,
          base: str | Path = DEFAULT_CHECKPOINT, face: int = 0, steps: int | None = None,
          cache_dir: str | Path | None = None, progress: bool = True, resume: bool = False,
          num_vectors: int | None = None) -> Path:
    """Learn a font's style into a style folder; returns the folder.

    `num_vectors` (default: the recipe's `ti.num_vectors`, else 1) is how many embedding vectors the
    learned token has.

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
    settings_all = read_recipe(recipe_path, "learn", learn_sections(method))
    if settings_all["learn"]["method"] != method:
        raise FontgenError(f"{recipe_path} is a recipe for --method {settings_all['learn']['method']}, not {method}")
    base_size = model_image_size(base)
    if base_size is not None and settings_all["learn"]["image_size"] != base_size:
        raise FontgenError(f"{recipe_path}: [learn] image_size {settings_all['learn']['image_size']} is not the base "
                           f"model's ({base_size} px)")
    settings = {**settings_all["learn"], **settings_all["early_stop"]}
    if num_vectors is None:
        num_vectors = settings_all["ti"]["num_vectors"]
    if not 1 <= num_vectors <= 16:
        raise FontgenError(f"--num-vectors {num_vectors}: choose 1 to 16")
    info = font_info(font, face)
    require_hangul(info, settings["min_glyphs"])
    if not info.missing:
        print(f"{font.name} has all 11,172 syllables: nothing is missing, learning its style anyway")
    out = _style_folder(font, output)
    started = time.time()
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    jamo_inventory = _jamo_inventory(font, face, out, info.hangul, cache_dir, progress)
    torch.manual_seed(settings["seed"])
    model = load_model(base)
    model.requires_grad_(False)
    size = model.config.image_size
    chars = info.hangul
    targets = build_cache([FontSource("user", font, face)], chars, size, cache_dir, progress=False)
    reference = build_cache([reference_source()], chars, size, cache_dir, progress=False)

    # Held-back glyphs: a fixed share of the user's syllables, at least holdout_min, never trained on.
    rng = np.random.default_rng(settings["seed"])
    held_count = max(settings["holdout_min"], int(round(len(chars) * settings["holdout_fraction"])))
    held_index = np.sort(rng.choice(len(chars), min(held_count, len(chars) // 2), replace=False))
    train_mask = np.ones(len(chars), dtype=bool)
    train_mask[held_index] = False
    token = token_for_font(font)
    pairs = StyledGlyphs(targets, reference, [token], chars_mask=train_mask[None])
    if len(pairs) == 0:
        raise FontgenError(f"{font}: none of its Hangul glyphs could be rendered")
    fit = pairs.fits[0]
    held = user_glyphs(font, face, chars, held_index, targets, reference, fit)
    # The textual-inversion stage's ink level is also chosen on training glyphs: one token cannot memorize
    # them, and the few held-back glyphs alone cannot tell neighbouring levels apart.
    extra = np.random.default_rng(settings["seed"] + 1).permutation(np.flatnonzero(train_mask))
    ti_calibration = user_glyphs(font, face, chars, np.sort(np.concatenate(
        [held_index, extra[:settings["ink_level_train_glyphs"]]])), targets, reference, fit)

    # progress.json says what an interrupted run finished: stage 1, and how many stage-2 steps (saved).
    progress_file = out / "progress.json"
    source_sha256, base_sha256 = file_sha256(font), model_hash(base)
    resumable = {"source_sha256": source_sha256, "base_model_sha256": base_sha256, "num_vectors": num_vectors,
                 "stage1": "done"}
    saved = _read_json(progress_file) if resume else None
    if saved is None or any(saved.get(key) != value for key, value in resumable.items()):
        saved = None
    stage2_done = saved.get("stage2_steps", 0) if saved and saved.get("stage2_method") == method else 0
    try:
        if saved:
            load_embedding(model, out / EMBEDDINGS_FILE)
            stages, initial_token = [], "(resumed)"
        else:
            initial_tokens = nearest_style_tokens(model, pairs, num_vectors)
            initial_token = ", ".join(initial_tokens)
            stages = [_textual_inversion(model, token, initial_tokens, pairs, held, settings,
                                         settings_all["ti"], steps, progress)]
            if stages[-1].interrupted:
                raise KeyboardInterrupt
            save_embedding(model, token, out)
        write_json_atomic(progress_file, resumable)
        artifacts = [EMBEDDINGS_FILE]
        # A token's drawings barely beat their content glyphs on hand-drawn styles: the widest margin keeps them
        # ahead on the syllables the user lacks. A LoRA's or DreamBooth's beat them widely, and there the margin
        # cost more than it kept (benchmarks/HISTORY.md, learn, session 11).
        ink_levels = {"textual inversion": style_ink_level(model, token, ti_calibration, widest_margin=True)}
        ink_level_glyphs = {"textual inversion": len(ti_calibration.codepoints)}

        def save_stage2() -> None:
            if method == "lora":
                partial = out / "lora.partial"
                model.unet.save_lora_adapter(str(partial), adapter_name=ADAPTER_NAME)
                (partial / LORA_FILE).replace(out / LORA_FILE)
                partial.rmdir()
            elif method == "hypernetwork":
                save_hypernetwork(model.hypernetwork, out / HYPERNETWORK_FILE)
            else:
                save_safetensors_atomic(model.unet.state_dict(), out / UNET_FILE, metadata={"format": "pt"})

        def checkpoint(step: int) -> None:  # the weights first: a kill between the two redoes a few steps
            save_stage2()
            write_json_atomic(progress_file, {**resumable, "stage2_method": method, "stage2_steps": stage2_done + step})

        if method == "lora":
            stages.append(_lora(model, token, pairs, held, settings, settings_all["lora"], steps, progress,
                                out / LORA_FILE if stage2_done else None, stage2_done, checkpoint))
            save_stage2()
            artifacts.append(LORA_FILE)
        elif method == "dreambooth":
            prior = _prior_glyphs(model, chars, size, cache_dir, settings_all["dreambooth"]["prior_fonts"])
            stages.append(_dreambooth(model, token, pairs, held, settings, settings_all["dreambooth"], prior, steps,
                                      progress, out / UNET_FILE if stage2_done else None, stage2_done, checkpoint))
            save_stage2()
            artifacts.append(UNET_FILE)
        elif method == "hypernetwork":
            stages.append(_hypernetwork(model, token, pairs, held, settings, settings_all["hypernetwork"], steps,
                                        progress, out / HYPERNETWORK_FILE if stage2_done else None, stage2_done,
                                        checkpoint))
            save_stage2()
            artifacts.append(HYPERNETWORK_FILE)
        if stages and stages[-1].interrupted:
            write_json_atomic(progress_file, {**resumable, "stage2_method": method,
                                              "stage2_steps": stage2_done + stages[-1].steps})
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        raise FontgenError(f"interrupted; what finished is saved in {out}, run again with --resume") from None

    if method != "ti":
        ink_levels[stages[-1].name] = style_ink_level(model, token, held)
        ink_level_glyphs[stages[-1].name] = len(held.codepoints)
    ink_level = list(ink_levels.values())[-1]
    preview(model, token, held, out / "preview.png", ink_level=ink_level)
    manifest = {
        "fontgen": 1, "method": method, "token": token, "num_vectors": num_vectors, "initialized_from": initial_token,
        "source": {"path": str(font.resolve()), "face": face, "sha256": source_sha256, "family": info.family,
                   "hangul": info.hangul, "compat_jamo": compat_jamo_in(font, face)},
        "base_model": str(Path(base)), "base_model_sha256": base_sha256, "image_size": size,
        "recipe": settings_all, "recipe_path": str(recipe_path), "held_back": held.codepoints,
        "layout_fit": fit.affines.tolist(), "artifacts": artifacts, "ink_level": ink_level, "ink_levels": ink_levels,
        "ink_level_glyphs": ink_level_glyphs, "jamo_inventory": jamo_inventory,
        "stages": [{"name": s.name, "steps": s.steps, "best_step": s.best_step, "held_back_score": s.best_score,
                    "held_back_loss": s.best_loss, "seconds": s.seconds, "history": s.history} for s in stages],
        "seconds": round(time.time() - started, 1),
    }
    write_json_atomic(out / MANIFEST_FILE, manifest)
    progress_file.unlink(missing_ok=True)
    return out


def _style_folder(font: Path, output: str | Path | None) -> Path:
    """The style folder, made; a manifest of an earlier learn there is removed first, so that a run killed
    halfway leaves a folder that never loads as a finished style (the new manifest is written last)."""
    out = Path(output) if output else font.with_suffix(".fontgen")
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / MANIFEST_FILE).unlink(missing_ok=True)
    except OSError as error:
        raise FontgenError(f"{out}: cannot create the style folder ({error.strerror})") from None
    return out


def method_for_font(known: list[int]) -> str:
    """`auto`: the jamo inventory alone when the font's jamo compose every syllable it lacks (a font with the
    2,350 KS X 1001 syllables always does, and most fonts with a few hundred: a consonant is built from
    letters the font draws; nothing to train), else LoRA too, for the ones that cannot be (a vowel the font
    never draws)."""
    inventory = Inventory.from_known(known)
    have = set(known)
    composable = all(inventory.can_compose(c) for c in glyph_data.all_syllables() if c not in have)
    return "compose" if composable else "lora"


def _jamo_inventory(font: Path, face: int, out: Path, known: list[int], cache_dir: Path, progress: bool) -> dict:
    """The font's jamo inventory in the style folder (kept from an earlier run on the same font); its summary."""
    source_sha256 = file_sha256(font)
    existing = _read_json(out / INVENTORY_FILE)
    if existing and existing.get("source_sha256") == source_sha256 and "summary" in existing:
        return {**existing["summary"], "seconds": 0.0, "kept_from_an_earlier_run": True}
    started = time.time()
    summary = write_inventory(font, face, out, known, source_sha256, VariantTable.shipped(), progress, cache_dir)
    return {**summary, "seconds": round(time.time() - started, 1)}


def learn_report(folder: str | Path) -> list[str]:
    """What learn did, a line per stage: how long it took and what it bought on the held-back glyphs."""
    manifest = json.loads((Path(folder) / MANIFEST_FILE).read_text())
    inventory = manifest.get("jamo_inventory", {})
    missing = inventory.get("composable", 0) + inventory.get("model", 0)
    lines = [f"jamo inventory: {inventory.get('labelled', 0)} syllables labelled, {inventory.get('composable', 0):,} "
             f"of the {missing:,} missing composable ({inventory.get('built_jamo', 0):,} with a consonant built from "
             f"letters the font draws), {inventory.get('model', 0):,} left to the model; "
             f"{inventory.get('seconds', 0):.0f} s" + (" (kept from an earlier run)"
                                                      if inventory.get("kept_from_an_earlier_run") else "")]
    for stage in manifest.get("stages", []):
        metric = manifest["recipe"]["early_stop"].get("metric", "iou")
        start = held_back_score(stage["history"][0], metric)
        lines.append(f"{stage['name']}: {stage['steps']} steps in {stage.get('seconds', 0):.0f} s, held-back {metric} "
                     f"{start:.3f} -> {stage['held_back_score']:.3f} (best at step {stage['best_step']})")
    lines.append(f"in all {manifest.get('seconds', 0):.0f} s")
    return lines


def _learn_jamo_only(font: Path, output: str | Path | None, base: str | Path, face: int,
                     cache_dir: str | Path | None, progress: bool) -> Path:
    """`learn --method compose`: the jamo inventory alone, no model (generate composes every syllable whose
    jamo the font draws somewhere and refuses the rest)."""
    started = time.time()
    info = font_info(font, face)
    require_hangul(info, 1)
    out = _style_folder(font, output)
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    try:
        summary = _jamo_inventory(font, face, out, info.hangul, cache_dir, progress)
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
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


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
                         token, pairs, held, settings, after_step=restore_other_rows, progress=progress)
    embedding.weight.requires_grad_(False)
    return result


def _lora(model, token, pairs, held, settings, lora, steps, progress, saved: Path | None = None,
          done: int = 0, checkpoint=None) -> StageResult:
    """Stage 2 (default): a peft LoRA adapter on the UNet, everything else frozen (or going on from a saved one)."""
    from peft import LoraConfig

    if saved is None:
        model.unet.add_adapter(LoraConfig(r=lora["rank"], lora_alpha=lora["alpha"], init_lora_weights="gaussian",
                                          target_modules=lora["target_modules"]), adapter_name=ADAPTER_NAME)
    else:
        model.unet.load_lora_adapter(str(saved), prefix=None, adapter_name=ADAPTER_NAME)
        for name, parameter in model.unet.named_parameters():
            parameter.requires_grad_("lora_" in name)
    parameters = [p for p in model.unet.parameters() if p.requires_grad]
    return train_stage("LoRA", model, parameters, max(1, (steps or lora["steps"]) - done), lora["learning_rate"],
                       token, pairs, held, settings, progress=progress, checkpoint=checkpoint)


def _hypernetwork(model, token, pairs, held, settings, hyper, steps, progress, saved: Path | None = None,
                  done: int = 0, checkpoint=None) -> StageResult:
    """Stage 2 (hypernetwork): residual networks on the context of every cross-attention's keys and values,
    the UNet frozen (or going on from a saved hypernetwork)."""
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
                         hyper["learning_rate"], token, pairs, held, settings, progress=progress, checkpoint=checkpoint)
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


def _dreambooth(model, token, pairs, held, settings, booth, prior, steps, progress, saved: Path | None = None,
                done: int = 0, checkpoint=None) -> StageResult:
    """Stage 2 (dreambooth): the whole UNet, with the prior-preservation loss (or going on from a saved UNet)."""
    if saved is not None:
        model.unet.load_state_dict({k: v.float() for k, v in load_file(str(saved)).items()})
    model.unet.requires_grad_(True)
    result = train_stage("DreamBooth", model, list(model.unet.parameters()), max(1, (steps or booth["steps"]) - done),
                         booth["learning_rate"], token, pairs, held, settings, prior=prior,
                         prior_weight=booth["prior_loss_weight"], progress=progress, checkpoint=checkpoint)
    model.unet.requires_grad_(False)
    return result
