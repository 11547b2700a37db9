"""Hangul character sets, jamo decomposition and the font corpus manifest.

Everything here is data about Hangul and about the corpus; nothing renders or trains.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent

SYLLABLE_FIRST = 0xAC00
SYLLABLE_LAST = 0xD7A3
SYLLABLE_COUNT = 11172

INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
MEDIALS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
FINALS = ["", *"ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"]

# The compatibility letters of KS X 1001: the 51 modern ones (consonants, then vowels), what an input method shows
# while a syllable is typed, then the 42 archaic ones (U+3164 between them is the blank filler).
MODERN_COMPAT_LETTERS = range(0x3131, 0x3164)
COMPAT_LETTERS = (*MODERN_COMPAT_LETTERS, *range(0x3165, 0x318F))

# Medial vowels by the way they sit beside the initial consonant.
VERTICAL_MEDIALS = set("ㅏㅐㅑㅒㅓㅔㅕㅖㅣ")
HORIZONTAL_MEDIALS = set("ㅗㅛㅜㅠㅡ")
MIXED_MEDIALS = set("ㅘㅙㅚㅝㅞㅟㅢ")

LAYOUT_CLASSES = (
    "vertical", "horizontal", "mixed",
    "vertical+final", "horizontal+final", "mixed+final",
)


def is_syllable(codepoint: int) -> bool:
    """True for the 11,172 precomposed modern Hangul syllables U+AC00..U+D7A3."""
    return SYLLABLE_FIRST <= codepoint <= SYLLABLE_LAST


@dataclass(frozen=True)
class Jamo:
    """A syllable's initial, medial and final indices (final 0 means no final)."""

    initial: int
    medial: int
    final: int

    @property
    def letters(self) -> str:
        return INITIALS[self.initial] + MEDIALS[self.medial] + FINALS[self.final]


def decompose(codepoint: int) -> Jamo:
    """Split a precomposed syllable into its jamo indices (Unicode's arithmetic)."""
    if not is_syllable(codepoint):
        raise ValueError(f"U+{codepoint:04X} is not a precomposed Hangul syllable")
    offset = codepoint - SYLLABLE_FIRST
    return Jamo(offset // 588, (offset % 588) // 28, offset % 28)


def compose(initial: int, medial: int, final: int = 0) -> int:
    """The codepoint of the syllable with these jamo indices."""
    return SYLLABLE_FIRST + initial * 588 + medial * 28 + final


def layout_class(codepoint: int) -> str:
    """One of LAYOUT_CLASSES: how the vowel sits and whether a final consonant follows."""
    jamo = decompose(codepoint)
    medial = MEDIALS[jamo.medial]
    if medial in VERTICAL_MEDIALS:
        kind = "vertical"
    elif medial in HORIZONTAL_MEDIALS:
        kind = "horizontal"
    else:
        kind = "mixed"
    return kind + ("+final" if jamo.final else "")


def all_syllables() -> list[int]:
    """All 11,172 modern syllables, in codepoint order."""
    return list(range(SYLLABLE_FIRST, SYLLABLE_LAST + 1))


@lru_cache(maxsize=None)
def _ksx1001() -> tuple[int, ...]:
    return tuple(read_charset_text((DATA_DIR / "ksx1001.txt").read_text(encoding="utf-8")))


def ksx1001_syllables() -> list[int]:
    """The 2,350 syllables of KS X 1001, in codepoint order."""
    return list(_ksx1001())


_CODEPOINT = re.compile(r"(?:U\+|u\+|0x)([0-9A-Fa-f]{4,6})")


def read_charset_text(text: str) -> list[int]:
    """Codepoints listed in a text: characters, or U+XXXX / 0xXXXX tokens; '#' starts a comment.

    Order of first appearance is kept and duplicates dropped. Whitespace is ignored.
    """
    seen: dict[int, None] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0] if not line.lstrip().startswith("#") else ""
        position = 0
        while position < len(line):
            match = _CODEPOINT.match(line, position)
            if match:
                seen.setdefault(int(match.group(1), 16), None)
                position = match.end()
                continue
            char = line[position]
            if not char.isspace() and char not in ",;":
                seen.setdefault(ord(char), None)
            position += 1
    return list(seen)


def read_charset_file(path: str | Path) -> list[int]:
    """Codepoints from a user's file (see read_charset_text)."""
    return read_charset_text(Path(path).read_text(encoding="utf-8-sig"))


@dataclass(frozen=True)
class CorpusFont:
    """One font of the corpus: a file from a Debian package, a face index, its split and kind."""

    name: str
    package: str
    path: Path
    face: int
    split: str  # train, val, reference, or held (same family as a val font: never trained on)
    kind: str

    @property
    def available(self) -> bool:
        return self.path.exists()


@lru_cache(maxsize=None)
def corpus() -> tuple[CorpusFont, ...]:
    """Every font of the corpus manifest (glyph_data/corpus.toml), installed or not."""
    manifest = tomllib.loads((DATA_DIR / "corpus.toml").read_text(encoding="utf-8"))
    root = Path(manifest["root"])
    return tuple(
        CorpusFont(
            name=entry["name"], package=entry["package"], path=root / entry["path"],
            face=entry.get("face", 0), split=entry["split"], kind=entry["kind"],
        )
        for entry in manifest["font"]
    )


def corpus_split(split: str) -> list[CorpusFont]:
    """The fonts of one split, in manifest order."""
    return [font for font in corpus() if font.split == split]


def corpus_font(name: str) -> CorpusFont:
    """A corpus font by its manifest name."""
    for font in corpus():
        if font.name == name:
            return font
    raise KeyError(name)


def reference_font() -> CorpusFont:
    """The content reference font (Noto Sans CJK KR Regular)."""
    return corpus_split("reference")[0]
