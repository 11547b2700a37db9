"""Damaged fonts on purpose: a seeded generator of mutated font files and a runner that feeds them to fontgen
in process, as a user's downloads, half-finished exports and files damaged in transfer would.

The seeds are small fonts cut from the corpus in every container fontgen reads (TrueType, CFF OpenType, a
collection, WOFF, WOFF2); each case is one seed with one kind of damage. `run_case` calls the CLI on it and
reports what a user would see: a clean run, one error line, or an escaped exception, a hang, or a file left
behind (the failures). The test suite runs a few hundred cases, `benchmarks/hostile_fonts.py` thousands.
"""
from __future__ import annotations

import contextlib
import io
import signal
import struct
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from fontTools.ttLib import TTCollection, TTFont

import glyph_data
from fontgen.fonts import subset_font

SEED_SYLLABLES = 24
MUTATIONS = ("flip bytes", "truncate", "table directory", "garbage run", "16-bit field", "zeroed block")
SEED_FONTS = {  # name -> (corpus font, container)
    "pen.ttf": ("NanumPen", "ttf"),
    "batang.ttf": ("UnBatang", "ttf"),
    "noto.otf": ("NotoSansCJKKR-Regular", "otf"),
    "gothic.woff": ("NanumGothic", "woff"),
    "gothic.woff2": ("NanumGothic", "woff2"),
    "pair.ttc": ("NanumPen", "ttc"),
}


def build_seeds(folder: Path) -> dict[str, bytes]:
    """The seed fonts (a few Hangul syllables, ASCII and the compatibility letters each), by file name."""
    folder.mkdir(parents=True, exist_ok=True)
    chars = glyph_data.ksx1001_syllables()[::97][:SEED_SYLLABLES] + list(range(0x41, 0x5B)) + [0x3131, 0x314F]
    seeds = {}
    for name, (corpus_name, container) in SEED_FONTS.items():
        font = glyph_data.corpus_font(corpus_name)
        cut = subset_font(font.path, font.face, chars, folder / f"cut-{corpus_name}.{'otf' if container == 'otf' else 'ttf'}")
        if container in ("woff", "woff2"):
            packed = TTFont(cut)
            packed.flavor = container
            buffer = io.BytesIO()
            packed.save(buffer)
            seeds[name] = buffer.getvalue()
        elif container == "ttc":
            other = glyph_data.corpus_font("UnBatang")
            second = subset_font(other.path, other.face, chars, folder / "cut-second.ttf")
            collection = TTCollection()
            collection.fonts = [TTFont(cut), TTFont(second)]
            buffer = io.BytesIO()
            collection.save(buffer)
            seeds[name] = buffer.getvalue()
        else:
            seeds[name] = cut.read_bytes()
    return seeds


def _tables(data: bytes) -> list[tuple[int, int]]:
    """(offset, length) of the tables an SFNT's directory names (none for WOFF/WOFF2 or damaged headers)."""
    start = 0
    if data[:4] == b"ttcf":  # the first face's directory
        start = struct.unpack(">I", data[12:16])[0] if len(data) >= 16 else len(data)
    if len(data) < start + 12:
        return []
    count = struct.unpack(">H", data[start + 4:start + 6])[0]
    out = []
    for i in range(min(count, 64)):
        record = data[start + 12 + 16 * i:start + 28 + 16 * i]
        if len(record) < 16:
            break
        _, _, offset, length = struct.unpack(">4sIII", record)
        if offset + length <= len(data) and length:
            out.append((offset, length))
    return out


def mutate(data: bytes, kind: str, rng: np.random.Generator) -> bytes:
    """One kind of damage (see MUTATIONS; "none" for none) done to a font file's bytes."""
    if kind == "none":  # the seed as it is
        return data
    buffer = bytearray(data)
    tables = _tables(data)
    offset, length = tables[rng.integers(len(tables))] if tables else (0, len(data))
    if kind == "flip bytes":
        for position in rng.integers(0, len(buffer), size=int(rng.integers(1, 20))):
            buffer[position] ^= 1 << int(rng.integers(8))
    elif kind == "truncate":
        del buffer[int(rng.integers(4, len(buffer))):]
    elif kind == "table directory":
        end = min(len(buffer), 12 + 16 * 32)
        for position in rng.integers(4, end, size=int(rng.integers(1, 6))):
            buffer[position] = int(rng.integers(256))
    elif kind == "garbage run":
        start = offset + int(rng.integers(length))
        run = rng.integers(0, 256, size=int(rng.integers(4, 512)), dtype=np.uint8).tobytes()
        buffer[start:start + len(run)] = run
    elif kind == "16-bit field":
        for _ in range(int(rng.integers(1, 4))):
            position = offset + 2 * int(rng.integers(max(length // 2, 1)))
            buffer[position:position + 2] = struct.pack(">H", int(rng.choice([0x0000, 0x8000, 0xFFFF])))
    elif kind == "zeroed block":
        start = offset + int(rng.integers(length))
        size = int(rng.integers(8, 1024))
        buffer[start:start + size] = bytes(len(buffer[start:start + size]))
    else:
        raise ValueError(kind)
    return bytes(buffer)


@dataclass
class Case:
    """One mutated font: which seed, which damage, the random seed that made it."""

    seed_name: str
    kind: str
    number: int

    def make(self, seeds: dict[str, bytes]) -> bytes:
        """The mutated font's bytes (the same for the same case, every time)."""
        return mutate(seeds[self.seed_name], self.kind, np.random.default_rng(self.number))


def cases(count: int, start: int = 0) -> list[Case]:
    """`count` cases, every seed under every kind of damage in turn."""
    names = list(SEED_FONTS)
    return [Case(names[i % len(names)], MUTATIONS[(i // len(names)) % len(MUTATIONS)], i)
            for i in range(start, start + count)]


class Hang(Exception):
    """A call that ran past its time."""


@contextlib.contextmanager
def time_limit(seconds: int):
    """Raise Hang in the main thread after `seconds`."""
    def on_alarm(signum, frame):
        raise Hang(f"no answer after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Outcome:
    """What one command did with one mutated font: "ok", "refused" (one line, exit 1) or a failure
    ("escaped": an exception reached the user, "hang", "left behind": an output file of a refused run,
    "bad output": a written font that does not read back whole)."""

    case: Case
    command: str
    result: str
    detail: str = ""


def run_case(case: Case, seeds: dict[str, bytes], glyphs: Path, commands: tuple[str, ...] = ("info", "export"),
             seconds: int = 60) -> list[Outcome]:
    """Feed one mutated font to fontgen's CLI in process: `info`, `render` of a few syllables, `export` of a
    few drawn glyphs, and `learn --method compose` (the first stage of every learn: the jamo inventory). A
    refused command must leave nothing behind in the folder, not even an empty one."""
    from fontgen.cli import main

    outcomes = []
    with tempfile.TemporaryDirectory() as tmp:
        suffix = Path(case.seed_name).suffix
        path = Path(tmp) / f"mutated{suffix}"
        path.write_bytes(case.make(seeds))
        for command in commands:
            out = Path(tmp) / f"out-{command}{'.ttf' if suffix != '.otf' else '.otf'}"
            argv = {"info": ["info", str(path)],
                    "export": ["export", str(path), str(glyphs), "-o", str(out)],
                    "render": ["render", str(path), "--chars", "가각갃긂", "--size", "64", "-o",
                               str(Path(tmp) / "png")],
                    "learn": ["learn", str(path), "--method", "compose", "-o", str(Path(tmp) / "style.fontgen")]}[command]
            before = set(Path(tmp).iterdir())
            stderr = io.StringIO()
            try:
                with time_limit(seconds), contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
                    code = main(argv)
            except Hang as error:
                outcomes.append(Outcome(case, command, "hang", str(error)))
                continue
            except BaseException as error:  # what the user would see as a traceback
                last = traceback.extract_tb(error.__traceback__)[-1]
                outcomes.append(Outcome(case, command, "escaped",
                                        f"{type(error).__name__}: {str(error)[:120]} ({Path(last.filename).name}:{last.lineno})"))
                continue
            said = stderr.getvalue()
            left = sorted(str(p.name) for p in set(Path(tmp).iterdir()) - before)
            if code != 0 and left:
                outcomes.append(Outcome(case, command, "left behind", ", ".join(left)))
            elif code == 0 and command == "export" and (problem := _unreadable(out)):
                outcomes.append(Outcome(case, command, "bad output", problem))
            elif code not in (0, 1) or "Traceback" in said or (code == 1 and said.count("fontgen: error:") != 1):
                outcomes.append(Outcome(case, command, "escaped", f"exit {code}: {said[-300:]}"))
            else:
                error = [line for line in said.replace("\r", "\n").splitlines() if line.startswith("fontgen: error:")]
                outcomes.append(Outcome(case, command, "ok" if code == 0 else "refused", "".join(error)))
    return outcomes


def _unreadable(path: Path) -> str:
    """Why a font fontgen wrote does not read back whole in fontTools and FreeType ('' when it does)."""
    from fontgen.errors import FontgenError
    from fontgen.fonts import check_font, open_font

    try:
        check_font(path, 0, open_font(path, lazy=False))
    except FontgenError as error:
        return str(error)
    return ""


def write_glyph_folder(folder: Path, codepoints: list[int]) -> Path:
    """A generate-style folder of a few drawn glyphs (a filled box each), for export."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    image = np.full((128, 128), 255, dtype=np.uint8)
    image[24:104, 30:98] = 0
    image[50:80, 50:78] = 255
    for codepoint in codepoints:
        Image.fromarray(image).save(folder / f"U+{codepoint:04X}.png")
    return folder
