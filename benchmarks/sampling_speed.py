"""Sampling throughput of the base model on this machine: glyphs/s at 4, 8, 16 and 25 steps.

    python benchmarks/sampling_speed.py [--base checkpoints/base] [--glyphs 256] [--batch-size 64]
"""
import argparse
import platform
import resource
import time

import torch

import glyph_data
from fontgen.generate import glyph_noise, pick_device
from fontgen.model import DEFAULT_CHECKPOINT, load_model, sample, to_model_space
from fontgen.reference import LayoutFit, fitted_reference_glyphs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default=str(DEFAULT_CHECKPOINT))
    parser.add_argument("--glyphs", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", default="4,8,16,25")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = pick_device(args.device)
    model = load_model(args.base, device)
    size = model.config.image_size
    chars = glyph_data.all_syllables()[: args.glyphs]
    content = to_model_space(torch.from_numpy(fitted_reference_glyphs(chars, LayoutFit.identity(), size))[:, None])
    style = next(t for t in model.tokenizer.vocabulary if t.startswith("<") and t != "<null>")
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, device {device}")
    print("| steps | glyphs/s | s per 11,172 |")
    print("|---|---|---|")
    for steps in map(int, args.steps.split(",")):
        started = time.time()
        with torch.inference_mode():
            for start in range(0, len(chars), args.batch_size):
                batch = chars[start:start + args.batch_size]
                ids = model.tokenizer.encode(style, batch).to(device)
                sample(model, content[start:start + len(batch)].to(device), ids, steps=steps,
                       noise=glyph_noise(batch, size, 0))
        if device == "cuda":
            torch.cuda.synchronize()
        rate = len(chars) / (time.time() - started)
        print(f"| {steps} | {rate:.1f} | {11172 / rate:.0f} |", flush=True)
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
