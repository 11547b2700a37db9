"""Missing syllables composed from the font's own jamo, as Korean foundries complete their fonts.

Every stroke a missing syllable needs is usually in the user's font already: its initial in a known
syllable with the same initial and vowel, its final under the same vowel elsewhere. For each jamo of a
missing syllable the inventory picks the known syllable whose context is closest (the same neighbours
first, then neighbours of the same shape), `fontgen.jamo` says which of that syllable's ink is the
jamo, and the jamo is put where it sits in its own syllable, in the font's em frame. Where the donor's
context differs (another vowel, a final where there was none), the jamo is moved and scaled from the box
that jamo's role takes in the donor's context to the box it takes in the target's, both measured on the
font's own syllables. A jamo the font never draws in that role cannot be composed: the model draws
those syllables.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

import glyph_data
from fontgen.jamo import (FINAL, INITIAL, INK, MEDIAL, PAPER, ComponentRenderer, JamoSegmenter, composite_jamo,
                          composite_labels, ink_box, jamo_value, roles_of, warp_box,
                          VariantTable)
from fontgen.fonts import open_font
from fontgen.render import EmFrame, GlyphRenderer

SEGMENT_SIZE = 128  # jamo are labelled at this size
COMPOSE_SIZE = 256  # and composed at this one, finer than the scores' 128 px

ROLE_NAMES = {INITIAL: "initial", MEDIAL: "medial", FINAL: "final"}

# Vowels that leave the initial the same room: one bar, two bars, a stroke up, down, flat, and the
# compound vowels by their parts.
VOWEL_GROUPS = ("ㅏㅑㅓㅕㅣ", "ㅐㅒㅔㅖ", "ㅗㅛ", "ㅜㅠ", "ㅡ", "ㅘㅚ", "ㅙ", "ㅝㅟ", "ㅞ", "ㅢ")
# Initials after which a vowel is drawn alike: ㄱ and ㅋ bend into the vowel's room, doubles are wide.
INITIAL_GROUPS = ("ㄱㅋ", "ㄲ", "ㄸㅃㅆㅉ", "ㄴㄷㄹㅁㅂㅅㅇㅈㅊㅌㅍㅎ")
# Finals of one letter and of two.
DOUBLE_FINALS = set("ㄲㄳㄵㄶㄺㄻㄼㄽㄾㄿㅀㅄㅆ")
# The penalty of a donor whose final is there where the target has none, or the reverse: the
# initial and vowel are drawn in another height then, so any donor of the same final presence wins.
FINAL_PRESENCE = 8.0


def _group(letter: str, groups) -> int:
    return next(i for i, g in enumerate(groups) if letter in g)


def _vowel_class(letter: str) -> str:
    if letter in glyph_data.VERTICAL_MEDIALS:
        return "vertical"
    if letter in glyph_data.HORIZONTAL_MEDIALS:
        return "horizontal"
    return "mixed"


def vowel_distance(a: int, b: int) -> float:
    """0 for the same vowel, 1 for one of the same group, 2 of the same class, 4 otherwise."""
    va, vb = glyph_data.MEDIALS[a], glyph_data.MEDIALS[b]
    if va == vb:
        return 0.0
    if _group(va, VOWEL_GROUPS) == _group(vb, VOWEL_GROUPS):
        return 1.0
    return 2.0 if _vowel_class(va) == _vowel_class(vb) else 4.0


def initial_distance(a: int, b: int) -> float:
    """0 for the same initial, 0.5 for one of the same group, 1 otherwise."""
    la, lb = glyph_data.INITIALS[a], glyph_data.INITIALS[b]
    if la == lb:
        return 0.0
    return 0.5 if _group(la, INITIAL_GROUPS) == _group(lb, INITIAL_GROUPS) else 1.0


def final_distance(a: int, b: int) -> float:
    """How differently two finals shape the jamo above them (0 none or the same; 0.25 same width; 1)."""
    if a == b:
        return 0.0
    if not a or not b:
        return FINAL_PRESENCE
    return 0.25 if (glyph_data.FINALS[a] in DOUBLE_FINALS) == (glyph_data.FINALS[b] in DOUBLE_FINALS) else 1.0


def donor_penalty(role: int, target: glyph_data.Jamo, donor: glyph_data.Jamo) -> float:
    """How far a donor syllable's context is from the target's, for the jamo in `role` (0: the same context)."""
    if role == INITIAL:
        return vowel_distance(target.medial, donor.medial) + final_distance(target.final, donor.final)
    if role == MEDIAL:
        return initial_distance(target.initial, donor.initial) + final_distance(target.final, donor.final)
    return vowel_distance(target.medial, donor.medial) + 0.25 * (target.initial != donor.initial)


def box_context(role: int, jamo: glyph_data.Jamo) -> tuple:
    """What decides the box a role's jamo takes in a syllable: the vowel, and whether a final follows."""
    if role == FINAL:
        return (FINAL, jamo.medial)
    return (role, jamo.medial, bool(jamo.final))


@dataclass
class JamoSource:
    """Where one jamo of a composed syllable comes from: a known syllable, and how far its context is from
    the target's (the share of corpus fonts that draw the jamo differently in the two; 0: all reuse it)."""

    role: int
    donor: int
    distance: float


@dataclass
class Inventory:
    """The font's jamo: for each role and jamo, the known syllables that draw it, and how to choose among
    them (the corpus fonts' variant choices when given, else the vowel, initial and final shapes alone)."""

    known: list[int]
    variants: VariantTable | None = None
    by_jamo: dict[tuple[int, int], list[int]] = field(default_factory=dict)

    @classmethod
    def from_known(cls, known: list[int], variants: VariantTable | None = None) -> "Inventory":
        """Index the known syllables by each of their jamo."""
        inventory = cls(sorted(known), variants)
        for codepoint in inventory.known:
            jamo = glyph_data.decompose(codepoint)
            for role in roles_of(codepoint):
                inventory.by_jamo.setdefault((role, jamo_value(role, jamo)), []).append(codepoint)
        return inventory

    def sources(self, codepoint: int) -> list[JamoSource] | None:
        """The donor of each jamo of a syllable, or None when the font draws one of its jamo nowhere in
        that role (the model draws that syllable)."""
        target = glyph_data.decompose(codepoint)
        roles = roles_of(codepoint)
        chosen = []
        for role in roles:
            donors = self.by_jamo.get((role, jamo_value(role, target)))
            if not donors:
                return None
            jamo = [glyph_data.decompose(d) for d in donors]
            shape = np.array([donor_penalty(role, target, j) for j in jamo])
            # Among equals, the donor closest in every role, so that the jamo of one syllable come from
            # as few syllables as possible (their spacing agrees).
            overall = np.array([sum(donor_penalty(r, target, j) for r in roles) for j in jamo])
            if self.variants is not None:
                distance = self.variants.context_distance(role, codepoint, np.array(donors))
            else:
                distance = np.minimum(shape / FINAL_PRESENCE, 1.0)
            best = int(np.lexsort((overall, shape, np.round(distance, 3)))[0])
            chosen.append(JamoSource(role, donors[best], float(distance[best])))
        return chosen

    def coverage(self, codepoints: list[int]) -> dict[int, list[JamoSource]]:
        """The sources of each syllable that can be composed."""
        out = {}
        for codepoint in codepoints:
            sources = self.sources(codepoint)
            if sources is not None:
                out[codepoint] = sources
        return out


class FontJamo:
    """A font's known syllables, rendered and labelled by jamo on demand (exact where the font stores
    the syllable as a composite of its jamo, registered otherwise)."""

    def __init__(self, path: str | Path, face: int = 0, frame: EmFrame | None = None,
                 segmenter: JamoSegmenter | None = None):
        self.path, self.face = Path(path), face
        self.small = ComponentRenderer(path, SEGMENT_SIZE, face=face, frame=frame)
        self.large = GlyphRenderer(path, COMPOSE_SIZE, face=face, frame=self.small.frame)
        self.frame = self.small.frame
        self.composites = composite_jamo(open_font(path, face, lazy=True), sorted(self.small.cmap))
        self._segmenter = segmenter
        self._labels: dict[int, np.ndarray] = {}
        self._images: dict[int, np.ndarray] = {}

    @property
    def segmenter(self) -> JamoSegmenter:
        if self._segmenter is None:
            self._segmenter = JamoSegmenter(SEGMENT_SIZE)
        return self._segmenter

    def labels(self, codepoint: int) -> np.ndarray:
        """The syllable's jamo labels at SEGMENT_SIZE (0 paper, 1 initial, 2 medial, 3 final)."""
        if codepoint not in self._labels:
            if codepoint in self.composites:
                _, labels = composite_labels(self.small, codepoint, self.composites[codepoint])
            else:
                labels = self.segmenter.segment(codepoint, self.small.render(codepoint))
            self._labels[codepoint] = labels
        return self._labels[codepoint]

    def image(self, codepoint: int) -> np.ndarray:
        """The syllable at COMPOSE_SIZE."""
        if codepoint not in self._images:
            self._images[codepoint] = self.large.render(codepoint)
        return self._images[codepoint]

    def jamo_image(self, codepoint: int, role: int) -> np.ndarray:
        """The ink of one jamo of a known syllable at COMPOSE_SIZE, where it sits in the syllable."""
        image = self.image(codepoint)
        labels = upscale_labels(self.labels(codepoint), image)
        return np.where(labels == role, image, 0).astype(np.uint8)

    def role_box(self, codepoint: int, role: int) -> np.ndarray | None:
        """The ink box of one jamo of a known syllable at COMPOSE_SIZE."""
        k = COMPOSE_SIZE / SEGMENT_SIZE
        box = ink_box(np.where(self.labels(codepoint) == role, 255, 0))
        return None if box is None else box * k


def upscale_labels(labels: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Labels made at a smaller size, brought to the image's size: each ink pixel takes the label of the
    nearest labelled pixel."""
    k = image.shape[0] // labels.shape[0]
    big = np.kron(labels, np.ones((k, k), dtype=np.uint8)) if k > 1 else labels
    ink = image > 0
    unlabelled = ink & (big == PAPER)
    if unlabelled.any() and (big != PAPER).any():
        _, (iy, ix) = ndimage.distance_transform_edt(big == PAPER, return_indices=True)
        big = big.copy()
        big[unlabelled] = big[iy[unlabelled], ix[unlabelled]]
    return np.where(ink, big, PAPER).astype(np.uint8)


class ContextBoxes:
    """The median box each role's jamo takes in each box context (see `box_context`), measured on the
    font's labelled syllables; the box a jamo moves between when its donor's context is not the target's."""

    def __init__(self, font: FontJamo, known: list[int], per_context: int = 6):
        self.font = font
        self.by_context: dict[tuple, list[int]] = {}
        for codepoint in known:
            jamo = glyph_data.decompose(codepoint)
            for role in roles_of(codepoint):
                self.by_context.setdefault(box_context(role, jamo), []).append(codepoint)
        self.per_context = per_context
        self._median: dict[tuple, np.ndarray | None] = {}

    def box(self, context: tuple) -> np.ndarray | None:
        """Median box of the context's role over up to `per_context` known syllables (None: none known)."""
        if context not in self._median:
            members = self.by_context.get(context, [])
            # Spread over the context's syllables, not the first few in codepoint order (one initial).
            picks = members[:: max(1, len(members) // self.per_context)][: self.per_context]
            boxes = [b for b in (self.font.role_box(c, context[0]) for c in picks) if b is not None]
            self._median[context] = np.median(boxes, axis=0) if boxes else None
        return self._median[context]


def compose_syllable(font: FontJamo, codepoint: int, sources: list[JamoSource],
                     boxes: ContextBoxes | None = None) -> np.ndarray:
    """One syllable at COMPOSE_SIZE from its jamo sources (uint8 ink)."""
    target = glyph_data.decompose(codepoint)
    canvas = np.zeros((COMPOSE_SIZE, COMPOSE_SIZE), dtype=np.uint8)
    for source in sources:
        ink = font.jamo_image(source.donor, source.role)
        if boxes is not None and source.distance > 0:
            donor = glyph_data.decompose(source.donor)
            have, want = box_context(source.role, donor), box_context(source.role, target)
            if have != want:
                ink = _move_between(ink, boxes.box(have), boxes.box(want))
        canvas = np.maximum(canvas, ink)
    return canvas


def _move_between(ink: np.ndarray, have: np.ndarray | None, want: np.ndarray | None) -> np.ndarray:
    """A jamo's ink moved and scaled as its role's box changes from one context's to another's."""
    own = ink_box(ink)
    if have is None or want is None or own is None:
        return ink
    scale = np.ones(2)
    for axis in (0, 1):
        have_len, want_len = have[axis + 2] - have[axis], want[axis + 2] - want[axis]
        if have_len > 8 and want_len > 8:
            scale[axis] = np.clip(want_len / have_len, 0.6, 1.6)
    # The jamo's own box keeps its place relative to the context box.
    target = np.concatenate([want[:2] + (own[:2] - have[:2]) * scale, want[:2] + (own[2:] - have[:2]) * scale])
    return warp_box(ink, own, target, min_side=2)


def compose_font_syllables(path: str | Path, face: int, known: list[int], codepoints: list[int],
                           frame: EmFrame | None = None, move_boxes: bool = True, variants: VariantTable | None = None,
                           progress=None) -> tuple[dict[int, np.ndarray], dict[int, list[JamoSource]]]:
    """Compose what can be composed of `codepoints` from a font's known syllables: images at COMPOSE_SIZE
    (uint8 ink) and each one's sources. Codepoints whose jamo the font lacks are left out."""
    font = FontJamo(path, face, frame=frame)
    inventory = Inventory.from_known(known, variants)
    covered = inventory.coverage(codepoints)
    boxes = ContextBoxes(font, inventory.known) if move_boxes else None
    images = {}
    for codepoint, sources in covered.items():
        images[codepoint] = compose_syllable(font, codepoint, sources, boxes)
        if progress is not None:
            progress(1)
    return images, covered


def downsize(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 glyphs brought down to `size` px by area averaging (COMPOSE_SIZE must be a multiple)."""
    k = images.shape[-1] // size
    if k == 1:
        return images
    shape = images.shape[:-2] + (size, k, size, k)
    return (images.reshape(shape).astype(np.float32).mean(axis=(-3, -1)) + 0.5).astype(np.uint8)
