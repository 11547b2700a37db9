"""`fontgen generate STYLE_DIR -o GLYPH_DIR`: draw syllables in a learned style, batched and resumable.

Each glyph is a PNG named by codepoint (U+AC00.png), black ink on white, written atomically, so an
interrupted run leaves only whole glyphs and the next run draws only what is missing. The noise of
each glyph depends only on the seed and its codepoint, so batching and resuming do not change it.
A stamp in the folder names the style and settings the glyphs were drawn with; glyphs of another
style (a re-learned one) or other settings are removed and drawn again, never mixed in.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

import glyph_data
from fontgen.dataset import reference_source
from fontgen.errors import FontgenError
from fontgen.model import DEFAULT_CHECKPOINT, sample, to_model_space, to_uint8
from fontgen.reference import fitted_reference_glyphs
from fontgen.render import EDGE_CONTRAST, FINISH_SIZE, GlyphRenderer, finish_glyphs, ink_to_png_pixels
from fontgen.fonts import file_sha256
from fontgen.style import MANIFEST_FILE, load_style, write_json_atomic

GLYPHS_STAMP = "drawn_with.json"


def pick_device(device: str = "auto") -> str:
    """'auto' -> cuda when present, else cpu."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise FontgenError("--device cuda: no CUDA device here")
    return device


def glyph_path(folder: Path, codepoint: int) -> Path:
    return folder / f"U+{codepoint:04X}.png"


def save_glyph_png(image: np.ndarray, path: Path, size: int) -> None:
    """Ink-positive uint8 -> black-on-white PNG at `size` px, written atomically."""
    picture = Image.fromarray(ink_to_png_pixels(image))
    if picture.size[0] != size:
        picture = picture.resize((size, size), Image.Resampling.BICUBIC)
    partial = path.with_name(path.stem + ".partial.png")
    picture.save(partial)
    os.replace(partial, path)


def glyph_noise(codepoints: list[int], size: int, seed: int) -> torch.Tensor:
    """(n, 1, size, size) starting noise, a function of (seed, codepoint) only."""
    return torch.stack([torch.randn((1, size, size), generator=torch.Generator().manual_seed(seed * 1_000_003 + c))
                        for c in codepoints])


def contact_sheet(folder: Path, codepoints: list[int], path: Path, columns: int = 32, limit: int = 1024) -> None:
    """A grid of drawn glyphs (the first `limit`) for a quick look."""
    chosen = [c for c in codepoints if glyph_path(folder, c).exists()][:limit]
    if not chosen:
        return
    cell = 48
    rows = (len(chosen) + columns - 1) // columns
    sheet = Image.new("L", (columns * cell, rows * cell), 255)
    for i, codepoint in enumerate(chosen):
        glyph = Image.open(glyph_path(folder, codepoint)).convert("L").resize((cell, cell), Image.Resampling.BILINEAR)
        sheet.paste(glyph, ((i % columns) * cell, (i // columns) * cell))
    partial = path.with_name(path.stem + ".partial.png")
    sheet.save(partial)
    os.replace(partial, path)


def resolve_chars(chars: str | list[int], known: list[int]) -> list[int]:
    """'missing' (what the source font lacks), 'ksx1001', 'all', a file, or a list; syllables only."""
    if isinstance(chars, list):
        wanted = chars
    elif chars == "missing":
        have = set(known)
        wanted = [c for c in glyph_data.all_syllables() if c not in have]
    elif chars == "ksx1001":
        wanted = glyph_data.ksx1001_syllables()
    elif chars == "all":
        wanted = glyph_data.all_syllables()
    else:
        path = Path(chars)
        if not path.exists():
            raise FontgenError(f"--chars {chars}: not missing, ksx1001, all, or an existing file")
        wanted = glyph_data.read_charset_file(path)
    not_hangul = [c for c in wanted if not glyph_data.is_syllable(c)]
    if not_hangul:
        raise FontgenError(f"--chars: U+{not_hangul[0]:04X} is not a Hangul syllable (fontgen draws syllables only)")
    return wanted


@dataclass
class GenerateReport:
    drawn: int
    kept: int
    seconds: float
    folder: Path

    @property
    def glyphs_per_second(self) -> float:
        return self.drawn / self.seconds if self.seconds else 0.0


def generate(style_dir: str | Path, output: str | Path, chars: str | list[int] = "missing", *, steps: int = 2,
             guidance: float = 1.0, lora_scale: float = 1.0, seed: int = 0, batch_size: int = 64,
             device: str = "auto", base: str | Path = DEFAULT_CHECKPOINT, scheduler: str = "ddim",
             output_size: int = FINISH_SIZE, ink_level: float | None = None, progress: bool = True) -> GenerateReport:
    """Draw the requested syllables in a style folder's style into `output`; returns counts and time.

    `ink_level` (the gray taken as the ink edge; higher draws thinner) defaults to the one learn measured.
    """
    if ink_level is not None and not 0.05 <= ink_level <= 0.95:
        raise FontgenError(f"--ink-level {ink_level}: choose 0.05 to 0.95 (0.5 is mid-gray)")
    device = pick_device(device)
    style = load_style(style_dir, base, device=device, lora_scale=lora_scale)
    if ink_level is None:
        ink_level = style.ink_level
    wanted = resolve_chars(chars, style.known)
    output = Path(output)
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise FontgenError(f"{output}: cannot create the folder ({error.strerror})") from None
    stamp = {"style_manifest_sha256": file_sha256(Path(style_dir) / MANIFEST_FILE), "steps": steps,
             "guidance": guidance, "lora_scale": lora_scale, "seed": seed, "scheduler": scheduler,
             "output_size": output_size, "ink_level": ink_level, "edge": f"lanczos, contrast {EDGE_CONTRAST}"}
    if _read_stamp(output) != stamp:  # glyphs of another style or settings: the folder holds one drawing
        for stale in output.glob("U+*.png"):
            stale.unlink()
        write_json_atomic(output / GLYPHS_STAMP, stamp)
    todo = [c for c in wanted if not glyph_path(output, c).exists()]
    size = style.model.config.image_size
    source = reference_source()
    renderer = GlyphRenderer(source.path, size, face=source.face)
    started = time.time()
    bar = tqdm(total=len(todo), desc="generate", unit="glyph", disable=not progress)
    with torch.inference_mode():
        for start in range(0, len(todo), batch_size):
            batch = todo[start:start + batch_size]
            content = to_model_space(torch.from_numpy(fitted_reference_glyphs(batch, style.fit, size, renderer))[:, None])
            ids = style.model.tokenizer.encode(style.token, batch)
            drawn = sample(style.model, content.to(device), ids.to(device), steps=steps, guidance=guidance,
                           scheduler=scheduler, noise=glyph_noise(batch, size, seed))
            for codepoint, image in zip(batch, finish_glyphs(to_uint8(drawn[:, 0]).cpu().numpy(), output_size,
                                                                 ink_level)):
                save_glyph_png(image, glyph_path(output, codepoint), output_size)
            bar.update(len(batch))
    bar.close()
    contact_sheet(output, wanted, output / "contact_sheet.png")
    return GenerateReport(len(todo), len(wanted) - len(todo), time.time() - started, output)


def _read_stamp(folder: Path) -> dict | None:
    try:
        return json.loads((folder / GLYPHS_STAMP).read_text())
    except (OSError, ValueError):
        return None
