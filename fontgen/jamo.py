"""Which ink of a syllable is its initial, its medial and its final (jamo segmentation).

Two ways, exact first:
- A font that stores a syllable as a composite of one glyph per jamo (initial, medial, final, in that
  order, as the Nanum, Un* and Guseul fonts do) says so itself: each component is rendered alone in the
  syllable's frame and every pixel takes the label of the component that inks it most.
- A drawn syllable is registered against the same syllable in composite fonts of the corpus: their jamo
  are moved and scaled onto the syllable's ink (first the whole syllable's ink box, then each jamo's own),
  every ink pixel takes the label of the nearest registered jamo (votes of several reference fonts), and a
  stroke that one jamo owns almost whole goes to it whole; the stem of ㅗ or ㅜ that a face joins to the initial
  or the final goes to the medial up to where the stroke widens. Where the font joins two jamo into one stroke,
  the font's own drawings of each (in its syllables where that jamo stands apart) then recut the stroke.

Labels are uint8 images: 0 paper, 1 initial, 2 medial, 3 final.
"""
from __future__ import annotations

import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import permutations
from pathlib import Path

import numpy as np
from fontTools.ttLib import TTFont
from scipy import ndimage

import glyph_data
from fontgen.errors import FontgenError
from fontgen.files import atomic_path
from fontgen.fonts import open_font
from fontgen.paths import default_cache_dir
from fontgen.render import EmFrame, GlyphRenderer

ROLES = ("initial", "medial", "final")
PAPER, INITIAL, MEDIAL, FINAL = 0, 1, 2, 3
INK = 64  # uint8 gray from which a pixel counts as ink when labelling

# Composite corpus fonts (train split) that store every one of the 11,172 syllables as one component per
# jamo: the references drawn syllables are registered against. Chosen to span print and hand styles.
SHIPPED_VARIANTS = "jamo_variants.npz"
REFERENCE_FONTS = ("UnDotum", "UnGraphic", "UnPilgi", "UnPen", "UnShinmun", "Guseul", "UnTaza", "UnGungseo",
                   "UnDotumBold", "UnGraphicBold", "UnPilgiBold", "UnPenheulim", "UnVada", "UnYetgul")


def roles_of(codepoint: int) -> tuple[int, ...]:
    """The labels a syllable has: initial and medial, and final when it has one."""
    return (INITIAL, MEDIAL, FINAL) if glyph_data.decompose(codepoint).final else (INITIAL, MEDIAL)


def composite_jamo(font: TTFont, codepoints: list[int]) -> dict[int, list[tuple[object, int]]]:
    """The syllables stored as composites of one component glyph per jamo: codepoint -> (component, label)
    pairs (fontTools GlyphComponent; INITIAL, MEDIAL or FINAL).

    Fonts order their components differently (initial, final, medial in the Un* fonts), so the jamo a
    component draws is read from the font: the one role in which every syllable using that component has
    the same jamo. A syllable whose components cannot be matched one to one with its jamo that way gives
    nothing: its labels would be wrong.
    """
    if "glyf" not in font:
        return {}
    cmap, glyf = font.getBestCmap() or {}, font["glyf"]
    stored: dict[int, list] = {}
    seen: dict[str, dict[int, set]] = {}  # component -> role -> jamo values met in that role
    for codepoint in codepoints:
        name = cmap.get(codepoint)
        if not glyph_data.is_syllable(codepoint) or name is None or name not in glyf:
            continue
        glyph = glyf[name]
        roles = roles_of(codepoint)
        if not glyph.isComposite() or len(glyph.components) != len(roles):
            continue
        stored[codepoint] = glyph.components
        jamo = glyph_data.decompose(codepoint)
        for component in glyph.components:
            per_role = seen.setdefault(component.glyphName, {r: set() for r in (INITIAL, MEDIAL, FINAL)})
            for role in (INITIAL, MEDIAL, FINAL):
                per_role[role].add(jamo_value(role, jamo) if role in roles else None)
    can_be = {name: {r for r, values in per_role.items() if len(values) == 1 and None not in values}
              for name, per_role in seen.items()}
    matches = {codepoint: [p for p in permutations(roles_of(codepoint))
                           if all(r in can_be[c.glyphName] for c, r in zip(components, p))]
               for codepoint, components in stored.items()}
    # A component met in few syllables could be any of their jamo: the order of the syllables that leave
    # no doubt decides (the Un* fonts store initial, final, medial), else initial, medial, final.
    orders: dict[tuple, int] = {}
    for found_orders in matches.values():
        if len(found_orders) == 1:
            orders[found_orders[0]] = orders.get(found_orders[0], 0) + 1
    # The final sits below the rest in every Hangul design: that settles a doubt no order can (NanumSquareRound
    # stores most syllables initial, medial, final, but 싫 and 닳 initial, final, medial).
    def final_lowest(components, order) -> bool:
        if FINAL not in order:
            return True
        centres = [_component_centre_y(glyf, c) for c in components]
        return centres[order.index(FINAL)] == min(centres)

    found = {}
    for codepoint, components in stored.items():
        if matches[codepoint]:
            best = max(matches[codepoint], key=lambda p: (len(matches[codepoint]) == 1 or final_lowest(components, p),
                                                          orders.get(p, 0), p == roles_of(codepoint)))
            found[codepoint] = list(zip(components, best))
    return found


def _component_centre_y(glyf, component) -> float:
    """The vertical centre of a component's outline in the syllable, in font units (y up)."""
    glyph = glyf[component.glyphName]
    if not hasattr(glyph, "yMin"):  # an empty glyph
        return 0.0
    return (glyph.yMin + glyph.yMax) / 2 + component.y


def jamo_value(role: int, jamo: glyph_data.Jamo) -> int:
    """The index of a syllable's jamo in a role (INITIAL, MEDIAL, FINAL)."""
    return (jamo.initial, jamo.medial, jamo.final)[role - 1]


def _component_matrix(component) -> tuple[float, float, float, float]:
    transform = getattr(component, "transform", None)  # fontTools sets it only on a scaled component
    if transform is not None:
        (a, b), (c, d) = transform
        return float(a), float(b), float(c), float(d)
    return 1.0, 0.0, 0.0, 1.0


@dataclass(frozen=True)
class Component:
    """What rendering reads of a composite glyph's component: its glyph, offset and 2x2 transform (a fontTools
    GlyphComponent has the same attributes)."""
    glyphName: str
    x: int
    y: int
    transform: tuple | None = None


class ComponentRenderer(GlyphRenderer):
    """Renders a composite syllable's components one by one, each where it sits in the syllable."""

    def __init__(self, path: str | Path, size_px: int, face: int = 0, frame: EmFrame | None = None):
        super().__init__(path, size_px, face=face, frame=frame)
        font = open_font(self.path, face, lazy=True)
        self.glyph_ids = {name: i for i, name in enumerate(font.getGlyphOrder())}

    def render_component(self, component) -> np.ndarray:
        """One component (its glyph, moved by its offset and transform) as a uint8 image."""
        import freetype

        a, b, c, d = _component_matrix(component)
        scale = self.frame.scale(self.size_px)
        origin_x, origin_y = self.frame.to_pixels(0.0, 0.0, self.size_px)
        # The component's offset is in font units; FreeType wants the whole shift in 26.6 pixels.
        shift_x = origin_x - self._ix + component.x * scale
        shift_y = origin_y - self._iy - component.y * scale
        matrix = freetype.FT_Matrix(int(a * 0x10000), int(c * 0x10000), int(b * 0x10000), int(d * 0x10000))
        self.face.set_transform(matrix, freetype.FT_Vector(int(round(shift_x * 64)), -int(round(shift_y * 64))))
        try:
            return self._render_index(self.glyph_ids[component.glyphName])
        finally:
            delta = freetype.FT_Vector(int(round((origin_x - self._ix) * 64)), -int(round((origin_y - self._iy) * 64)))
            self.face.set_transform(freetype.FT_Matrix(0x10000, 0, 0, 0x10000), delta)


def labels_from_layers(image: np.ndarray, layers: list[np.ndarray], roles: tuple[int, ...]) -> np.ndarray:
    """Per-pixel labels of a syllable image from one image per jamo (each pixel: the jamo inking it most)."""
    stack = np.stack(layers).astype(np.int16)
    labels = np.asarray(roles, dtype=np.uint8)[np.argmax(stack, axis=0)]
    labels[(image < INK) & (stack.max(axis=0) < INK)] = PAPER
    return label_soft_edges(image, labels)


def label_soft_edges(image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Inked pixels left unlabelled (anti-aliased edges, or ink of a finer image than the labels were made
    on) take the label of the nearest labelled pixel."""
    soft = (image > 0) & (labels == PAPER)
    if soft.any() and (labels != PAPER).any():
        _, (iy, ix) = ndimage.distance_transform_edt(labels == PAPER, return_indices=True)
        labels = labels.copy()
        labels[soft] = labels[iy[soft], ix[soft]]
    return labels


def composite_labels(renderer: ComponentRenderer, codepoint: int, parts: list) -> tuple[np.ndarray, np.ndarray]:
    """A composite syllable's image and its exact labels, from its (component, label) parts."""
    image = renderer.render(codepoint)
    layers = [renderer.render_component(c) for c, _ in parts]
    return image, labels_from_layers(image, layers, tuple(role for _, role in parts))


def ink_box(image: np.ndarray, threshold: int = INK) -> np.ndarray | None:
    """(top, left, bottom, right) of the pixels at or above threshold, bottom/right exclusive; None if blank."""
    rows, cols = np.nonzero(image >= threshold)
    if rows.size == 0:
        return None
    return np.array([rows.min(), cols.min(), rows.max() + 1, cols.max() + 1], dtype=np.float64)


def warp_box(image: np.ndarray, source: np.ndarray, target: np.ndarray, min_side: float = 1.0,
             margin: float | None = None) -> np.ndarray:
    """Move and scale a uint8 image so that its `source` box lands on `target` (axis-aligned, bilinear).

    A side thinner than `min_side` pixels in either box (a lone vertical or horizontal stroke) is not
    scaled along that axis, only centred: its thickness says nothing about the box. With `margin`, only
    the target box and that many pixels around it are drawn (the rest stays blank): for ink that lies
    within its source box, the same image at a fraction of the work.
    """
    image = image.astype(np.float32)
    if margin is None:
        out = _warp(image, source, target, min_side)
    else:
        scale, offset = warp_transform(source, target, min_side)
        top, left, bottom, right = box_window(target, margin, image.shape)
        out = np.zeros_like(image)
        if bottom > top and right > left:
            out[top:bottom, left:right] = resample_linear(image, scale, offset + scale * np.array([top, left]),
                                                          (bottom - top, right - left))
    return np.clip(out, 0, 255).astype(np.uint8)


def box_window(box: np.ndarray, margin: float, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the whole pixels of a box grown by `margin`, within an image of `shape`."""
    return (max(int(np.floor(box[0] - margin)), 0), max(int(np.floor(box[1] - margin)), 0),
            min(int(np.ceil(box[2] + margin)), shape[0]), min(int(np.ceil(box[3] + margin)), shape[1]))


def warp_transform(source: np.ndarray, target: np.ndarray, min_side: float) -> tuple[np.ndarray, np.ndarray]:
    """The scale and offset that take output pixels in `target` back to input pixels in `source`."""
    scale = np.ones(2)
    for axis in (0, 1):
        src_len = source[axis + 2] - source[axis]
        dst_len = target[axis + 2] - target[axis]
        if src_len >= min_side and dst_len >= min_side:
            scale[axis] = src_len / dst_len
    src_centre = (source[:2] + source[2:]) / 2
    dst_centre = (target[:2] + target[2:]) / 2
    return scale, src_centre - dst_centre * scale


def _warp(image: np.ndarray, source: np.ndarray, target: np.ndarray, min_side: float) -> np.ndarray:
    scale, offset = warp_transform(source, target, min_side)
    return resample_linear(image, scale, offset, image.shape)


def resample_linear(image: np.ndarray, scale: np.ndarray, offset: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """`scipy.ndimage.affine_transform(image, scale, offset, shape, order=1, mode="constant")` for a scale and
    offset along each axis (no rotation), the same values (float32): output pixel (y, x) reads the input at
    (y * scale[0] + offset[0], x * scale[1] + offset[1]), bilinear, 0 outside. Done as two gathers along the rows
    and the columns, it takes less than half the time at 128 px; registration warps each reference's jamo this
    way dozens of times a syllable."""
    image = np.asarray(image, dtype=np.float32)
    padded = np.pad(image, 1)  # a border of 0 for the neighbour of the first and last pixel

    def taps(count: int, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        where = np.arange(count) * scale[axis] + offset[axis]
        below = np.floor(where)
        share = (where - below).astype(np.float32)
        inside = ((where >= 0) & (where <= image.shape[axis] - 1)).astype(np.float32)
        first = np.clip(below.astype(np.int64) + 1, 0, image.shape[axis] + 1)
        return first, np.minimum(first + 1, image.shape[axis] + 1), (1 - share) * inside, share * inside

    rows0, rows1, row_low, row_high = taps(shape[0], 0)
    cols0, cols1, col_low, col_high = taps(shape[1], 1)
    rows = padded[rows0] * row_low[:, None] + padded[rows1] * row_high[:, None]
    return rows[:, cols0] * col_low + rows[:, cols1] * col_high


@lru_cache(maxsize=None)
def _reference_pair(name: str, size: int) -> tuple[ComponentRenderer, dict[int, list]]:
    font = glyph_data.corpus_font(name)
    return ComponentRenderer(font.path, size, face=font.face), reference_composites(name)


REFERENCE_PARTS_VERSION = 1


@lru_cache(maxsize=None)
def reference_composites(name: str) -> Mapping[int, list[tuple[Component, int]]]:
    """`composite_jamo` of a reference font over all 11,172 syllables, kept in the cache folder: reading the
    fourteen fonts' composites takes about 12 s, and every process that labels a drawn font needs them."""
    font = glyph_data.corpus_font(name)
    stat = Path(font.path).stat()
    path = (default_cache_dir() / "reference-jamo" /
            f"{name}-{font.face}-{stat.st_size}-{stat.st_mtime_ns}-v{REFERENCE_PARTS_VERSION}.npz")
    try:
        with np.load(path, allow_pickle=False) as data:
            return _StoredComposites({key: data[key] for key in data.files})
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        pass  # not cached yet, or a damaged cache file: read the font again
    found = composite_jamo(open_font(font.path, font.face), glyph_data.all_syllables())
    arrays = _composites_to_arrays(found)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as partial, open(partial, "wb") as stream:
        np.savez(stream, **arrays)
    return _StoredComposites(arrays)


def _composites_to_arrays(found: dict[int, list[tuple[object, int]]]) -> dict[str, np.ndarray]:
    codes = sorted(found)
    names = sorted({component.glyphName for parts in found.values() for component, _ in parts})
    index = {name: i for i, name in enumerate(names)}
    glyphs = np.full((len(codes), 3), -1, dtype=np.int32)
    offsets = np.zeros((len(codes), 3, 2), dtype=np.int32)
    matrices = np.tile(np.array([1, 0, 0, 1], dtype=np.float32), (len(codes), 3, 1))
    roles = np.zeros((len(codes), 3), dtype=np.uint8)
    for row, codepoint in enumerate(codes):
        for slot, (component, role) in enumerate(found[codepoint]):
            glyphs[row, slot], roles[row, slot] = index[component.glyphName], role
            offsets[row, slot] = component.x, component.y
            matrices[row, slot] = _component_matrix(component)
    return {"codes": np.array(codes, dtype=np.int32), "names": np.array(names, dtype=str), "glyphs": glyphs,
            "offsets": offsets, "matrices": matrices, "roles": roles}


class _StoredComposites(Mapping):
    """`composite_jamo` read back from its arrays: a syllable's components are made when it is first asked for
    (registration asks for a few thousand of a reference's 11,172; making all of them took 0.25 s a font)."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self._names = [str(name) for name in arrays["names"]]
        self._arrays = {key: arrays[key] for key in ("glyphs", "offsets", "matrices", "roles")}
        self._rows = {codepoint: row for row, codepoint in enumerate(arrays["codes"].tolist())}
        self._made: dict[int, list[tuple[Component, int]]] = {}

    def __getitem__(self, codepoint: int) -> list[tuple[Component, int]]:
        if codepoint not in self._made:
            row = self._rows[codepoint]
            glyphs, offsets, matrices, roles = (self._arrays[key][row].tolist()
                                                for key in ("glyphs", "offsets", "matrices", "roles"))
            self._made[codepoint] = [
                (Component(self._names[g], x, y, None if tuple(m) == (1.0, 0.0, 0.0, 1.0) else
                           ((m[0], m[1]), (m[2], m[3]))), role)
                for g, (x, y), m, role in zip(glyphs, offsets, matrices, roles) if g >= 0]
        return self._made[codepoint]

    def __contains__(self, codepoint: object) -> bool:
        return codepoint in self._rows

    def __iter__(self):
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


SHIPPED_REFERENCE_BOXES = "jamo_reference_boxes.npz"
REFERENCE_BOX_SIZE = 128  # px: the reference fonts' jamo boxes are measured at this size
NO_BOX = 255  # a jamo the syllable does not have (no final), in a table of uint8 boxes


def build_reference_boxes(name: str) -> np.ndarray:
    """The ink box (top, left, bottom, right; uint8, NO_BOX where absent) of the initial, medial and final of
    every syllable in a composite reference font, at REFERENCE_BOX_SIZE px in its own em frame:
    shape (11172, 3, 4), syllables in codepoint order."""
    renderer, composites = _reference_pair(name, REFERENCE_BOX_SIZE)
    table = np.full((glyph_data.SYLLABLE_COUNT, 3, 4), NO_BOX, dtype=np.uint8)
    for codepoint, parts in composites.items():
        for component, role in parts:
            box = ink_box(renderer.render_component(component))
            if box is not None:
                table[codepoint - glyph_data.SYLLABLE_FIRST, role - 1] = box
    return table


@lru_cache(maxsize=None)
def reference_boxes(name: str) -> np.ndarray:
    """`build_reference_boxes` of a reference font, as fontgen ships it (glyph_data/jamo_reference_boxes.npz,
    made by scripts/build_reference_boxes.py), or built from the installed font when the file lacks it."""
    path = glyph_data.DATA_DIR / SHIPPED_REFERENCE_BOXES
    table = None
    if path.exists():
        with np.load(path, allow_pickle=False) as data:
            if name in data.files:
                table = data[name]
    table = build_reference_boxes(name) if table is None else table
    table.setflags(write=False)  # shared by every caller
    return table


def available_references(names=REFERENCE_FONTS) -> list[str]:
    """The reference fonts installed here (fonts-unfonts-core/extra, fonts-alee)."""
    out = []
    for name in names:
        try:
            if glyph_data.corpus_font(name).available:
                out.append(name)
        except KeyError:
            continue
    return out


def rank_references(names: list[str], samples: list[tuple[int, np.ndarray]], size: int) -> list[str]:
    """Reference fonts ordered by how well their syllables, moved and scaled onto a font's (codepoint,
    image at `size` px) samples, cover the samples' ink: the ones drawn most like the font first."""
    fit = np.zeros(len(names))
    for codepoint, image in samples:
        box = ink_box(image)
        if box is None:
            continue
        for i, name in enumerate(names):
            renderer, composites = _reference_pair(name, size)
            whole = renderer.render(codepoint) if codepoint in composites else None
            reference_box = None if whole is None else ink_box(whole)
            if reference_box is not None:
                fit[i] += _overlap(warp_box(whole, reference_box, box, min_side=4), image)
    return [names[i] for i in np.argsort(-fit)]


# A reference font reuses each jamo component in dozens of syllables: the vote fields of the last FIELDS_KEPT
# (component, place) are kept, 64 KB each at 128 px (128 MB). Over the 2,350 KS X 1001 syllables and nine
# references, 82% of the fields asked for are kept ones (4,096: 86%; all 7,985: 87%).
FIELDS_KEPT = 2048


class JamoSegmenter:
    """Labels the jamo of drawn syllables by registering composite reference fonts onto them."""

    def __init__(self, size: int, references: list[str] | None = None, spread: float = 0.03,
                 whole_stroke: float = 0.7, sharpness: float = 4.0, steal_at_most: float = 0.5):
        self.size = size
        self.references = available_references() if references is None else list(references)
        if not self.references:
            raise FontgenError("jamo segmentation needs the composite reference fonts (Debian's fonts-unfonts-core, "
                               "fonts-unfonts-extra, fonts-alee); run scripts/setup.sh")
        self.spread = spread * size  # how fast a reference jamo's vote fades with distance, in pixels
        self.whole_stroke = whole_stroke
        self.sharpness = sharpness
        self.steal_at_most = steal_at_most  # the share of another jamo a whole stroke may take from it
        self._fields: OrderedDict[tuple, tuple[np.ndarray, np.ndarray | None]] = OrderedDict()

    def keep_closest_references(self, samples: list[tuple[int, np.ndarray]], keep: int) -> list[str]:
        """Keep the `keep` references that register best onto these syllables of the font (fewer
        references, faster labels; the ones drawn least like the font vote little anyway)."""
        if len(self.references) <= keep or not samples:
            return self.references
        self.references = rank_references(self.references, samples, self.size)[:keep]
        return self.references

    def reference_fields(self, codepoint: int) -> list[tuple[np.ndarray, np.ndarray, list, list]]:
        """Per reference font: its rendering of the syllable, that rendering's ink box, and per jamo (in the
        order of `roles_of`) a vote field fading with the distance from the jamo's ink, and its ink box."""
        out = []
        for name in self.references:
            renderer, composites = _reference_pair(name, self.size)
            parts = composites.get(codepoint)
            if parts is None:
                continue
            whole = renderer.render(codepoint)
            whole_box = ink_box(whole)
            if whole_box is None:
                continue
            by_role = dict((role, c) for c, role in parts)
            jamo = [self._component_field(name, renderer, by_role[role]) for role in roles_of(codepoint)]
            out.append((whole, whole_box, [field for field, _ in jamo], [box for _, box in jamo]))
        return out

    def _component_field(self, name: str, renderer: ComponentRenderer,
                         component) -> tuple[np.ndarray, np.ndarray | None]:
        """A reference component's vote field and ink box, kept for the next syllables that use the same
        component at the same place (FIELDS_KEPT, the least recently used go first)."""
        key = (name, component.glyphName, component.x, component.y, component.transform)
        found = self._fields.get(key)
        if found is not None:
            self._fields.move_to_end(key)
            return found
        layer = renderer.render_component(component)
        field = (np.exp(-ndimage.distance_transform_edt(layer < INK) / self.spread).astype(np.float32)
                 if (layer >= INK).any() else np.zeros(layer.shape, np.float32))
        found = self._fields[key] = (field, ink_box(layer))
        if len(self._fields) > FIELDS_KEPT:
            self._fields.popitem(last=False)
        return found

    def segment(self, codepoint: int, image: np.ndarray) -> np.ndarray:
        """Labels (0 paper, 1 initial, 2 medial, 3 final) of a drawn syllable image in its font's em frame."""
        roles = roles_of(codepoint)
        box = ink_box(image)
        references = self.reference_fields(codepoint) if box is not None else []
        if not references:
            return np.zeros(image.shape, dtype=np.uint8)
        # First pass: each reference syllable's ink box onto this one's; a reference drawn like this font
        # registers better, and its vote counts more.
        weights = [_overlap(warp_box(whole, whole_box, box, min_side=4), image) ** self.sharpness
                   for whole, whole_box, _, _ in references]
        votes = np.zeros((len(roles),) + image.shape, dtype=np.float32)
        for weight, (_, whole_box, fields, _) in zip(weights, references):
            for i, field in enumerate(fields):
                votes[i] += weight * _warp(field, whole_box, box, min_side=4)
        labels = self._assign(image, votes, roles)
        # Second pass: each reference jamo onto the ink the first pass gave that jamo.
        boxes = [ink_box(np.where(labels == role, image, 0)) for role in roles]
        if all(b is not None for b in boxes):
            votes[:] = 0
            for weight, (_, whole_box, fields, field_boxes) in zip(weights, references):
                for i, (field, field_box) in enumerate(zip(fields, field_boxes)):
                    source, target = (whole_box, box) if field_box is None else (field_box, boxes[i])
                    votes[i] += weight * _warp(field, source, target, min_side=4)
            second = self._assign(image, votes, roles)
            # Where the first pass went wrong, its boxes pull the references further off (a jamo swallows
            # its neighbours): the second pass is kept only when no jamo loses most of its ink to it.
            before = np.bincount(labels[image >= INK], minlength=4)[1:]
            after = np.bincount(second[image >= INK], minlength=4)[1:]
            if (after >= 0.5 * before).all():
                labels = second
        return stems_to_medial(labels, codepoint)

    def _assign(self, image: np.ndarray, votes: np.ndarray, roles: tuple[int, ...]) -> np.ndarray:
        ink = image >= INK
        choice = np.asarray(roles, dtype=np.uint8)[np.argmax(votes, axis=0)]
        labels = np.where(ink, choice, PAPER).astype(np.uint8)
        strokes, count = ndimage.label(ink)
        totals = np.bincount(labels[ink], minlength=4)[1:]
        # A stroke one jamo owns almost whole goes to it whole (a few pixels of it sat nearer another), unless
        # that would take most of another jamo with it: in a bold display face every jamo touches every other.
        for stroke in range(1, count + 1):
            pixels = strokes == stroke
            shares = np.bincount(labels[pixels], minlength=4)[1:]
            owner = int(np.argmax(shares))
            others = np.delete(shares, owner) / np.maximum(np.delete(totals, owner), 1)
            if shares[owner] >= self.whole_stroke * shares.sum() and (others <= self.steal_at_most).all():
                labels[pixels] = 1 + owner
        return label_soft_edges(image, labels)


# The medials whose bar carries a short stem up to the initial, and down to the final. Where a face joins the
# initial (the final) to that stem in one stroke, registration cuts the stem somewhere along it (the references'
# stems are shorter or longer), and a jamo cut with a piece of the stem brings it into every syllable it gives
# itself to: a ㄷ cut from 되 over the ㅡ of 듸 reads as 되. The stem is the narrow upright ink from the bar
# until the stroke widens into the other jamo (STEM_WIDEN times the stem's width at its foot).
UPPER_STEM_MEDIALS = frozenset(glyph_data.MEDIALS.index(m) for m in "ㅗㅘㅙㅚㅛ")
LOWER_STEM_MEDIALS = frozenset(glyph_data.MEDIALS.index(m) for m in "ㅜㅝㅞㅟㅠ")
STEM_WIDEN = 1.5


def mask_runs(row: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of each run of True in a 1-d mask, end exclusive."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], row.astype(np.int8), [0]])))
    return list(zip(edges[::2], edges[1::2]))


def _run_lengths(mask: np.ndarray) -> np.ndarray:
    """Each True pixel's horizontal run length in the mask (0 off it)."""
    out = np.zeros(mask.shape, dtype=np.int32)
    for row in np.flatnonzero(mask.any(axis=1)):
        for a, b in mask_runs(mask[row]):
            out[row, a:b] = b - a
    return out


def _level(mask: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """The mask with column c moved up by shift[c] rows (off the image: False)."""
    rows = np.arange(mask.shape[0])[:, None] + shift[None, :]
    inside = (rows >= 0) & (rows < mask.shape[0])
    return np.where(inside, mask[np.clip(rows, 0, mask.shape[0] - 1), np.arange(mask.shape[1])[None, :]], False)


def stems_to_medial(labels: np.ndarray, codepoint: int) -> np.ndarray:
    """Labels where the stem of a ㅗ-like medial that joins the initial in one stroke is the medial's from its
    bar up to where the stroke widens into the initial; and the stem of a ㅜ-like medial joined to the final, from
    its bar down to the final (`UPPER_STEM_MEDIALS`, `LOWER_STEM_MEDIALS`)."""
    medial = glyph_data.decompose(codepoint).medial
    if medial in UPPER_STEM_MEDIALS:
        return _stems_up_to(labels, INITIAL)
    if medial in LOWER_STEM_MEDIALS and FINAL in roles_of(codepoint):
        # upside down, the stem rises from the bar to the final
        return np.ascontiguousarray(_stems_up_to(labels[::-1], FINAL)[::-1])
    return labels


def _stems_up_to(labels: np.ndarray, joined: int) -> np.ndarray:
    """Labels where the medial's stems rising from its bar into the `joined` jamo's stroke are the medial's."""
    strokes, _ = ndimage.label(labels > PAPER)
    shared = np.intersect1d(strokes[labels == joined], strokes[labels == MEDIAL])
    labels = labels.copy()
    for stroke in shared[shared > 0]:
        pixels = (strokes == stroke) & ((labels == joined) | (labels == MEDIAL))
        columns = np.flatnonzero(pixels.any(axis=0))
        # The bar: the lowest ink running across half the stroke's width.
        long_runs, count = ndimage.label(_run_lengths(pixels) >= 0.5 * (columns[-1] - columns[0] + 1))
        if count == 0:
            continue
        lowest = ndimage.maximum(np.indices(pixels.shape)[0], long_runs, index=np.arange(1, count + 1))
        bar = long_runs == 1 + int(np.argmax(lowest))
        # Levelled first where it slants (faces tilt it up to the right), so its top is one row.
        spanned = np.flatnonzero(bar.any(axis=0))
        tops = bar[:, spanned].argmax(axis=0)
        slope = np.polyfit(spanned, tops, 1)[0] if spanned.size > 1 else 0.0
        shift = np.round(slope * (np.arange(pixels.shape[1]) - spanned.mean())).astype(int)
        flat, flat_bar = _level(pixels, shift), _level(bar, shift)
        flat_medial = _level(labels == MEDIAL, shift)
        widths = flat_bar.sum(axis=1)
        top = int(np.flatnonzero(widths >= 0.6 * widths.max())[0])
        while top > 0 and flat[top - 1].sum() > 0.4 * widths.max():
            top -= 1  # the bar's soft top edge
        if top == 0:
            continue
        # The stem's foot: the medial's ink on the row above the bar (ㅛ has two stems); then up, row by row,
        # while the runs it reaches stay as narrow as the foot.
        reach = [(a, b) for a, b in mask_runs(flat[top - 1]) if flat_medial[top - 1, a:b].any()]
        foot, width = reach, sum(b - a for a, b in reach)
        if not reach or width > 0.4 * widths.max():
            continue
        slack = max(2, width // (2 * len(foot)))
        stem = np.zeros_like(flat)
        for row in range(top - 1, -1, -1):
            found = [(a, b) for a, b in mask_runs(flat[row]) if any(a < d and c < b for c, d in reach)]
            # A stem stands upright: ink that leans away from its foot is the initial's (the leg of ㅈ over ㅘ).
            upright = all(any(c - slack <= a and b <= d + slack for c, d in foot) for a, b in found)
            if not found or not upright or sum(b - a for a, b in found) > STEM_WIDEN * width:
                break
            for a, b in found:
                stem[row, a:b] = True
            reach = found
        labels[_level(stem, -shift) & pixels] = MEDIAL
    return labels


# Where a drawn font joins two jamo into one stroke (the ticks of ㅕ to the initial, ㅗ's stub to ㄹ), the
# references' jamo say only roughly where one ends. The font's own drawings of the same jamo in syllables where
# it stands apart say it exactly: the closest SPLIT_TRIES of them are shifted (up to SPLIT_REACH pixels) onto
# the syllable, and up to SPLIT_DRAWINGS that land on its ink (SPLIT_FIT of the drawing) over the jamo's labelled
# ink (SPLIT_RECALL of it) vote. Ink of a shared stroke labelled another jamo goes to this one where SPLIT_CLAIM
# of its drawings cover it and at most SPLIT_KEEP of the other jamo's do. On the composite syllables of two fonts
# whose jamo touch (NanumBarunGothicBold, NanumMyeongjoExtraBold; 442 each, registered as if drawn), per-jamo IoU
# against their components 0.971 -> 0.981 and 0.957 -> 0.966.
SPLIT_TRIES = 12
SPLIT_DRAWINGS = 6
SPLIT_REACH = 8
SPLIT_FIT = 0.85
SPLIT_RECALL = 0.75
SPLIT_CLAIM = 0.75
SPLIT_KEEP = 0.25


def shared_strokes(labels: np.ndarray) -> np.ndarray:
    """The ink of strokes (connected ink) that carry the labels of more than one jamo."""
    strokes, count = ndimage.label(labels > PAPER)
    shared = np.zeros(count + 1, dtype=bool)
    for role in (INITIAL, MEDIAL):
        for other in range(role + 1, FINAL + 1):
            both = np.intersect1d(strokes[labels == role], strokes[labels == other])
            shared[both] = True
    shared[0] = False
    return shared[strokes]


def apart_share(labels: np.ndarray, role: int) -> float:
    """The share of a jamo's ink in strokes that no other jamo of the syllable touches (1: drawn apart)."""
    strokes, _ = ndimage.label(labels > PAPER)
    mine = labels == role
    if not mine.any():
        return 0.0
    touched = np.unique(strokes[(labels > PAPER) & ~mine])
    return float((mine & ~np.isin(strokes, touched)).sum() / mine.sum())


def fit_drawing(drawing: np.ndarray, ink: np.ndarray, labelled: np.ndarray) -> np.ndarray | None:
    """A jamo's drawing (a mask) shifted to where it lands best on a syllable's ink over the ink labelled that
    jamo, or None where no shift lands SPLIT_FIT of it on ink over SPLIT_RECALL of the labelled ink."""
    from scipy.signal import fftconvolve

    rows, columns = np.nonzero(drawing)
    if rows.size == 0:
        return None
    top, bottom, left, right = rows.min(), rows.max() + 1, columns.min(), columns.max() + 1
    crop = drawing[top:bottom, left:right].astype(np.float32)
    reach = SPLIT_REACH
    # Every shift of the drawing's box within `reach`, on the images padded by `reach`: index `reach` is no shift.
    around = (slice(top, bottom + 2 * reach), slice(left, right + 2 * reach))
    both = np.stack([np.pad(ink, reach)[around], np.pad(labelled, reach)[around]]).astype(np.float32)
    fit, recall = fftconvolve(both, crop[None, ::-1, ::-1], mode="valid", axes=(1, 2))
    fit, recall = fit / crop.sum(), recall / max(labelled.sum(), 1)
    dy, dx = np.unravel_index(np.argmax(fit + recall), fit.shape)
    if fit[dy, dx] < SPLIT_FIT or recall[dy, dx] < SPLIT_RECALL:
        return None
    return ndimage.shift(drawing, (int(dy) - reach, int(dx) - reach), order=0, cval=False)


def split_shared_strokes(labels: dict[int, np.ndarray], codepoints: list[int], closeness) -> dict[int, np.ndarray]:
    """New labels for those of `codepoints` whose shared strokes the font's own drawings of their jamo (in
    `labels`, wherever a jamo stands apart) cut differently. `closeness(role, target, rows)` ranks the syllables
    to take a jamo's drawings from, given their (initial, medial, final) rows (lower: drawn in a closer context;
    `compose.donor_penalties`)."""
    apart: dict[tuple[int, int], list[int]] = {}
    for codepoint in sorted(labels):
        jamo = glyph_data.decompose(codepoint)
        for role in roles_of(codepoint):
            if apart_share(labels[codepoint], role) == 1.0:
                apart.setdefault((role, jamo_value(role, jamo)), []).append(codepoint)
    rows = {key: np.array([(j.initial, j.medial, j.final) for j in map(glyph_data.decompose, found)])
            for key, found in apart.items()}
    changed = {}
    for codepoint in codepoints:
        current = labels[codepoint]
        shared = shared_strokes(current)
        if not shared.any():
            continue
        target, ink = glyph_data.decompose(codepoint), current > PAPER
        cover = {}
        for role in roles_of(codepoint):
            key = (role, jamo_value(role, target))
            found = np.array(apart.get(key, []))
            order = np.lexsort((found, closeness(role, target, rows[key]))) if found.size else []
            others = [int(c) for c in found[order] if c != codepoint]
            votes, used = np.zeros(current.shape, np.float32), 0
            for other in others[:SPLIT_TRIES]:
                if used == SPLIT_DRAWINGS:
                    break
                fitted = fit_drawing(labels[other] == role, ink, current == role)
                if fitted is not None:
                    votes += fitted
                    used += 1
            cover[role] = votes / used if used else None
        new = current.copy()
        for role, mine in cover.items():
            for other, theirs in cover.items():
                if mine is None or other == role:
                    continue
                taken = shared & (current == other) & (mine >= SPLIT_CLAIM)
                if theirs is not None:
                    taken &= theirs <= SPLIT_KEEP
                new[taken] = role
        if (new != current).any():
            changed[codepoint] = new
    return changed


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a >= INK, b >= INK
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def jamo_iou(labels: np.ndarray, truth: np.ndarray, roles: tuple[int, ...]) -> float:
    """Mean over a syllable's jamo of the IoU of the pixels labelled that jamo."""
    values = []
    for role in roles:
        a, b = labels == role, truth == role
        union = np.logical_or(a, b).sum()
        values.append(1.0 if union == 0 else np.logical_and(a, b).sum() / union)
    return float(np.mean(values))


# Composite fonts whose variant choices say which contexts share a jamo's drawing: the train split only
# (val fonts are never learned from).
def variant_fonts() -> list[glyph_data.CorpusFont]:
    """Train-split composite fonts installed here."""
    return [f for f in glyph_data.corpus_split("train") if f.available]


class VariantTable:
    """For every syllable and jamo role, the component glyph each composite corpus font draws it with.

    Two syllables that share a jamo share its drawing in a font when they use the same component there;
    the share of fonts that draw it differently is how far apart the two contexts are for that jamo
    (`context_distance`): 0 means every foundry reuses the drawing, 1 that none does.
    """

    def __init__(self, ids: np.ndarray, names: list[str] | None = None, weights: np.ndarray | None = None):
        self.ids = ids  # (fonts, 11172, 3) int32: a component id per font, syllable and role; -1 unknown
        self.names = list(names) if names is not None else [f"font {i}" for i in range(len(ids))]
        self.weights = np.ones(len(ids)) if weights is None else weights  # how much each font's choice counts

    @staticmethod
    def ids_of(parts: dict[int, list[tuple[object, int]]]) -> np.ndarray:
        """(11172, 3) component ids of one font from `composite_jamo`'s parts (-1 where not a composite)."""
        names: dict[str, int] = {}
        ids = np.full((glyph_data.SYLLABLE_COUNT, 3), -1, dtype=np.int32)
        for codepoint, pieces in parts.items():
            for component, role in pieces:
                ids[codepoint - glyph_data.SYLLABLE_FIRST, role - 1] = names.setdefault(component.glyphName,
                                                                                        len(names))
        return ids

    def fitted_to(self, own: np.ndarray, pairs: int = 20000, sharpness: float = 8.0, seed: int = 0) -> "VariantTable":
        """The table with each corpus font weighted by how often it reuses a jamo's drawing where this font
        does (and draws it anew where this font does), on pairs of the font's composite syllables that share
        that jamo: a font stored as composites tells which foundry's scheme it follows."""
        rng = np.random.default_rng(seed)
        agreement = np.zeros(len(self.ids))
        counted = np.zeros(len(self.ids))
        for role in (INITIAL, MEDIAL, FINAL):
            mine = own[:, role - 1]
            rows = np.flatnonzero(mine >= 0)
            if len(rows) < 2:
                continue
            values = np.array([jamo_value(role, glyph_data.decompose(glyph_data.SYLLABLE_FIRST + int(r)))
                               for r in rows])
            a, b = rng.integers(0, len(rows), pairs), rng.integers(0, len(rows), pairs)
            keep = (values[a] == values[b]) & (a != b)
            a, b = rows[a[keep]], rows[b[keep]]
            same_here = mine[a] == mine[b]
            theirs = self.ids[:, :, role - 1]
            valid = (theirs[:, a] >= 0) & (theirs[:, b] >= 0)
            same_there = theirs[:, a] == theirs[:, b]
            agreement += ((same_there == same_here) & valid).sum(axis=1)
            counted += valid.sum(axis=1)
        if not counted.any():
            return self
        share = np.where(counted > 0, agreement / np.maximum(counted, 1), 0.0)
        return VariantTable(self.ids, self.names, share ** sharpness)

    @classmethod
    def build(cls, fonts: list[glyph_data.CorpusFont] | None = None) -> "VariantTable":
        """Read the composite structure of the corpus fonts (a few seconds a font)."""
        fonts = variant_fonts() if fonts is None else fonts
        syllables = glyph_data.all_syllables()
        tables, names = [], []
        for font in fonts:
            try:
                parts = composite_jamo(open_font(font.path, font.face, lazy=True), syllables)
            except Exception:  # a corpus font this fontTools cannot read adds nothing
                continue
            if parts:
                tables.append(cls.ids_of(parts))
                names.append(font.name)
        return cls(np.stack(tables) if tables else np.full((0, len(syllables), 3), -1, dtype=np.int32), names)

    @classmethod
    def shipped(cls) -> "VariantTable":
        """The table of the corpus as fontgen ships it (glyph_data/jamo_variants.npz, made by
        scripts/build_jamo_variants.py); built from the installed corpus when the file is absent."""
        path = glyph_data.DATA_DIR / SHIPPED_VARIANTS
        if path.exists():
            with np.load(path, allow_pickle=False) as data:
                return cls(data["ids"].astype(np.int32), [str(n) for n in data["names"]])
        return cls.build()

    def save(self, path: Path) -> None:
        """Write the table (int16 ids, compressed) through a temp file and a rename."""
        with atomic_path(path) as partial, open(partial, "wb") as stream:  # a stream: numpy adds no .npz to it
            np.savez_compressed(stream, ids=self.ids.astype(np.int16), names=np.array(self.names))

    def context_distance(self, role: int, target: int, donors: np.ndarray) -> np.ndarray:
        """For each donor syllable (sharing the target's jamo in `role`), the share of corpus fonts that
        draw that jamo differently in the two; 0.5 where no font has both."""
        t = self.ids[:, target - glyph_data.SYLLABLE_FIRST, role - 1][:, None]
        d = self.ids[:, np.asarray(donors) - glyph_data.SYLLABLE_FIRST, role - 1]
        both = ((t >= 0) & (d >= 0)) * self.weights[:, None]
        differ = ((t != d) * both).sum(axis=0)
        count = both.sum(axis=0)
        return np.where(count > 0, differ / np.where(count > 0, count, 1), 0.5)
