"""Train the jamo recognizer (`fontgen.readability`) on the train fonts and check it on the val fonts.

    python scripts/train_recognizer.py [--minutes 15] [--chars 2000] [--distort 0.75] [--out checkpoints/recognizer]

Every train font renders the same random `--chars` syllables at 64 px in its own em frame; each batch is
moved and scaled a little at random (drawn glyphs are not always where the font would put them), and the
share `--distort` of it also given a hand of its own (`readability.distort`: sheared, bent, strokes thickened
or thinned), since no train font is as far from print as the hand-drawn and display val fonts. Saves
model.safetensors, config.json (the recipe and the val scores) and resumes from them (or starts from the
weights of `--start`).
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

import glyph_data
from fontgen.dataset import build_cache, corpus_sources
from fontgen.files import atomic_path, write_json_atomic
from fontgen.paths import default_cache_dir
from fontgen.readability import (HEADS, RECOGNIZER_DIR, RECOGNIZER_SIZE, JamoRecognizer, augment, distort,
                                 jamo_targets, read_as_intended)


def val_share(model: JamoRecognizer, per_font: int = 300) -> dict[str, float]:
    """Share of each val font's real glyphs (random syllables it draws) read as intended."""
    from fontgen.fonts import font_info
    from fontgen.render import GlyphRenderer

    model.eval()
    out = {}
    rng = np.random.default_rng(7)
    for font in glyph_data.corpus_split("val"):
        if not font.available:
            continue
        drawn = font_info(font.path, font.face).hangul  # not every val font has all 11,172
        chars = sorted(int(c) for c in rng.choice(drawn, per_font, replace=False))
        images = GlyphRenderer(font.path, RECOGNIZER_SIZE, face=font.face).render_many(chars)
        out[font.name] = round(float(read_as_intended(model, images, chars).mean()), 4)
    model.train()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=15)
    parser.add_argument("--chars", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--distort", type=float, default=0.75, help="share of each batch given a hand of its own")
    parser.add_argument("--start", help="a recognizer folder whose weights to start from (when --out has none)")
    parser.add_argument("--out", default=str(RECOGNIZER_DIR))
    args = parser.parse_args()
    if not 0 <= args.distort <= 1:
        raise SystemExit(f"--distort {args.distort}: a share of each batch, between 0 and 1")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    chars = sorted(int(c) for c in np.random.default_rng(0).choice(glyph_data.all_syllables(), args.chars,
                                                                    replace=False))
    cache = build_cache(corpus_sources("train"), chars, RECOGNIZER_SIZE, default_cache_dir())
    fonts, index = np.nonzero(cache.has)
    targets = jamo_targets([cache.chars[i] for i in index])
    model = JamoRecognizer(args.width)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    config_path, weights_path = out / "config.json", out / "model.safetensors"
    saved = json.loads(config_path.read_text()) if config_path.exists() else {}
    step, seconds_before = 0, saved.get("seconds", 0)
    if weights_path.exists() and saved:
        model.load_state_dict(load_file(str(weights_path)))
        step = saved.get("steps", 0)
        args.start = saved.get("started_from")  # resumed: what the run began from
    elif args.start:
        model.load_state_dict(load_file(str(Path(args.start) / "model.safetensors")))
    generator = torch.Generator().manual_seed(step)
    started = time.time()
    model.train()
    while time.time() - started < args.minutes * 60:
        rows = torch.randint(0, len(fonts), (args.batch_size,), generator=generator).numpy()
        x = torch.from_numpy(cache.images[fonts[rows], index[rows]].astype(np.float32) / 255.0)[:, None]
        varied = int(round(args.distort * len(x)))
        x = torch.cat([distort(x[:varied], generator), x[varied:]])
        logits = model(augment(x, generator))
        loss = sum(F.cross_entropy(logits[name], targets[name][rows]) for name in HEADS)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        if step % 200 == 0:
            print(f"step {step} loss {loss.item():.3f} ({time.time() - started:.0f} s)", flush=True)
        if step % 1000 == 0:
            save(model, config_path, weights_path, args, step, seconds_before + time.time() - started,
                 len(cache.font_names), None)
    save(model, config_path, weights_path, args, step, seconds_before + time.time() - started, len(cache.font_names),
         val_share(model))


def save(model: JamoRecognizer, config_path: Path, weights_path: Path, args, step: int, seconds: float,
         train_fonts: int, scores: dict | None) -> None:
    """The weights and the recipe (with the val scores, when measured), each written whole."""
    with atomic_path(weights_path) as partial:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(partial))
    config = {"width": args.width, "size": RECOGNIZER_SIZE, "steps": step, "batch_size": args.batch_size,
              "lr": args.lr, "distort": args.distort, "started_from": args.start, "train_fonts": train_fonts,
              "chars_per_font": args.chars, "seconds": round(seconds), "val_read_as_intended": scores}
    write_json_atomic(config_path, config)
    print(json.dumps(config, indent=1), flush=True)


if __name__ == "__main__":
    main()
