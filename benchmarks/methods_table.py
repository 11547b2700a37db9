"""The four ways of teaching the model a font, side by side: textual inversion, LoRA, DreamBooth and a
hypernetwork, per val font, from `fontgen eval --method lora|dreambooth|hypernetwork` result files.

    python benchmarks/methods_table.py benchmarks/results/eval-lora-256.json \\
        benchmarks/results/eval-dreambooth-256-all.json benchmarks/results/eval-hypernetwork-256.json

Each method's cell is its drawings read back from the exported font (eval's "font file"); textual inversion
has no font of its own in these runs, so its cell is its drawings finished at its ink level and scored
directly (the same 128 px, the same held-out syllables), taken from the hypernetwork run when there is one
(the same recipe's first stage in every run). Below the table: file size, learn time (both stages; runs that
shared the two cores with other jobs count as measured) and peak memory where eval recorded it.
"""
import argparse
import json
from pathlib import Path

METHODS = ("ti", "lora", "dreambooth", "hypernetwork")
TITLES = {"ti": "textual inversion", "lora": "LoRA", "dreambooth": "DreamBooth", "hypernetwork": "hypernetwork"}


def cell(scores: dict | None) -> str:
    return f"{scores['iou']:.3f} / {scores['ssim']:.3f} / {scores['rmse']:.3f}" if scores else "-"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--peaks", type=Path, default=Path(__file__).resolve().parent / "results" / "peak-memory.json",
                        help="peak memory measured outside eval (/usr/bin/time -v, learn_profile.py), "
                             "peak_gb: kilobytes / 1e6")
    args = parser.parse_args()
    rows: dict[tuple, dict] = {}
    costs: dict[tuple, dict] = {}
    for path in args.results:
        for r in json.loads(path.read_text()):
            key = (r["known"], r["font"])
            row = rows.setdefault(key, {})
            row[r["method"]] = r["scores"]["font file"]["all"]
            if "ti" in r["scores"] and ("ti" not in row or r["method"] == "hypernetwork"):
                row["ti"] = r["scores"]["ti"]["all"]
            row["reference"], row["nearest"] = r["scores"]["reference"]["all"], r["scores"]["nearest"]["all"]
            if r.get("learned"):
                costs.setdefault((r["known"], r["method"]), {})[r["font"]] = (  # a font's last run
                    r["learned"]["seconds"], sum(r["learned"]["artifact_bytes"].values()), r.get("process_peak_rss_mb"))
    print("| known | font | " + " | ".join(TITLES[m] for m in METHODS) + " | fitted reference | nearest font |")
    print("|---:|---|" + "---|" * (len(METHODS) + 2))
    means: dict[tuple, list] = {}
    for (known, font), row in sorted(rows.items()):
        best = max((m for m in METHODS if m in row), key=lambda m: row[m]["iou"])
        cells = [("**" + cell(row.get(m)) + "**") if m == best else cell(row.get(m)) for m in METHODS]
        print(f"| {known} | {font} | " + " | ".join(cells) + f" | {cell(row['reference'])} | {cell(row['nearest'])} |")
        for m in METHODS:
            if m in row:
                means.setdefault((known, m), []).append(row[m]["iou"])
    print()
    for (known, method), values in sorted(means.items()):
        print(f"- mean IoU, {known} known, {TITLES[method]}: {sum(values) / len(values):.3f} over {len(values)} fonts")
    print()
    peaks: dict[str, list[float]] = {}
    for r in json.loads(args.peaks.read_text()) if args.peaks.exists() else []:
        # Written as /usr/bin/time's kilobytes (KiB) over a million; shown in GiB as every other table.
        peaks.setdefault(r["method"], []).append(r["peak_gb"] * 1e6 / 2**20)
    cost_table(costs, peaks)


def cost_table(costs: dict[tuple, dict], measured_peaks: dict[str, list[float]]) -> None:
    """Per method: style file size, learn minutes (mean over the fonts, both stages; the range) per known count,
    and the peak memory (GiB) recorded by eval or measured outside it."""
    print("| method | style files | learn, 256 known (min) | learn, 2,350 known (min) | peak memory |")
    print("|---|---:|---:|---:|---:|")
    for method in METHODS[1:]:
        runs = {known: list(by_font.values()) for (known, m), by_font in costs.items() if m == method}
        if not runs:
            continue
        sizes = [v[1] for values in runs.values() for v in values]
        recorded = [v[2] / 1024 for values in runs.values() for v in values if v[2]]  # MiB
        peaks = recorded + measured_peaks.get(method, [])

        def minutes(known: int) -> str:
            values = [v[0] / 60 for v in runs.get(known, [])]
            if not values:
                return "-"
            return f"{sum(values) / len(values):.0f} ({min(values):.0f}-{max(values):.0f}, {len(values)} fonts)"

        peak = f"{min(peaks):.2f}-{max(peaks):.2f} GiB" if peaks else "-"
        print(f"| {TITLES[method]} | {sum(sizes) / len(sizes) / 1e3:,.0f} kB | {minutes(256)} | {minutes(2350)} | "
              f"{peak} |")


if __name__ == "__main__":
    main()
