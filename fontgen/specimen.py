"""Specimen pages: an HTML page showing a (completed) font, and a PNG of it rendered by Chromium.

The font is embedded in the page as a base64 data URL, so the HTML is one self-contained file.
Syllables the font covers that the original font lacked (the generated ones) are marked in the grid
and underlined in the text samples.
"""
from __future__ import annotations

import base64
import html
import io
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from fontTools.ttLib import TTCollection
from fontTools.ttLib.sfnt import SFNTWriter

import glyph_data
from fontgen.errors import FontgenError
from fontgen.files import atomic_path, write_text_atomic
from fontgen.fonts import _read_font_bytes, hangul_syllables_in, open_font

FACE_NAME = "fontgen-specimen"  # unique, so an installed font of the same family is never used instead

PANGRAMS = (
    "키스의 고유조건은 입술끼리 만나야 하고 특별한 기술은 필요치 않다.",
    "다람쥐 헌 쳇바퀴에 타고파",
)
PARAGRAPH = (
    "모든 인간은 태어날 때부터 자유로우며 그 존엄과 권리에 있어 동등하다. "
    "인간은 천부적으로 이성과 양심을 부여받았으며 서로 형제애의 정신으로 행동하여야 한다. "
    "한글은 닿소리와 홀소리를 모아 한 글자를 이루므로, 글꼴 하나에 만 천백일흔두 자의 음절이 필요하다. "
    "햇살 가득한 오후, 꽃잎이 흩날리는 골목길을 따라 천천히 걸었다."
)
PARAGRAPH_SIZES = (14, 20, 28)

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--force-device-scale-factor=1", "--virtual-time-budget=5000",
)
DEFAULT_HEIGHT = 2000
MAX_HEIGHT = 16000


def _font_data_url(font_path: Path, face: int) -> str:
    """The font as a data URL Chromium accepts; one face of a collection is extracted first."""
    data = _read_font_bytes(font_path)
    magic = data[:4]
    if magic == b"ttcf":
        data = _collection_face(font_path, data, face)
        mime = "font/otf" if data[:4] == b"OTTO" else "font/ttf"
    else:
        mime = {b"wOFF": "font/woff", b"wOF2": "font/woff2", b"OTTO": "font/otf"}.get(magic, "font/ttf")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _collection_face(font_path: Path, data: bytes, face: int) -> bytes:
    """One face of a TTC as a standalone SFNT, its tables copied raw (decompiling a CJK font takes a minute)."""
    open_font(font_path, face)  # validates the face index and the tables, with the usual errors
    reader = TTCollection(io.BytesIO(data), lazy=True).fonts[face].reader
    buffer = io.BytesIO()
    tags = sorted(reader.keys())
    writer = SFNTWriter(buffer, len(tags), sfntVersion=reader.sfntVersion)
    for tag in tags:
        writer[tag] = reader[tag]
    writer.close()  # also sets head.checkSumAdjustment for the new file
    return buffer.getvalue()


def _spread(items: list[int], count: int) -> list[int]:
    """Up to count items evenly spread over the list (deterministic)."""
    if count <= 0:
        return []
    if len(items) <= count:
        return list(items)
    return [items[(i * len(items)) // count] for i in range(count)]


def _sample(codepoints: list[int], count: int) -> list[int]:
    """Up to count syllables, common ones (KS X 1001) first, evenly spread over the codepoint range."""
    common = set(glyph_data.ksx1001_syllables())
    preferred = [c for c in codepoints if c in common]
    rest = [c for c in codepoints if c not in common]
    chosen = _spread(preferred, count)
    chosen += _spread(rest, count - len(chosen))
    return sorted(chosen)


def _mark_text(text: str, generated: set[int]) -> str:
    """Escaped text with runs of generated syllables wrapped in <span class="g">."""
    out, current, in_gen = [], [], False
    for char in text:
        is_gen = ord(char) in generated
        if is_gen != in_gen and current:
            chunk = html.escape("".join(current))
            out.append(f'<span class="g">{chunk}</span>' if in_gen else chunk)
            current = []
        in_gen = is_gen
        current.append(char)
    if current:
        chunk = html.escape("".join(current))
        out.append(f'<span class="g">{chunk}</span>' if in_gen else chunk)
    return "".join(out)


CSS = """
@font-face { font-family: "%(face)s"; src: url("%(url)s"); font-display: block; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: #1a1a1a;
       font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; font-size: 14px; }
main { width: 1160px; margin: 0 auto; padding: 28px 20px 36px; }
header { border-bottom: 1px solid #ddd; padding-bottom: 14px; margin-bottom: 18px; }
h1 { font-size: 26px; margin: 0 0 6px; font-weight: 600; }
h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .08em; color: #666;
     margin: 26px 0 10px; font-weight: 600; }
.meta { color: #555; margin: 2px 0; }
.sample { font-family: "%(face)s", sans-serif; line-height: 1.45; margin: 0 0 8px; }
.size { color: #999; font-size: 11px; margin: 10px 0 2px; }
.g { text-decoration: underline 2px #e8890c; text-underline-offset: 3px; }
.legend { display: flex; gap: 22px; align-items: center; color: #444; margin-bottom: 10px; }
.legend span.box { display: inline-block; width: 16px; height: 16px; vertical-align: -3px;
                   margin-right: 6px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, 64px); gap: 6px; }
.cell { width: 64px; height: 80px; border: 2px solid #d5d8dc; background: #f3f4f6;
        display: flex; flex-direction: column; align-items: center; justify-content: center; }
.cell.gen { border-color: #e8890c; background: #ffe9c2; }
.cell .ch { font-family: "%(face)s"; font-size: 44px; line-height: 52px; height: 52px; }
.cell .cp { font-family: "DejaVu Sans Mono", monospace; font-size: 9px; color: #8a8a8a; }
#font-error { display: none; background: #b00020; color: #fff; padding: 8px 12px; margin-bottom: 12px; }
footer { color: #999; font-size: 11px; margin-top: 24px; }
"""

SCRIPT = """
(async () => {
  const root = document.documentElement;
  let status = "missing";
  for (const face of document.fonts) {
    if (face.family.replace(/["']/g, "") !== "%(face)s") continue;
    try { await face.load(); status = face.status; } catch (e) { status = "error"; }
  }
  await document.fonts.ready;
  root.dataset.fontStatus = status;
  if (status !== "loaded") document.getElementById("font-error").style.display = "block";
  root.dataset.height = Math.ceil(document.documentElement.getBoundingClientRect().height);
})();
"""


def write_specimen(
    font_path: str | Path,
    out_html: str | Path,
    *,
    original_font: str | Path | None = None,
    sample_size: int = 250,
    face: int = 0,
    original_face: int = 0,
) -> Path:
    """Write a self-contained HTML specimen of a font; returns the HTML's path.

    With original_font, the Hangul syllables the font covers and the original lacks are the generated
    ones: the grid shows up to sample_size syllables, about four fifths generated (marked) and the rest
    original. Without it the grid shows a sample of the font's syllables, none marked.
    """
    font_path, out_html = Path(font_path), Path(out_html)
    font = open_font(font_path, face)
    covered = hangul_syllables_in(font)
    family = font["name"].getBestFamilyName() or font_path.stem
    style = font["name"].getBestSubFamilyName() or ""

    if original_font is not None:
        original = set(hangul_syllables_in(open_font(Path(original_font), original_face)))
        generated = [c for c in covered if c not in original]
        kept = [c for c in covered if c in original]
        originals_wanted = min(len(kept), max(sample_size // 5, sample_size - len(generated)))
        grid_gen = _sample(generated, sample_size - originals_wanted)
        grid_orig = _sample(kept, originals_wanted)
    else:
        generated, kept = [], covered
        grid_gen, grid_orig = [], _sample(covered, sample_size)
    generated_set = set(generated)

    total = glyph_data.SYLLABLE_COUNT
    ksx = glyph_data.ksx1001_syllables()
    covered_set = set(covered)
    ksx_count = sum(1 for c in ksx if c in covered_set)
    coverage = f"Coverage: {len(covered):,} of {total:,} Hangul syllables ({ksx_count:,} of {len(ksx):,} KS X 1001)"
    if original_font is not None:
        coverage += f": {len(generated):,} generated, {len(kept):,} from the original font"

    cells = []
    for code in sorted(grid_gen + grid_orig):
        kind = "gen" if code in generated_set else "orig"
        label = "generated" if kind == "gen" else ("original" if original_font is not None else "")
        title = f"U+{code:04X}" + (f" ({label})" if label else "")
        cells.append(
            f'<div class="cell {kind}" data-cp="{code:04X}" title="{title}">'
            f'<span class="ch">{chr(code)}</span><span class="cp">{code:04X}</span></div>'
        )
    if original_font is not None:
        grid_heading = (f"Syllables: {len(grid_gen):,} of {len(generated):,} generated, "
                        f"{len(grid_orig):,} of {len(kept):,} original")
        legend = (
            '<div class="legend">'
            '<span><span class="box" style="background:#ffe9c2;border:2px solid #e8890c"></span>'
            'Generated (the original font lacks it)</span>'
            '<span><span class="box" style="background:#f3f4f6;border:2px solid #d5d8dc"></span>'
            'From the original font</span>'
            '<span><span class="g">가나</span> generated syllables in the text samples</span>'
            '</div>'
        )
    else:
        grid_heading = f"Syllables: a sample of {len(grid_orig):,} of {len(covered):,}"
        legend = ""

    pangrams = "\n".join(
        f'<p class="sample" style="font-size:{size}px">{_mark_text(text, generated_set)}</p>'
        for text, size in zip(PANGRAMS, (44, 36))
    )
    paragraphs = "\n".join(
        f'<div class="size">{size} px</div>'
        f'<p class="sample" style="font-size:{size}px">{_mark_text(PARAGRAPH, generated_set)}</p>'
        for size in PARAGRAPH_SIZES
    )
    name = html.escape(f"{family} {style}".strip())
    source = html.escape(font_path.name)
    original_line = (f'<p class="meta">Original font: {html.escape(Path(original_font).name)}</p>'
                     if original_font is not None else "")
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{name}: font specimen</title>
<style>{CSS % {"face": FACE_NAME, "url": _font_data_url(font_path, face)}}</style>
</head>
<body>
<main>
<div id="font-error">The browser could not load this font; the text below is in a fallback font.</div>
<header>
<h1>{name}</h1>
<p class="meta">{source}</p>
{original_line}
<p class="meta">{coverage}</p>
</header>
<h2>Pangrams</h2>
{pangrams}
<h2>Text</h2>
{paragraphs}
<h2>{grid_heading}</h2>
{legend}
<div class="grid">
{"".join(cells)}
</div>
<footer>Specimen written by fontgen.</footer>
</main>
<script>{SCRIPT % {"face": FACE_NAME}}</script>
</body>
</html>
"""
    out_html.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out_html, page)
    return out_html




def find_chromium(chromium: str | Path | None = None) -> str:
    """The Chromium executable to use: the one given, else the first on PATH, else /usr/bin/chromium."""
    if chromium is not None:
        found = shutil.which(str(chromium))
        if not found:
            raise FontgenError(f"{chromium}: Chromium not found; it is needed to render the specimen PNG")
        return found
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    raise FontgenError("Chromium not found (install the chromium package); it is needed to render the specimen PNG")


def _run_chromium(executable: str, args: list[str], timeout: float) -> subprocess.CompletedProcess:
    """Run headless Chromium with a fresh profile; kill its whole process group on timeout."""
    with tempfile.TemporaryDirectory(prefix="fontgen-chromium-") as profile:
        command = [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
        try:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as error:
            raise FontgenError(f"{executable}: could not start Chromium ({error.strerror or error})") from None
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.communicate()
            raise FontgenError(f"Chromium did not finish rendering within {timeout:.0f} s") from None
        return subprocess.CompletedProcess(command, process.returncode,
                                           stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"))


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return (lines[-1][:200] if lines else "no output")


def measure_page(html_path: str | Path, width: int = 1200, *, chromium: str | Path | None = None,
                 timeout: float = 60) -> tuple[str | None, int | None]:
    """Load a specimen page headless and read back (font status, page height in px).

    The specimen's script records whether the embedded font loaded ("loaded", "error", ...) and the
    page height once fonts are ready; (None, None) for a page without that script.
    """
    html_path = Path(html_path).resolve()
    if not html_path.is_file():
        raise FontgenError(f"{html_path}: no such file")
    result = _run_chromium(find_chromium(chromium),
                           [f"--window-size={width},{DEFAULT_HEIGHT}", "--dump-dom", html_path.as_uri()], timeout)
    if result.returncode != 0:
        raise FontgenError(f"Chromium failed to load {html_path.name} (exit {result.returncode}: "
                           f"{_last_line(result.stderr)})")
    match = re.search(r"<html[^>]*>", result.stdout)
    tag = match.group(0) if match else ""
    status = re.search(r'data-font-status="([^"]*)"', tag)
    height = re.search(r'data-height="(\d+)"', tag)
    return (status.group(1) if status else None, int(height.group(1)) if height else None)


def screenshot_html(html_path: str | Path, png_path: str | Path, width: int = 1200, height: int | None = None,
                    *, chromium: str | Path | None = None, timeout: float = 60) -> Path:
    """Render an HTML page to a PNG with headless Chromium; returns the PNG's path.

    height None: the page's full height, measured in a first pass (specimen pages report it; others
    get DEFAULT_HEIGHT). For a specimen page, a font the browser rejects is a FontgenError.
    """
    html_path, png_path = Path(html_path).resolve(), Path(png_path)
    if not html_path.is_file():
        raise FontgenError(f"{html_path}: no such file")
    executable = find_chromium(chromium)
    if height is None:
        status, measured = measure_page(html_path, width, chromium=executable, timeout=timeout)
        if status is not None and status != "loaded":
            raise FontgenError(f"{html_path.name}: Chromium could not load the embedded font (status: {status})")
        height = min(MAX_HEIGHT, measured) if measured else DEFAULT_HEIGHT
    png_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(png_path, suffix=".png") as temp_path:
        result = _run_chromium(executable, [f"--window-size={width},{height}", f"--screenshot={temp_path.resolve()}",
                                            html_path.as_uri()], timeout)
        if result.returncode != 0 or not temp_path.is_file() or temp_path.stat().st_size == 0:
            raise FontgenError(f"Chromium failed to render {html_path.name} (exit {result.returncode}: "
                               f"{_last_line(result.stderr)})")
    return png_path


def write_specimen_png(font_path: str | Path, out_html: str | Path, png_path: str | Path | None = None, *,
                       original_font: str | Path | None = None, sample_size: int = 250, face: int = 0,
                       original_face: int = 0, width: int = 1200,
                       chromium: str | Path | None = None) -> tuple[Path, Path]:
    """write_specimen, then a full-page screenshot of it (default: the HTML's path with .png)."""
    html_path = write_specimen(font_path, out_html, original_font=original_font, sample_size=sample_size,
                               face=face, original_face=original_face)
    png = Path(png_path) if png_path is not None else html_path.with_suffix(".png")
    return html_path, screenshot_html(html_path, png, width=width, chromium=chromium)
