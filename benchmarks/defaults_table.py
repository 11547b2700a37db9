"""The first screen of BENCHMARKS.md: the default (compose) against LoRA (the model alone) and both
baselines, per val font, from `fontgen eval` result files (every score read back from the exported font);
then each command's time and peak memory.

    python benchmarks/defaults_table.py            # the current runs (CURRENT below)
    python benchmarks/defaults_table.py --compose runs/eval-compose/eval.json ...   # other runs

A font's row (composed or LoRA) is taken from the last file that has it: runs were made font by font as the
code changed (e.g. composition re-run on the drawn fonts only, the fonts that store composites being
unchanged), and the last run of each font is the current code's. `--readability` files
(`benchmarks/readability_rescore.py`) give the "read as intended" cells instead of the eval files, for runs made
before eval read with the recognizer adapted to each font.

`--speed` (`benchmarks/command_speed.py` files: each command in its own process), `--complete`
(`benchmarks/complete_speed.py`) and `--profile` (`benchmarks/learn_profile.py`, a model learn projected to
its recipe's steps) make the second table: seconds and peak memory of each command on this CPU.
"""
import argparse
import json
import tomllib
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
RECIPES = Path(__file__).resolve().parent.parent / "recipes"
STAGE_SECTIONS = {"textual inversion": "ti", "LoRA": "lora", "DreamBooth": "dreambooth", "hypernetwork": "hypernetwork"}
# The runs of the current defaults, oldest first (a font's last run wins): what the first screen of
# BENCHMARKS.md shows when the script is run without arguments.
CURRENT = {
    "compose": ["eval-compose-ksx-likeletters.json", "eval-compose-256-likeletters.json",
                "eval-compose-ksx-reused.json", "eval-compose-256-reused.json"],
    "lora": ["eval-lora-ksx-ink.json", "eval-lora-ksx-edge.json", "eval-lora-256-level.json",
             "eval-lora-256-level-brush-recipe.json"],
    "readability": [],  # re-read cells for runs made before eval read them (none of the current ones)
    "speed": ["command-speed-NanumBrush-ksx1001.json", "command-speed-NanumBrush-256.json"],
    "complete": ["complete-speed-NanumBrush-ksx1001.json", "complete-speed-NanumBrush-256.json",
                 "complete-speed-NanumSquareRoundR-ksx1001.json", "complete-speed-NanumBarunGothicBold-ksx1001.json"],
    "profile": ["learn-profile-NanumBarunGothicBold-256.json", "learn-profile-NanumBarunGothicBold-ksx1001.json"],
}


def cell(scores: dict) -> str:
    return f"{scores['iou']:.3f} / {scores['ssim']:.3f} / {scores['rmse']:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    for option, names in CURRENT.items():
        parser.add_argument(f"--{option}", nargs="*", type=Path, default=[RESULTS / name for name in names])
    args = parser.parse_args()
    quality_table(args)
    if args.speed or args.complete or args.profile:
        print()
        speed_table(args.speed, args.complete, args.profile)


def quality_table(args) -> None:
    readable = {(r["font"], r["known"]): r for path in args.readability for r in json.loads(path.read_text())}
    lora = {(r["font"], r["known"]): r for path in args.lora for r in json.loads(path.read_text())}  # last wins
    print("| font | known | composed | own contours (in part) | compose (default) | LoRA (model alone) |"
          " fitted reference | nearest font | read as intended: compose / real |")
    print("|---|---:|---:|---:|---|---|---|---|---|")
    means: dict[tuple, list] = {}
    compose = {(r["font"], r["known"]): r for path in args.compose for r in json.loads(path.read_text())}  # last wins
    for r in compose.values():
        mine = r["scores"]["font file"]["all"]
        other = lora.get((r["font"], r["known"]))
        theirs = other["scores"]["font file"]["all"] if other else None
        read, real = r["scores"]["compose"]["all"].get("read_as_intended"), r.get("real_read_as_intended")
        if "recognizer_adapted_on" not in r and (r["font"], r["known"]) in readable:
            read, real = readable[r["font"], r["known"]]["compose"], readable[r["font"], r["known"]]["real"]
        read_cell = f"{read:.3f} / {real:.3f}" if read is not None else "-"
        learned = r.get("learned") or {}
        contours = (f"{learned['outlines']} ({learned.get('outlines_partly_traced', '-')})" if "outlines" in learned
                    else "-")
        print(f"| {r['font']} | {r['known']} | {r.get('composed', '-')}/{r['held_out']} | {contours} | {cell(mine)} | "
              f"{cell(theirs) if theirs else '-'} | {cell(r['scores']['reference']['all'])} | "
              f"{cell(r['scores']['nearest']['all'])} | {read_cell} |")
        means.setdefault((r["known"], "compose"), []).append(mine["iou"])
        if theirs:
            means.setdefault((r["known"], "lora"), []).append(theirs["iou"])
    print()
    for (known, label), values in sorted(means.items()):
        print(f"- mean IoU, {known} known, {label}: {sum(values) / len(values):.3f} over {len(values)} fonts")


def speed_table(speed: list[Path], complete: list[Path], profile: list[Path]) -> None:
    """Seconds and peak memory per command, font and known syllables, in the order a user runs them."""
    rows, dates = [], set()

    def put(command: str, result: dict, seconds: float, peak_mb: float) -> None:
        rows.append(f"| {command} | {result['font']} | {result['known']:,} | {seconds:,.{1 if seconds < 10 else 0}f} | "
                    f"{peak_mb / 1024:.2f} GiB |")
        dates.add(result["date"])

    for path in speed:
        result = json.loads(path.read_text())
        for name, measured in result["commands"].items():
            put(f"`fontgen {name}`", result, measured["seconds"], measured["peak_rss_mb"])
    for path in complete:
        result = json.loads(path.read_text())
        put("`fontgen complete` (all of it, one process)", result, result["seconds"], result["peak_rss_mb"])
    for path in profile:
        result = json.loads(path.read_text())
        # Each stage's measured cost scaled to the steps of today's recipe (a profile may have run another).
        recipe = tomllib.loads((RECIPES / f"{result['method']}.toml").read_text())
        seconds = result["seconds"]
        for stage in result["stages"]:
            projection = result["projected_at_recipe_steps"][stage["name"]]
            steps = recipe[STAGE_SECTIONS[stage["name"]]]["steps"]
            seconds += projection["projected_seconds"] * steps / projection["recipe_steps"] - stage["seconds"]
        put(f"`fontgen learn --method {result['method']}` (projected to its recipe's steps)", result, seconds,
            result["peak_rss_mb"])
    print("| command | font | known | seconds | peak memory |")
    print("|---|---|---:|---:|---:|")
    print("\n".join(rows))
    print(f"\nMeasured {', '.join(sorted(dates))}: wall time, and the peak resident memory of the command's process.")

if __name__ == "__main__":
    main()
