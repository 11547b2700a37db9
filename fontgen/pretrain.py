"""Pretraining the base model on the corpus's train split: one readable loop, HF Accelerate, EMA.

`fontgen pretrain --recipe recipes/base.toml` on this CPU, or
`accelerate launch -m fontgen.cli pretrain --recipe recipes/base.toml` on GPUs, unchanged.
It resumes from runs/<name>/train_state.safetensors, logs the loss against the fitted-reference
loss (what an untrained model scores), and writes a sample grid of val fonts on unseen syllables.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from diffusers.training_utils import EMAModel
from PIL import Image
from tqdm import tqdm

import glyph_data
from fontgen.checkpoint import load_training_state, save_training_state
from fontgen.datapack import GRID_CHARS, TrainingCaches, open_pack, render_caches
from fontgen.dataset import StyledGlyphs, corpus_sources
from fontgen.errors import FontgenError
from fontgen.files import atomic_path
from fontgen.fonts import FontSource, resolve_chars
from fontgen.losses import diffusion_loss
from fontgen.model import (NULL_TOKEN, GlyphDiffusion, ModelConfig, base_vocabulary, sample, save_model,
                           style_token, to_model_space, to_uint8)
from fontgen.recipe import PRETRAIN_SECTIONS, read_recipe
from fontgen.reference import LayoutFit, fitted_reference, ink_boxes


def recipe_sources(data: dict) -> list[FontSource]:
    """The fonts a recipe trains on: named corpus fonts, or a whole split."""
    if "fonts" in data:
        sources = []
        for name in data["fonts"]:
            font = glyph_data.corpus_font(name)
            if font.split in ("val", "held"):
                raise FontgenError(f"{name} is a {font.split} font and may never be trained on")
            sources.append(FontSource(font.name, font.path, font.face))
        return sources
    if data["split"] != "train":
        raise FontgenError("pretraining may only use the train split")
    return corpus_sources("train", data.get("max_fonts"))


def recipe_chars(data: dict) -> list[int]:
    chars = resolve_chars(data["charset"], syllables_only=False)
    return chars[: data["max_chars"]] if data.get("max_chars") else chars


def lr_at(step: int, train: dict) -> float:
    """Linear warm-up, then cosine decay to a tenth."""
    warmup = train["warmup_steps"]
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, train["steps"] - warmup)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


class SampleGrid:
    """Val fonts on syllables outside the training charset: rows of real, content, generated."""

    def __init__(self, caches: TrainingCaches):
        targets, reference = caches.grid_targets, caches.grid_reference
        n = len(targets.chars) - GRID_CHARS
        fit_chars, self.chars = targets.chars[:n], targets.chars[n:]
        reference_boxes = ink_boxes(np.asarray(reference.images[0, :n]))
        self.real, self.content = [], []
        for f in range(len(targets.font_names)):
            fit = LayoutFit.from_boxes(fit_chars, ink_boxes(np.asarray(targets.images[f, :n])), reference_boxes)
            self.real.append(np.asarray(targets.images[f, n:]))
            self.content.append(fitted_reference(np.asarray(reference.images[0, n:]), self.chars, fit))

    def write(self, model: GlyphDiffusion, path: Path, device) -> None:
        rows = []
        for real, content in zip(self.real, self.content):
            ids = model.tokenizer.encode(NULL_TOKEN, self.chars).to(device)
            drawn = sample(model, to_model_space(torch.from_numpy(content)[:, None]).to(device), ids, steps=2,
                           generator=torch.Generator().manual_seed(0))
            drawn = to_uint8(drawn[:, 0]).cpu().numpy()
            rows.append(np.concatenate([np.concatenate([r, c, d], 0) for r, c, d in zip(real, content, drawn)], 1))
        grid = 255 - np.concatenate(rows, 0)
        with atomic_path(path) as partial:
            Image.fromarray(grid).save(partial, format="PNG")


def read_pretrain_recipe(path: str | Path) -> dict:
    """A pretraining recipe, checked and completed (see `recipe.read_recipe`)."""
    return read_recipe(path, "pretraining", tuple(PRETRAIN_SECTIONS))


def training_caches(recipe: dict, data_pack: str | Path | None = None, progress: bool = True) -> TrainingCaches:
    """The recipe's rendered glyphs: from the installed fonts, or from a data pack (no fonts needed)."""
    data = recipe["data"]
    chars, cache_dir = recipe_chars(data), data["cache_dir"]
    if data_pack is not None:
        return open_pack(data_pack, cache_dir, chars, data["image_size"])
    return render_caches(recipe_sources(data), chars, data["image_size"], cache_dir, progress)


def pretrain(recipe_path: str | Path, device: str = "auto", resume: bool = True, max_steps: int | None = None,
             progress: bool = True, init_from: str | Path | None = None, data_pack: str | Path | None = None) -> Path:
    """Train (or continue training) the base model of a recipe; returns the folder of the EMA model.

    Resumes from the run's own training state when there is one; otherwise `init_from` (a model folder
    such as checkpoints/base) seeds the weights and the step count. With `data_pack` (see
    fontgen.datapack) it reads the glyphs from the pack and needs no fonts installed.
    """
    recipe = read_pretrain_recipe(recipe_path)
    data, train = recipe["data"], recipe["train"]
    accelerator = Accelerator(cpu=(device == "cpu"))
    out = Path(train["output_dir"])
    state_path = out / "train_state.safetensors"
    torch.manual_seed(train["seed"] + accelerator.process_index)
    rng = np.random.default_rng(train["seed"] + accelerator.process_index)

    with accelerator.main_process_first():
        caches = training_caches(recipe, data_pack, progress=progress and accelerator.is_main_process)
    font_names, chars = caches.targets.font_names, caches.targets.chars
    styles = [style_token(name) for name in font_names]
    pairs = StyledGlyphs(caches.targets, caches.reference, styles)
    config = ModelConfig(image_size=data["image_size"], vocabulary=base_vocabulary(styles), **recipe["model"])
    model = GlyphDiffusion(config)
    ema = EMAModel(model.parameters(), decay=train["ema_decay"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=train["learning_rate"],
                                  weight_decay=train["weight_decay"])
    step, saved_rng = 0, (None, None)
    if resume and state_path.exists():
        tensors, step, extra = load_training_state(state_path, optimizer)
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        saved_rng = (extra.get("numpy_rng"), tensors.get("rng.torch"))
        ema.shadow_params = [tensors[f"ema.{i}"] for i in range(len(ema.shadow_params))]
        ema.optimization_step = step
        accelerator.print(f"resumed from {state_path} at step {step}")
    elif init_from is not None:
        # Continue from shipped weights (no optimizer state): how a new machine picks up the CPU run.
        from fontgen.model import load_model

        shipped = load_model(init_from)
        if shipped.tokenizer.vocabulary != model.tokenizer.vocabulary:
            raise FontgenError(f"{init_from}: its vocabulary differs from this recipe's fonts")
        model.load_state_dict(shipped.state_dict())
        ema = EMAModel(model.parameters(), decay=train["ema_decay"])
        step = json.loads((Path(init_from) / "model.json").read_text()).get("steps", 0)
        ema.optimization_step = step
        accelerator.print(f"initialized from {init_from} at step {step}")
    start_step = step
    scheduler_lr = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_at(s + start_step, train))
    model, optimizer = accelerator.prepare(model, optimizer)
    ema.to(accelerator.device)
    raw_model = accelerator.unwrap_model(model)
    noise_scheduler = raw_model.training_scheduler()
    grid = SampleGrid(caches) if accelerator.is_main_process else None

    total = min(train["steps"], max_steps + step if max_steps else train["steps"])
    batch_size = train["batch_size"]
    log_path = out / "log.jsonl"
    out.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=total, initial=step, desc="pretrain", disable=not (progress and accelerator.is_main_process))
    started, running, running_reference = time.time(), None, None
    samples_seen = 0

    def save_everything(current_step: int) -> None:
        if not accelerator.is_main_process:
            return
        tensors = {f"model.{k}": v for k, v in raw_model.state_dict().items()}
        tensors.update({f"ema.{i}": p for i, p in enumerate(ema.shadow_params)})
        tensors["rng.torch"] = torch_rng = torch.get_rng_state()
        save_training_state(state_path, tensors, optimizer.optimizer if hasattr(optimizer, "optimizer") else optimizer,
                            current_step, {"recipe": str(recipe_path), "numpy_rng": rng.bit_generator.state})
        ema_model = GlyphDiffusion(raw_model.config)
        ema_model.load_state_dict(raw_model.state_dict())
        ema.copy_to(ema_model.parameters())
        save_model(ema_model, out / "model", extra={"recipe": recipe, "steps": current_step,
                                                   "fonts": font_names, "charset_size": len(chars)})
        torch.set_rng_state(torch_rng)  # building the EMA copy drew initial weights: saving must not move the run

    if saved_rng[0] is not None and saved_rng[1] is not None:
        # The batches and noise go on where they stopped, as if the run had never been interrupted.
        rng.bit_generator.state = saved_rng[0]
        torch.set_rng_state(saved_rng[1])
    try:
        while step < total:
            model.train()
            indices = rng.integers(0, len(pairs), batch_size)
            targets, content, batch_styles, codepoints = pairs.batch(indices)
            dropped = rng.random(batch_size) < train["style_dropout"]
            batch_styles = [NULL_TOKEN if d else s for s, d in zip(batch_styles, dropped)]
            input_ids = raw_model.tokenizer.encode_many(batch_styles, codepoints).to(accelerator.device)
            targets = to_model_space(targets).to(accelerator.device)
            content = to_model_space(content).to(accelerator.device)
            loss = diffusion_loss(model, noise_scheduler, targets, content, input_ids)
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler_lr.step()
            optimizer.zero_grad(set_to_none=True)
            ema.step(raw_model.parameters())
            step += 1
            samples_seen += batch_size * accelerator.num_processes
            reference_loss = F.mse_loss(content, targets).item()
            running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
            running_reference = reference_loss if running_reference is None else 0.95 * running_reference + 0.05 * reference_loss
            bar.update(1)
            bar.set_postfix(loss=f"{running:.4f}", content_loss=f"{running_reference:.4f}")
            if accelerator.is_main_process and step % train["log_every"] == 0:
                with log_path.open("a") as log:
                    log.write(json.dumps({"step": step, "loss": running, "content_loss": running_reference,
                                          "lr": scheduler_lr.get_last_lr()[0],
                                          "images_per_s": samples_seen / (time.time() - started)}) + "\n")
            if step % train["checkpoint_every"] == 0 or step == total:
                save_everything(step)
            if grid is not None and (step % train["sample_every"] == 0 or step == total):
                ema_model = GlyphDiffusion(raw_model.config).to(accelerator.device)
                ema_model.load_state_dict(raw_model.state_dict())
                ema.copy_to(ema_model.parameters())
                grid.write(ema_model.eval(), out / f"samples_{step:06d}.png", accelerator.device)
    except KeyboardInterrupt:
        save_everything(step)
        bar.close()
        raise FontgenError(f"interrupted at step {step}; saved, run the same command again to resume") from None
    bar.close()
    return out / "model"
