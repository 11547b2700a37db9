"""Thousands of damaged fonts through `fontgen info`, `render`, `export` and (one in LEARN_EVERY) the first stage of
`learn`, in process: how many escaped as a traceback, hung, left a file behind or wrote a font that does not
read back (all should be 0). The generator and the runner are the test suite's (`tests/hostile_fonts.py`).

    python benchmarks/hostile_fonts.py [--cases 5000] [--start 0]
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tqdm import tqdm  # noqa: E402

from tests.hostile_fonts import MUTATIONS, SEED_FONTS, build_seeds, cases, run_case, write_glyph_folder  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
LEARN_EVERY = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--start", type=int, default=0, help="first case number (another seed of the battery)")
    parser.add_argument("--output", type=Path, default=RESULTS / "hostile-fonts.json")
    args = parser.parse_args()
    started = time.time()
    results, failures = collections.Counter(), []
    by_kind = {kind: collections.Counter() for kind in MUTATIONS}
    with tempfile.TemporaryDirectory() as tmp:
        seeds = build_seeds(Path(tmp) / "seeds")
        glyphs = write_glyph_folder(Path(tmp) / "glyphs", [0xAC01, 0xB137])
        for case in tqdm(cases(args.cases, args.start), desc="hostile fonts", unit="case"):
            commands = ("info", "render", "export") + (("learn",) if case.number % LEARN_EVERY == 0 else ())
            for outcome in run_case(case, seeds, glyphs, commands):
                results[f"{outcome.command} {outcome.result}"] += 1
                by_kind[case.kind][outcome.result] += 1
                if outcome.result not in ("ok", "refused"):
                    failures.append({"case": vars(case), "command": outcome.command, "result": outcome.result,
                                     "detail": outcome.detail})
    report = {"cases": args.cases, "start": args.start, "seeds": list(SEED_FONTS), "learn_every": LEARN_EVERY,
              "seconds": round(time.time() - started), "calls": dict(sorted(results.items())),
              "by_mutation": {k: dict(v) for k, v in by_kind.items()}, "failures": len(failures),
              "failure_list": failures[:200], "date": time.strftime("%Y-%m-%d")}
    args.output.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: report[k] for k in ("cases", "seconds", "calls", "failures")}, indent=1))


if __name__ == "__main__":
    main()
