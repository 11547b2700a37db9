"""Summarize `fontgen eval` runs: per font and label, a metric for all / seen / unseen held-out syllables,
and how many fonts each label wins.

    python benchmarks/eval_summary.py runs/eval-lora-ksx/eval.json runs/eval-lora-256/eval.json --metric iou
"""
import argparse
import json
from pathlib import Path

HIGHER_IS_BETTER = {"ssim": True, "iou": True, "rmse": False, "placement_em": False}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("results", nargs="+", type=Path, help="eval.json files")
    parser.add_argument("--metric", default="iou", choices=sorted(HIGHER_IS_BETTER))
    args = parser.parse_args()
    better = max if HIGHER_IS_BETTER[args.metric] else min
    for path in args.results:
        results = json.loads(path.read_text())
        labels = list(dict.fromkeys(label for r in results for label in r["scores"]))
        print(f"\n{path} ({args.metric}; all / seen / unseen)\n")
        print("| font | known | " + " | ".join(labels) + " |")
        print("|---|---|" + "---|" * len(labels))
        wins = dict.fromkeys(labels, 0)
        for r in results:
            scores = r["scores"]
            best = better(scores[label]["all"][args.metric] for label in labels if label in scores)
            cells = []
            for label in labels:
                parts = [f"{scores[label][p][args.metric]:.3f}" if p in scores[label] else "-"
                         for p in ("all", "seen", "unseen")]
                if scores[label]["all"][args.metric] == best:
                    wins[label] += 1
                    parts[0] = f"**{parts[0]}**"
                cells.append(" / ".join(parts))
            print(f"| {r['font']} | {r['known']} | " + " | ".join(cells) + " |")
        print("\nfonts won on " + args.metric + ": " + ", ".join(f"{k} {v}" for k, v in wins.items()))


if __name__ == "__main__":
    main()
