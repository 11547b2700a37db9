"""The fine-tuning loop every learn method runs, and what it needs: the user's glyphs, each method's loss,
the held-back evaluation that early stopping watches.

A method is its parameters and its loss: textual inversion trains embedding rows, LoRA an adapter, a
hypernetwork its context networks, all on `user_glyph_loss`; DreamBooth trains the whole UNet on
`with_prior_loss`. `train_stage` runs any of them the same way.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from fontgen.dataset import StyledGlyphs
from fontgen.errors import FontgenError
from fontgen.losses import diffusion_loss, sampler_loss, sampler_steps_loss
from fontgen.model import GlyphDiffusion, sample, to_model_space, to_uint8
from fontgen.render import similarity


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
    """What a stage did: its steps, the best held-back score (and its step and loss), every evaluation."""

    name: str
    steps: int
    best_step: int
    best_score: float
    best_loss: float
    history: list[dict] = field(default_factory=list)
    interrupted: bool = False  # Ctrl-C: the stage stopped early, at its best state so far
    seconds: float = 0.0


def evaluate(model: GlyphDiffusion, token: str, held: UserGlyphs, sample_glyphs: int,
             loss_glyphs: int | None = None) -> tuple[float, dict, np.ndarray]:
    """Validation loss (fixed noise) on the first `loss_glyphs` held-back glyphs (None: all; 0: no loss, NaN), and
    SSIM and IoU of the first `sample_glyphs` drawn; also the drawings."""
    model.eval()
    with torch.no_grad():
        ids = model.tokenizer.encode(token, held.codepoints)
        generator = torch.Generator().manual_seed(held.noise_seed)
        rows = slice(0, loss_glyphs)
        loss = float("nan") if loss_glyphs == 0 else diffusion_loss(
            model, model.training_scheduler(), held.targets[rows], held.content[rows], ids[rows], generator).item()
        n = min(sample_glyphs, len(held.codepoints))
        drawn = sample(model, held.content[:n], ids[:n], steps=2, generator=torch.Generator().manual_seed(0))
    drawn_u8 = to_uint8(drawn[:, 0]).numpy()
    real_u8 = to_uint8(held.targets[:n, 0]).numpy()
    scores = similarity(real_u8, drawn_u8)
    return loss, {"ssim": scores["ssim"], "iou": scores["iou"]}, drawn_u8


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


LossFn = Callable[[np.random.Generator], torch.Tensor]  # one training batch's loss (gradients maybe taken)


def user_glyph_loss(model: GlyphDiffusion, token: str, pairs: StyledGlyphs, settings: dict) -> LossFn:
    """The loss on a batch of the user's glyphs under the style token: the recipe's `train_loss`
    ("sampler-steps": each of the sampler's steps fed its own previous guess, gradients taken as it goes;
    "diffusion": DDPM), plus `sampler_loss_weight` times the loss of glyphs drawn by the sampler itself."""
    train_loss, sampler_weight = settings["train_loss"], settings["sampler_loss_weight"]
    if train_loss not in ("diffusion", "sampler-steps"):
        raise FontgenError(f"unknown train_loss {train_loss!r} (diffusion or sampler-steps)")
    scheduler = model.training_scheduler()

    def loss(rng: np.random.Generator) -> torch.Tensor:
        targets, content, _, codepoints = pairs.batch(rng.integers(0, len(pairs), settings["batch_size"]))
        ids = model.tokenizer.encode(token, codepoints)
        targets, content = to_model_space(targets), to_model_space(content)
        if train_loss == "sampler-steps":
            value = sampler_steps_loss(model, targets, content, ids, backward=True)  # gradients already taken
        else:
            value = diffusion_loss(model, scheduler, targets, content, ids)
        if sampler_weight > 0:
            value = value + sampler_weight * sampler_loss(model, targets, content, ids)
        return value

    return loss


def with_prior_loss(loss: LossFn, model: GlyphDiffusion, prior: StyledGlyphs, weight: float,
                    batch_size: int) -> LossFn:
    """DreamBooth's loss: `loss`, plus `weight` times the DDPM loss of other fonts' real glyphs under their
    own tokens (prior preservation)."""
    scheduler = model.training_scheduler()

    def both(rng: np.random.Generator) -> torch.Tensor:
        value = loss(rng)
        targets, content, styles, codepoints = prior.batch(rng.integers(0, len(prior), batch_size))
        ids = model.tokenizer.encode_many(styles, codepoints)
        return value + weight * diffusion_loss(model, scheduler, to_model_space(targets), to_model_space(content), ids)

    return both


def train_stage(name: str, model: GlyphDiffusion, parameters: list[torch.nn.Parameter], steps: int, lr: float,
                loss: LossFn, token: str, held: UserGlyphs, settings: dict, after_step=None, progress: bool = True,
                checkpoint=None) -> StageResult:
    """The one fine-tuning loop, with early stopping on the held-back glyphs; leaves the model at its best state.

    Each step takes `loss(rng)` on a new batch and steps the optimizer over `parameters`; `after_step` runs
    after each (textual inversion restores the frozen embedding rows). Ctrl-C ends the stage like early
    stopping does, with `interrupted` set, so the caller can save it; `checkpoint(step)`, called after each
    held-back evaluation, saves the model as it is, so that a killed run loses at most `eval_every` steps.
    """
    started = time.time()
    rng = np.random.default_rng(settings["seed"])
    optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=0.0)
    eval_every, patience, metric = settings["eval_every"], settings["patience"], settings["metric"]
    # The held-back loss over every held-back glyph only where early stopping watches it: with 2,350 known
    # that is 118 glyphs, a forward pass of several seconds at each evaluation, for a number only recorded.
    loss_glyphs = None if metric == "loss" else settings["sample_glyphs"]
    best_loss, held_scores, _ = evaluate(model, token, held, settings["sample_glyphs"], loss_glyphs)
    best_score = held_back_score({**held_scores, "loss": best_loss}, metric)
    best_state, best_step, waited = [p.detach().clone() for p in parameters], 0, 0
    result = StageResult(name, 0, 0, best_score, best_loss, [{"step": 0, "loss": best_loss, **held_scores}])
    bar = tqdm(range(1, steps + 1), desc=name, disable=not progress)
    try:
        for step in bar:
            model.train()
            value = loss(rng)
            if value.requires_grad:  # the terms whose gradients are not taken yet
                value.backward()
            torch.nn.utils.clip_grad_norm_(parameters, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if after_step:
                after_step()
            bar.set_postfix(loss=f"{value.item():.4f}", best=f"{best_score:.3f}")
            result.steps = step
            if step % eval_every == 0 or step == steps:
                val_loss, held_scores, _ = evaluate(model, token, held, settings["sample_glyphs"], loss_glyphs)
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
