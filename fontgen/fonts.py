"""Opening the user's font files (TTF, OTF, TTC, WOFF, WOFF2) and reading what they cover."""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from fontTools.ttLib import TTCollection, TTFont

import glyph_data
from fontgen.errors import FontgenError
from fontgen.files import atomic_path

SFNT_MAGICS = (b"\x00\x01\x00\x00", b"OTTO", b"true", b"ttcf", b"wOFF", b"wOF2")


def _read_font_bytes(path: Path) -> bytes:
    if not path.exists():
        raise FontgenError(f"{path}: no such file")
    if path.is_dir():
        raise FontgenError(f"{path}: is a folder, not a font file")
    try:
        data = path.read_bytes()
    except OSError as error:  # permissions, a file that vanished, a device error
        raise FontgenError(f"{path}: cannot be read ({error.strerror or type(error).__name__})") from None
    if data[:4] not in SFNT_MAGICS:
        raise FontgenError(f"{path}: not a font file (expected TTF, OTF, TTC, WOFF or WOFF2)")
    return data


def open_font(path: str | Path, face: int = 0, lazy: bool | None = None) -> TTFont:
    """Open one face of a font file with fontTools; every failure becomes a one-line FontgenError.

    The first time a file is opened its every table and glyph is read (`check_font`), so that damage is
    named here, before any work, and not as a crash halfway through.
    """
    path = Path(path)
    font = _open(path, face, lazy)
    key = _file_key(path, face)
    if key not in _CHECKED and not _in_corpus(path):
        check_font(path, face, _open(path, face, lazy=False))
        _CHECKED.add(key)
    return font


_CHECKED: set[tuple] = set()  # (path, size, mtime, face) of the font files read whole without damage
FREETYPE_CHECK_SIZE = 24  # px: every glyph is rendered once at this size by the check
REQUIRED_TABLES = ("cmap", "head", "hhea", "hmtx", "maxp", "name")  # what fontgen reads of every font


def _in_corpus(path: Path) -> bool:
    """The corpus fonts come from Debian packages and are opened often (the reference has 65,535 glyphs):
    they are not checked."""
    return str(path.resolve()) in _corpus_paths()


@functools.lru_cache(maxsize=1)
def _corpus_paths() -> frozenset[str]:
    return frozenset(str(font.path.resolve()) for font in glyph_data.corpus())


def _file_key(path: Path, face: int) -> tuple:
    stat = path.stat()
    return (str(path.resolve()), stat.st_size, stat.st_mtime_ns, face)


def check_font(path: Path, face: int, font: TTFont) -> None:
    """Read every table and draw every glyph of a face, with fontTools and with FreeType; the first damage
    becomes a FontgenError naming the file and the table or glyph."""
    from fontTools.pens.basePen import NullPen

    import freetype

    for tag in sorted(font.keys()):
        if tag == "GlyphOrder":
            continue
        try:
            font[tag]
        except Exception as error:  # fontTools raises many kinds on damaged data
            raise FontgenError(f"{path}: table '{tag.strip()}' is damaged ({_reason(error)})") from None
    missing = [tag for tag in REQUIRED_TABLES if tag not in font]
    if "glyf" not in font and "CFF " not in font and "CFF2" not in font:
        missing.append("glyf or CFF")
    if missing:
        raise FontgenError(f"{path}: the font has no '{missing[0].strip()}' table (damaged, or not a complete font)")
    try:
        glyph_set, order = font.getGlyphSet(), font.getGlyphOrder()
        metrics, cmap = font["hmtx"].metrics, font.getBestCmap() or {}
    except Exception as error:
        raise FontgenError(f"{path}: damaged font ({_reason(error)})") from None
    known_names = set(order)
    stray = next((c for c, name in sorted(cmap.items()) if name not in known_names), None)
    if stray is not None:
        raise FontgenError(f"{path}: table 'cmap' maps U+{stray:04X} to a glyph the font does not have "
                           f"(it has {len(order):,})")
    for name in order:
        try:
            glyph_set[name].draw(NullPen())
        except Exception as error:
            raise FontgenError(f"{path}: glyph '{name}' is damaged ({_reason(error)})") from None
        if name not in metrics:
            raise FontgenError(f"{path}: table 'hmtx' has no advance for glyph '{name}'")
    try:
        ft_face = freetype.Face(io.BytesIO(sfnt_bytes(path, face)), index=face)
        ft_face.set_pixel_sizes(0, FREETYPE_CHECK_SIZE)
    except freetype.FT_Exception as error:
        raise FontgenError(f"{path}: FreeType cannot read this font ({error})") from None
    flags = freetype.FT_LOAD_NO_HINTING | freetype.FT_LOAD_NO_BITMAP | freetype.FT_LOAD_RENDER
    for index in range(ft_face.num_glyphs):
        try:
            ft_face.load_glyph(index, flags)
        except freetype.FT_Exception as error:
            raise FontgenError(f"{path}: glyph {index} cannot be drawn by FreeType ({error})") from None


def _reason(error: Exception) -> str:
    text = str(error).strip().splitlines()[0][:160] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _open(path: Path, face: int, lazy: bool | None) -> TTFont:
    data = _read_font_bytes(path)
    try:
        if data[:4] == b"ttcf":
            collection = TTCollection(io.BytesIO(data), lazy=lazy)
            if not 0 <= face < len(collection.fonts):
                raise FontgenError(f"{path}: face {face} out of range (the collection has {len(collection.fonts)})")
            font = collection.fonts[face]
        else:
            font = TTFont(io.BytesIO(data), lazy=lazy)
        font.getBestCmap()  # forces the cmap: corrupt fonts fail here, not later
        for tag in ("head", "hhea", "maxp"):
            font[tag]
    except FontgenError:
        raise
    except Exception as error:  # fontTools raises many kinds on damaged data
        raise FontgenError(f"{path}: damaged or unreadable font ({_reason(error)})") from None
    return font


def sfnt_bytes(path: str | Path, face: int = 0) -> bytes:
    """The font as plain SFNT bytes that FreeType reads (WOFF/WOFF2 unpacked, one TTC face kept as is)."""
    path = Path(path)
    data = _read_font_bytes(path)
    if data[:4] in (b"wOFF", b"wOF2"):
        font = _open(path, 0, lazy=False)
        font.flavor = None
        buffer = io.BytesIO()
        try:
            font.save(buffer)
        except Exception as error:  # a table fontTools read but cannot write back (a garbled tag, say)
            raise FontgenError(f"{path}: damaged {'WOFF2' if data[:4] == b'wOF2' else 'WOFF'} font "
                               f"({_reason(error)})") from None
        return buffer.getvalue()
    return data


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file, for manifests that must tell whether a font changed."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass
class FontInfo:
    """What `fontgen info` reports about a font."""

    path: Path
    family: str
    full_name: str
    format: str
    glyph_count: int
    units_per_em: int
    hangul: list[int]  # drawn syllables: mapped to a glyph with an outline
    fs_type: int
    blank_hangul: list[int] = dataclasses.field(default_factory=list)  # mapped, but to an empty glyph

    @property
    def hangul_count(self) -> int:
        return len(self.hangul)

    @property
    def missing(self) -> list[int]:
        have = set(self.hangul)
        return [c for c in glyph_data.all_syllables() if c not in have]

    @property
    def ksx1001_count(self) -> int:
        have = set(self.hangul)
        return sum(1 for c in glyph_data.ksx1001_syllables() if c in have)


def font_format(font: TTFont, path: Path) -> str:
    """TTF, OTF (CFF/CFF2), with WOFF/WOFF2 or TTC noted."""
    outlines = "OTF (CFF)" if ("CFF " in font or "CFF2" in font) else "TTF (glyf)"
    flavor = {"woff": "WOFF", "woff2": "WOFF2"}.get(font.flavor or "")
    if flavor:
        return f"{flavor}, {outlines}"
    if path.read_bytes()[:4] == b"ttcf":
        return f"TTC, {outlines}"
    return outlines


def hangul_syllables_in(font: TTFont) -> list[int]:
    """The precomposed Hangul syllables the font's cmap maps to a glyph (drawn or not), in codepoint order."""
    cmap = font.getBestCmap() or {}
    return sorted(c for c in cmap if glyph_data.is_syllable(c))


def compat_jamo_in(path: str | Path, face: int = 0) -> list[int]:
    """The compatibility letters (U+3131-U+318E, the filler U+3164 aside) the font draws."""
    cmap = open_font(path, face, lazy=True).getBestCmap() or {}
    return drawn_codepoints(path, [c for c in glyph_data.COMPAT_LETTERS if c in cmap], face)


def drawn_codepoints(path: str | Path, codepoints: list[int], face: int = 0) -> list[int]:
    """The codepoints whose glyph has an outline: many fonts map all 11,172 syllables but draw ~2,400."""
    import freetype

    try:
        ft_face = freetype.Face(io.BytesIO(sfnt_bytes(path, face)), index=face)
    except freetype.FT_Exception as error:
        raise FontgenError(f"{path}: FreeType cannot read this font ({error})") from None
    drawn = []
    for codepoint in codepoints:
        glyph_index = ft_face.get_char_index(codepoint)
        if glyph_index == 0:  # unmapped: FreeType would load .notdef, which has an outline
            continue
        try:
            ft_face.load_glyph(glyph_index, freetype.FT_LOAD_NO_SCALE | freetype.FT_LOAD_NO_BITMAP)
        except freetype.FT_Exception as error:
            raise FontgenError(f"{path}: glyph {glyph_index} (U+{codepoint:04X}) cannot be read by FreeType "
                               f"({error})") from None
        if ft_face.glyph.outline.n_points > 0:
            drawn.append(codepoint)
    return drawn


def font_info(path: str | Path, face: int = 0) -> FontInfo:
    """Family, format, glyph count and Hangul coverage of a font file."""
    path = Path(path)
    font = open_font(path, face)
    name = font["name"]
    family = name.getBestFamilyName() or path.stem
    full = name.getBestFullName() or family
    fs_type = font["OS/2"].fsType if "OS/2" in font else 0
    mapped = hangul_syllables_in(font)
    drawn = drawn_codepoints(path, mapped, face)
    blank = sorted(set(mapped) - set(drawn))
    return FontInfo(
        path=path, family=family, full_name=full, format=font_format(font, path),
        glyph_count=len(font.getGlyphOrder()), units_per_em=font["head"].unitsPerEm,
        hangul=drawn, fs_type=fs_type, blank_hangul=blank,
    )


def require_hangul(info: FontInfo, minimum: int = 1) -> None:
    """Refuse a font with fewer Hangul syllables than a stage needs."""
    if info.hangul_count < minimum:
        if info.hangul_count == 0:
            raise FontgenError(f"{info.path}: the font has no Hangul syllables, so there is no style to learn")
        raise FontgenError(
            f"{info.path}: the font has {info.hangul_count} Hangul syllables; at least {minimum} are needed"
        )


def subset_font(font: Path, face: int, keep: list[int], out: Path) -> Path:
    """A copy of the font with only these characters (and ASCII), layout and names kept: a stand-in for a
    user's partial font, or the known syllables a style folder keeps to compose from."""
    from fontTools import subset

    ttfont = open_font(font, face)
    options = subset.Options()
    options.name_IDs, options.notdef_outline, options.layout_features = ["*"], True, ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=list(keep) + list(range(0x20, 0x7F)))
    try:
        subsetter.subset(ttfont)
        with atomic_path(out) as partial:
            ttfont.save(partial)
    except Exception as error:  # values fontTools reads but cannot write back (a damaged hhea, charstring)
        raise FontgenError(f"{font}: damaged font, it cannot be rewritten ({_reason(error)})") from None
    return out


@dataclass(frozen=True)
class FontSource:
    """A font file and face to render, with the name it is known by (its style token)."""

    name: str
    path: Path
    face: int = 0


def reference_source() -> FontSource:
    """The content reference font (Noto Sans CJK KR) as a FontSource."""
    font = glyph_data.reference_font()
    if not font.available:
        raise FileNotFoundError(f"the reference font {font.path} is not installed (apt-get install {font.package})")
    return FontSource(font.name, font.path, font.face)


CHARSET_NAMES = ("missing", "ksx1001", "all")


def _is_file(value: str) -> bool:
    """Whether a --chars value names a file; a long run of characters is too long to be a file name at all."""
    try:
        return Path(value).is_file()
    except OSError:  # ENAMETOOLONG: os.stat refuses the name outright
        return False


def resolve_chars(chars: str | list[int], known: list[int] | None = None, syllables_only: bool = True) -> list[int]:
    """What a `--chars` value (or a recipe's charset) names, as codepoints: `missing` (the syllables of all
    11,172 that `known` lacks), `ksx1001` (the 2,350 common syllables), `all` (the 11,172), a file of characters
    or U+XXXX codes, the characters themselves, or a list. With `syllables_only`, anything but a Hangul
    syllable is refused (fontgen draws syllables)."""
    if isinstance(chars, list):
        wanted = chars
    elif chars == "missing":
        if known is None:
            raise FontgenError("--chars missing: only a command that reads a font knows what it lacks")
        have = set(known)
        wanted = [c for c in glyph_data.all_syllables() if c not in have]
    elif chars == "ksx1001":
        wanted = glyph_data.ksx1001_syllables()
    elif chars == "all":
        wanted = glyph_data.all_syllables()
    elif _is_file(chars):
        try:
            wanted = glyph_data.read_charset_file(chars)
        except (OSError, UnicodeDecodeError) as error:
            raise FontgenError(f"--chars {chars}: cannot read the file ({error})") from None
    elif "/" in chars or chars.endswith(".txt"):
        raise FontgenError(f"--chars {chars}: no such file")
    else:
        wanted = glyph_data.read_charset_text(chars)
    if not wanted:
        raise FontgenError(f"--chars {chars!r}: no characters (choose {', '.join(CHARSET_NAMES)}, a file, or "
                           "characters)")
    not_hangul = [c for c in wanted if not glyph_data.is_syllable(c)]
    if syllables_only and not_hangul:
        raise FontgenError(f"--chars: U+{not_hangul[0]:04X} is not a Hangul syllable (fontgen draws syllables only)")
    return wanted
