"""Time and peak memory of each `fontgen` command a user runs, one after the other as README shows them, with
the default settings: `info`, `learn`, `generate`, `export`, `specimen` (HTML and PNG), on a val font cut down
to its 2,350 KS X 1001 syllables (or a random `--known` of them). Each command runs in a fresh process (its
own peak memory, read from the kernel's accounting of that process alone), with an empty cache folder (a
user's first run). `complete` (learn, generate and export in one process) is `benchmarks/complete_speed.py`.

    python benchmarks/command_speed.py [--font NanumBrush] [--known ksx1001]

Writes `benchmarks/results/command-speed-FONT-KNOWN.json`; `benchmarks/defaults_table.py --speed` makes the
table on the first screen of BENCHMARKS.md from it.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import glyph_data
from fontgen.evaluate import choose_known
from fontgen.fonts import font_info, subset_font

RESULTS = Path(__file__).resolve().parent / "results"


def timed(args: list[str], env: dict) -> dict:
    """One fontgen command in a fresh process, reaped with wait4: wall seconds, its own peak RSS, what it said."""
    started = time.time()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen([sys.executable, "-m", "fontgen.cli", *args], stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.time() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode:
            sys.exit(f"fontgen {args[0]} failed: {(err.read().strip().splitlines() or ['?'])[-1]}")
        said = [line for line in out.read().strip().splitlines() if line.strip()]
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024), "said": said[-2:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--font", default="NanumBrush")
    parser.add_argument("--known", default="ksx1001")
    parser.add_argument("-o", "--output", default=None)
    args = parser.parse_args()
    font = glyph_data.corpus_font(args.font)
    known = choose_known(font_info(font.path, font.face).hangul, args.known)
    commands = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = {**os.environ, "FONTGEN_CACHE": str(tmp / "cache")}
        cut = subset_font(font.path, font.face, known, tmp / f"{args.font}-known.ttf")
        steps = {
            "info": ["info", str(cut)],
            "learn": ["learn", str(cut), "-o", str(tmp / "style.fontgen")],
            "generate": ["generate", str(tmp / "style.fontgen"), "-o", str(tmp / "glyphs"), "--compat-jamo"],
            "export": ["export", str(cut), str(tmp / "glyphs"), "-o", str(tmp / "done.ttf")],
            "specimen": ["specimen", str(tmp / "done.ttf"), "-o", str(tmp / "specimen.html"), "--png",
                         str(tmp / "specimen.png"), "--original", str(cut)],
        }
        for name, command in steps.items():
            commands[name] = timed(command, env)
            print(name, commands[name], flush=True)
    result = {"font": args.font, "known": len(known), "commands": commands,
              "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
              "date": time.strftime("%Y-%m-%d")}
    output = Path(args.output) if args.output else RESULTS / f"command-speed-{args.font}-{args.known}.json"
    output.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
