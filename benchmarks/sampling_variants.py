"""Held-back IoU of a learned style under other ways of sampling: 1-8 DDIM steps from noise, or starting
from the content glyph noised to a fraction of the schedule (SDEdit-style), on the glyphs `learn` held back.

    python benchmarks/sampling_variants.py STYLE.fontgen [STYLE.fontgen ...] [--base MODEL] [--out DIR]

Real glyphs come from the style's own source font, in that font's frame; 48 held-back syllables per style.
Writes DIR/<style>.png (rows: real, content, then one row per variant) and prints the IoU table.
"""
import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from fontgen.fonts import open_font, reference_source
from fontgen.generate import glyph_noise
from fontgen.model import DEFAULT_CHECKPOINT, to_model_space, to_uint8
from fontgen.reference import fitted_reference
from fontgen.render import GlyphRenderer, frame_for_font, ink_iou
from fontgen.style import load_style

VARIANTS = [(1, 1.0), (2, 1.0), (3, 1.0), (4, 1.0), (8, 1.0), (4, 0.5), (4, 0.75), (8, 0.625), (8, 0.875)]


@torch.inference_mode()
def draw(model, content, ids, noise, steps: int, strength: float) -> np.ndarray:
    """DDIM over the last `strength` share of `steps`; below 1, started from the content glyph noised there."""
    scheduler = model.sampling_scheduler()
    scheduler.set_timesteps(steps)
    timesteps = scheduler.timesteps[len(scheduler.timesteps) - max(1, int(round(steps * strength))):]
    if strength >= 1.0:
        latents = noise * scheduler.init_noise_sigma
    else:
        start = torch.full((len(content),), int(timesteps[0]), dtype=torch.long)
        latents = model.training_scheduler().add_noise(content, noise, start)
    for t in timesteps:
        step = torch.full((len(content),), int(t), dtype=torch.long)
        latents = scheduler.step(model(latents, step, content, ids), t, latents).prev_sample
    return to_uint8(latents.clamp(-1, 1)[:, 0]).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("styles", nargs="+")
    parser.add_argument("--out", default="runs/sampling_variants")
    parser.add_argument("--base", default=str(DEFAULT_CHECKPOINT), help="the base model the styles were learned on")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print("| style | content | " + " | ".join(f"{s} steps @ {f}" for s, f in VARIANTS) + " |")
    for folder in args.styles:
        style = load_style(folder, args.base)
        model, size = style.model, style.model.config.image_size
        held = style.manifest["held_back"][:48]
        source_font = style.manifest["source"]["path"]
        frame = frame_for_font(open_font(source_font, lazy=True))
        real = GlyphRenderer(source_font, size, face=style.manifest["source"]["face"], frame=frame).render_many(held)
        reference = reference_source()
        content = fitted_reference(GlyphRenderer(reference.path, size, face=reference.face).render_many(held), held,
                                   style.fit)
        content_t = to_model_space(torch.from_numpy(content)[:, None])
        ids = model.tokenizer.encode(style.token, held)
        noise = glyph_noise(held, size, 0)
        rows = [real, content]
        scores = [np.mean([ink_iou(a, b) for a, b in zip(real, content)])]
        for steps, strength in VARIANTS:
            drawn = draw(model, content_t, ids, noise, steps, strength)
            rows.append(drawn)
            scores.append(np.mean([ink_iou(a, b) for a, b in zip(real, drawn)]))
        print(f"| {Path(folder).name} | " + " | ".join(f"{v:.3f}" for v in scores) + " |")
        grid = np.concatenate([np.concatenate(list(row[:12]), 1) for row in rows], 0)
        Image.fromarray(255 - grid).save(out / f"{Path(folder).stem}.png")


if __name__ == "__main__":
    main()
