"""Pixel space or the latent space of a glyph autoencoder of our own? Measure what each would cost here.

1. Trains a small diffusers AutoencoderKL (64 px glyph -> 4 x 16 x 16 latent) on train-font glyphs for
   a fixed time budget and scores its reconstructions of val-font glyphs (never seen) at 64 px: IoU of
   the binarized glyph and RMSE. A latent model can draw no better than its decoder reconstructs.
2. Times one training step (forward + backward, batch 32) of the base recipe's UNet in pixel space and of
   the same UNet on latents (8 input channels: noisy latent + content latent, 16 x 16), on this machine.

    python benchmarks/latent_vs_pixel.py --seconds 300
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, UNet2DConditionModel

import glyph_data
from fontgen.dataset import build_cache, corpus_sources
from fontgen.paths import default_cache_dir
from fontgen.model import ModelConfig, base_vocabulary
from fontgen.recipe import load_recipe


def glyphs(split: str, fonts: int, chars: list[int]) -> torch.Tensor:
    cache = build_cache(corpus_sources(split)[:fonts], chars, 64, default_cache_dir(), progress=False)
    images = np.asarray(cache.images)[cache.has]
    return torch.from_numpy(images)[:, None].float() / 127.5 - 1.0


def autoencoder() -> AutoencoderKL:
    return AutoencoderKL(in_channels=1, out_channels=1, latent_channels=4, block_out_channels=(32, 64, 64),
                         down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
                         layers_per_block=1, norm_num_groups=8, sample_size=64)


def train_autoencoder(train: torch.Tensor, seconds: float, batch_size: int = 32) -> tuple[AutoencoderKL, int]:
    model = autoencoder()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    started, steps = time.time(), 0
    while time.time() - started < seconds:
        batch = train[torch.randint(0, len(train), (batch_size,), generator=generator)]
        posterior = model.encode(batch).latent_dist
        reconstruction = model.decode(posterior.sample(generator=generator)).sample
        loss = F.mse_loss(reconstruction, batch) + 1e-6 * posterior.kl().mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        steps += 1
    return model.eval(), steps


def reconstruction_scores(model: AutoencoderKL, images: torch.Tensor) -> dict:
    with torch.no_grad():
        decoded = torch.cat([model.decode(model.encode(b).latent_dist.mode()).sample.clamp(-1, 1)
                             for b in images.split(64)])
    ink_real, ink_decoded = images > 0, decoded > 0
    union = (ink_real | ink_decoded).flatten(1).sum(1).clamp(min=1)
    iou = ((ink_real & ink_decoded).flatten(1).sum(1) / union).mean().item()
    rmse = ((decoded - images) / 2).pow(2).flatten(1).mean(1).sqrt().mean().item()
    return {"iou": iou, "rmse": rmse}


def unet_step_seconds(in_channels: int, size: int, config: ModelConfig, repeats: int = 5) -> float:
    unet_config = config.unet_config() | {"sample_size": size, "in_channels": in_channels,
                                          "out_channels": in_channels // 2}
    unet = UNet2DConditionModel(**unet_config)
    x = torch.randn(32, in_channels, size, size)
    prompt = torch.randn(32, 4, config.prompt_dim)
    timesteps = torch.randint(0, 1000, (32,))
    times = []
    for _ in range(repeats + 1):
        started = time.time()
        unet(x, timesteps, encoder_hidden_states=prompt, class_labels=prompt[:, 0]).sample.mean().backward()
        times.append(time.time() - started)
    return float(np.median(times[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300, help="autoencoder training budget")
    parser.add_argument("--fonts", type=int, default=16, help="train fonts the autoencoder sees")
    args = parser.parse_args()
    recipe = load_recipe("recipes/base.toml")
    config = ModelConfig(image_size=64, vocabulary=base_vocabulary([]), **recipe["model"])
    ksx = glyph_data.ksx1001_syllables()
    train = glyphs("train", args.fonts, ksx[:1024])
    val = glyphs("val", 6, ksx[1024:1088])
    model, steps = train_autoencoder(train, args.seconds)
    scores = reconstruction_scores(model, val)
    pixel = unet_step_seconds(2, 64, config)
    latent = unet_step_seconds(8, 16, config)
    print(f"autoencoder: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, "
          f"{steps} steps x 32 in {args.seconds:.0f} s on {len(train)} train glyphs")
    print(f"val-font reconstruction at 64 px: IoU {scores['iou']:.3f}, RMSE {scores['rmse']:.3f}")
    print(f"UNet training step, batch 32: pixel 64 px {pixel:.3f} s, latent 16 px {latent:.3f} s "
          f"({pixel / latent:.1f}x)")


if __name__ == "__main__":
    main()
