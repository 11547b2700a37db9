"""Where `fontgen learn`'s time goes: each part of a model learn, timed in process on a val font cut down to a
number of known syllables, with the product's own functions wrapped by timers.

    python benchmarks/learn_profile.py --font NanumBarunGothicBold --known 256 [--method lora] [--steps 25]

Parts (seconds, calls): the jamo inventory; the training glyphs (rendering, held-back sets); the search for
the starting token; per stage, the training steps split into batch loading, forward passes, backward passes
and the rest (optimizer, clipping), and the held-back evaluations; the ink levels; the compose-or-model
choice; the preview. `--steps` caps each stage's steps (as `fontgen learn --steps` does); the report also
projects the stages to the recipe's own step counts from the measured cost of a step and of an evaluation.
"""
import argparse
import contextlib
import json
import platform
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch

import glyph_data
import fontgen.finetune as finetune
import fontgen.learn as learn_module
from fontgen.dataset import StyledGlyphs
from fontgen.evaluate import choose_known
from fontgen.fonts import font_info, subset_font
from fontgen.model import GlyphDiffusion
from fontgen.paths import RECIPES
from fontgen.recipe import learn_sections, read_recipe

RESULTS = Path(__file__).resolve().parent / "results"


class Timers:
    """Seconds and calls per part; `stage` names the learn stage the training parts are counted under."""

    def __init__(self):
        self.seconds, self.calls, self.stage = defaultdict(float), defaultdict(int), "setup"
        self.peak_mb = {}  # the process's peak RSS when the part last ended: where the peak is reached

    @contextlib.contextmanager
    def part(self, name: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - started
            self.calls[name] += 1
            self.peak_mb[name] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

    def wrap(self, name, function, in_stage: bool = False):
        def timed(*args, **kwargs):
            with self.part(f"{self.stage}: {name}" if in_stage else name):
                return function(*args, **kwargs)
        return timed


def instrument(timers: Timers) -> None:
    """Wrap the parts of learn in timers (module attributes, so learn calls the timed versions)."""
    for name in ("_jamo_inventory", "_training_glyphs", "nearest_style_tokens", "style_ink_level",
                 "choose_drawing", "preview"):
        setattr(learn_module, name, timers.wrap(name.strip("_"), getattr(learn_module, name)))

    train_stage = finetune.train_stage

    def timed_stage(name, *args, **kwargs):
        timers.stage = name
        with timers.part(f"{name}: whole stage"):
            result = train_stage(name, *args, **kwargs)
        timers.stage = "after"
        return result

    learn_module.train_stage = timed_stage
    finetune.evaluate = timers.wrap("held-back evaluation", finetune.evaluate, in_stage=True)

    user_glyph_loss = finetune.user_glyph_loss

    def timed_loss(*args, **kwargs):
        loss = user_glyph_loss(*args, **kwargs)

        def step_loss(rng):
            with timers.part(f"{timers.stage}: training step (loss, forward and backward)"):
                return loss(rng)
        return step_loss

    learn_module.user_glyph_loss = timed_loss
    batch = StyledGlyphs.batch
    StyledGlyphs.batch = lambda self, rows: timers.wrap("batch loading", batch, in_stage=True)(self, rows)
    forward = GlyphDiffusion.forward

    def timed_forward(self, *args, **kwargs):
        name = "forward (training)" if torch.is_grad_enabled() else "forward (no gradient)"
        return timers.wrap(name, forward, in_stage=True)(self, *args, **kwargs)

    GlyphDiffusion.forward = timed_forward
    backward = torch.Tensor.backward
    torch.Tensor.backward = lambda self, *args, **kwargs: timers.wrap("backward", backward, in_stage=True)(
        self, *args, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--font", default="NanumBarunGothicBold")
    parser.add_argument("--known", default="256")
    parser.add_argument("--method", default="lora")
    parser.add_argument("--steps", type=int, default=None, help="cap each stage's steps (default: the recipe's)")
    parser.add_argument("-o", "--output", default=None)
    args = parser.parse_args()
    font = glyph_data.corpus_font(args.font)
    known = choose_known(font_info(font.path, font.face).hangul, args.known)
    timers = Timers()
    instrument(timers)
    with tempfile.TemporaryDirectory() as tmp:
        cut = subset_font(font.path, font.face, known, Path(tmp) / f"{args.font}-known.ttf")
        started = time.perf_counter()
        style = learn_module.learn(cut, Path(tmp) / "style.fontgen", method=args.method, steps=args.steps,
                                   progress=False)
        seconds = time.perf_counter() - started
        manifest = json.loads((style / "manifest.json").read_text())
    recipe = read_recipe(RECIPES / f"{args.method}.toml", "learn", learn_sections(args.method))
    eval_every = recipe["early_stop"]["eval_every"]
    projected = {}
    for stage in manifest.get("stages", []):
        name, steps = stage["name"], stage["steps"]
        recipe_steps = {"textual inversion": recipe["ti"]["steps"], "LoRA": recipe.get("lora", {}).get("steps"),
                        "DreamBooth": recipe.get("dreambooth", {}).get("steps"),
                        "hypernetwork": recipe.get("hypernetwork", {}).get("steps")}[name]
        step_cost = timers.seconds[f"{name}: training step (loss, forward and backward)"] / max(1, steps)
        evaluations = timers.calls[f"{name}: held-back evaluation"]
        eval_cost = timers.seconds[f"{name}: held-back evaluation"] / max(1, evaluations)
        projected[name] = {"recipe_steps": recipe_steps, "seconds_per_step": round(step_cost, 2),
                           "seconds_per_evaluation": round(eval_cost, 2),
                           "projected_seconds": round(recipe_steps * step_cost
                                                      + (recipe_steps // eval_every + 1) * eval_cost)}
    parts = {name: {"seconds": round(value, 1), "calls": timers.calls[name], "peak_rss_mb_after": timers.peak_mb[name]}
             for name, value in sorted(timers.seconds.items(), key=lambda item: -item[1])}
    result = {"font": args.font, "known": len(known), "method": args.method, "steps_cap": args.steps,
              "seconds": round(seconds, 1), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                                                 / 1024),
              "stages": [{k: s[k] for k in ("name", "steps", "best_step", "seconds")} for s in manifest["stages"]],
              "parts": parts, "projected_at_recipe_steps": projected, "torch_threads": torch.get_num_threads(),
              "machine": platform.processor() or platform.machine(), "date": time.strftime("%Y-%m-%d")}
    print(f"learn --method {args.method}, {args.font} cut to {len(known)} known: {seconds:.0f} s, "
          f"peak RSS {result['peak_rss_mb']} MB")
    for name, part in parts.items():
        print(f"  {part['seconds']:8.1f} s  {part['calls']:5d}x  {name} (peak RSS so far {part['peak_rss_mb_after']} MB)")
    for name, projection in projected.items():
        print(f"  {name} at the recipe's {projection['recipe_steps']} steps: about {projection['projected_seconds']} s "
              f"({projection['seconds_per_step']} s a step, {projection['seconds_per_evaluation']} s an evaluation)")
    output = Path(args.output) if args.output else RESULTS / f"learn-profile-{args.font}-{args.known}.json"
    output.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
