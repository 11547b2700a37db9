"""Time and peak memory of `fontgen complete` with the default settings, on a val font cut down to its
2,350 KS X 1001 syllables (or a random `--known` of them), completed to all 11,172 plus the compatibility
letters. Runs the real command in a fresh process, a new style folder and an empty cache folder each time (what
a user's first run costs: no jamo labels or reference tables kept from an earlier one).

    python benchmarks/complete_speed.py [--font NanumBrush] [--known ksx1001]
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import glyph_data
from fontgen.evaluate import choose_known
from fontgen.fonts import font_info, subset_font

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--font", default="NanumBrush")
    parser.add_argument("--known", default="ksx1001")
    parser.add_argument("-o", "--output", default=None)
    args = parser.parse_args()
    font = glyph_data.corpus_font(args.font)
    known = choose_known(font_info(font.path, font.face).hangul, args.known)
    with tempfile.TemporaryDirectory() as tmp:
        cut = subset_font(font.path, font.face, known, Path(tmp) / f"{args.font}-known.ttf")
        started = time.time()
        run = subprocess.run([sys.executable, "-m", "fontgen.cli", "complete", str(cut), "-o",
                              str(Path(tmp) / "done.ttf")], capture_output=True, text=True,
                             env={**os.environ, "FONTGEN_CACHE": str(Path(tmp) / "cache")})
        seconds = time.time() - started
        if run.returncode:
            sys.exit(run.stderr.strip().splitlines()[-1])
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        manifest = json.loads((Path(tmp) / "done.fontgen" / "manifest.json").read_text())
        sources = json.loads((Path(tmp) / "done.glyphs" / "sources.json").read_text())["summary"]
    result = {"font": args.font, "known": len(known), "seconds": round(seconds, 1), "peak_rss_mb": round(peak_mb),
              "learn_method": manifest["method"], "learn_seconds": manifest["seconds"], "glyphs": sources,
              "summary": run.stdout.strip().splitlines(), "machine": platform.processor() or platform.machine(),
              "date": time.strftime("%Y-%m-%d")}
    print(json.dumps(result, indent=1, ensure_ascii=False))
    output = Path(args.output) if args.output else RESULTS / f"complete-speed-{args.font}-{args.known}.json"
    output.write_text(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
