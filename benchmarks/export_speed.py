"""Time rendering, vectorizing and exporting a full Hangul syllable set at 128 px.

Renders all 11,172 syllables of NanumGothic at 128 px, then exports them into two cut-down copies
of the font made with fontTools.subset: Latin + KS X 1001 (the other 8,822 syllables are added)
and Latin only (all 11,172 are added). Prints seconds per step and the peak RSS of the process.

    python benchmarks/export_speed.py [--font PATH] [--size 128] [--upscale-to N]
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import glyph_data  # noqa: E402
from fontgen.export import export_font  # noqa: E402
from fontgen.fonts import open_font  # noqa: E402
from fontgen.render import GlyphRenderer  # noqa: E402
from fontgen.vectorize import TraceParams  # noqa: E402

DEFAULT_FONT = "/usr/share/fonts/truetype/nanum/NanumGothic.ttf"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def cut_down(source: str, unicodes: list[int], out: Path) -> None:
    import logging

    from fontTools import subset

    logging.getLogger("fontTools.subset").setLevel(logging.ERROR)
    font = open_font(source)
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.hinting = True
    options.legacy_kern = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=unicodes)
    subsetter.subset(font)
    font.save(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--font", default=DEFAULT_FONT)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--upscale-to", type=int, default=None)
    args = parser.parse_args()
    params = TraceParams(upscale_to=args.upscale_to)

    syllables = glyph_data.all_syllables()
    started = time.perf_counter()
    renderer = GlyphRenderer(args.font, size_px=args.size)
    images = renderer.render_many(syllables)
    render_s = time.perf_counter() - started
    print(f"render {len(syllables):,} glyphs at {args.size} px: {render_s:.1f} s (peak RSS {peak_rss_mb():.0f} MB)")

    latin = list(range(0x20, 0x7F))
    ksx = set(glyph_data.ksx1001_syllables())
    rows = []
    with tempfile.TemporaryDirectory(prefix="fontgen-bench-") as folder:
        for label, keep in (("Latin + KS X 1001", latin + sorted(ksx)), ("Latin only", latin)):
            base = Path(folder) / "base.ttf"
            cut_down(args.font, keep, base)
            have = set(keep)
            glyphs = {cp: images[i] for i, cp in enumerate(syllables) if cp not in have}
            out = Path(folder) / "out.ttf"
            t0 = time.perf_counter()
            report = export_font(base, glyphs, out, params=params, progress=False)
            seconds = time.perf_counter() - t0
            rows.append((label, report.added, seconds, out.stat().st_size / 1e6, peak_rss_mb()))
            out.unlink()

    print()
    print("| base font | glyphs added | vectorize + export (s) | output (MB) | peak RSS so far (MB) |")
    print("|---|---:|---:|---:|---:|")
    for label, added, seconds, size_mb, rss in rows:
        print(f"| {label} | {added:,} | {seconds:.1f} | {size_mb:.1f} | {rss:.0f} |")
    print(f"\nfont: {args.font}, {args.size} px, {params}")


if __name__ == "__main__":
    main()
