"""Missing syllables composed from the font's own jamo, as Korean foundries complete their fonts.

Every stroke a missing syllable needs is usually in the user's font already: its initial in a known
syllable with the same initial and vowel, its final under the same vowel elsewhere. For each jamo of a
missing syllable the inventory picks the known syllable whose context is closest: the one in which the
fewest composite corpus fonts draw that jamo differently (`fontgen.jamo.VariantTable`, weighted towards
the foundries whose scheme the font follows when it stores composites itself), then the one whose
neighbours have the most similar shape. `fontgen.jamo` says which of that syllable's ink is the jamo,
and the jamo is put where it sits in its own syllable, in the font's em frame, at COMPOSE_SIZE, then moved
into its place in the target syllable: as the composite reference fonts drawn most like this font move it
between the two syllables (`ReferencePlacement`), corrected by what the font's own syllables show it does
otherwise (`PlacementCorrection`), or, where that does not help the font's own held-back
syllables, from the box its role takes in the donor's context to the box it takes in the target's, both
measured on the font's own syllables, where most fonts redraw the jamo in the target's context. A consonant
the font never draws in a role is built as a type designer would draw it: a pair (ㄳ, ㄲ) from its two
letters side by side, a single letter from its drawing in the other role, set into the box of a pair or a
letter of the same shape the font does draw. A vowel with two ticks the font never draws (ㅒ, the rarest
vowel of KS X 1001, and ㅖ) is built from the one with one tick (ㅐ, ㅔ), its tick doubled as far apart as the
font's ㅑ (ㅕ) draws its two; the model draws the syllables of any other vowel the font never draws.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import ndimage

import glyph_data
from fontgen.jamo import (FINAL, INITIAL, MEDIAL, NO_BOX, PAPER, REFERENCE_BOX_SIZE, ComponentRenderer,
                          JamoSegmenter, VariantTable, available_references, box_window, composite_jamo,
                          composite_labels, ink_box, jamo_value, label_soft_edges, mask_runs, rank_references,
                          reference_boxes, reference_composites, roles_of, split_shared_strokes, warp_box,
                          warp_transform)
from fontgen.files import atomic_path, write_json_atomic
from fontgen.fonts import open_font
from fontgen.outlines import Contour, component_outline, contour_points, glyph_outline, transformed
from fontgen.render import EmFrame, GlyphRenderer

SEGMENT_SIZE = 128  # jamo are labelled at this size
COMPOSE_SIZE = 256  # and composed at this one, finer than the scores' 128 px

ROLE_NAMES = {INITIAL: "initial", MEDIAL: "medial", FINAL: "final"}
INITIAL_IEUNG = glyph_data.INITIALS.index("ㅇ")  # the silent initial
MEDIAL_EU = glyph_data.MEDIALS.index("ㅡ")
# Drawn syllables are registered against the REFERENCES_KEPT composite fonts that fit REFERENCE_SAMPLES of
# the font's syllables best: on NanumPen and NanumBrush 9 of 14 label as well as all 14 (per-jamo IoU
# 0.926 / 0.906 on 200 syllables each; 6 of 14: 0.923 / 0.897), twice as fast.
REFERENCES_KEPT = 9
REFERENCE_SAMPLES = 16
# A donor's jamo is moved into the target's box only when most corpus fonts (weighted towards the
# font's own scheme) draw it differently in the two contexts: the same drawing is reused as it sits. Whether
# moving helps at all differs between fonts; learn tries both on held-back syllables (`choose_moves`).
MOVE_ABOVE = 0.5
NEVER_MOVE = 2.0  # above any context distance
# The thresholds learn tries on the font's held-back syllables: on the val fonts with 256 known, 0.7 was
# best on average (IoU 0.597 vs 0.593 at 0.5) and the best differed between fonts (benchmarks/HISTORY.md).
MOVE_CHOICES = (MOVE_ABOVE, 0.7, 0.85, NEVER_MOVE)
MOVE_CHECK_SYLLABLES = 48
# The share of a contour's path that must run along one jamo's labelled ink for the contour to be moved as that
# jamo's: below it the contour draws strokes of two jamo as one shape, and those jamo are traced instead.
OUTLINE_PURITY = 0.9

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


@lru_cache(maxsize=None)
def _distance_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`vowel_distance`, `initial_distance` and `final_distance` between every pair of jamo, as tables."""
    def table(distance, count):
        return np.array([[distance(a, b) for b in range(count)] for a in range(count)])

    return (table(vowel_distance, len(glyph_data.MEDIALS)), table(initial_distance, len(glyph_data.INITIALS)),
            table(final_distance, len(glyph_data.FINALS)))


def donor_penalties(role: int, target: glyph_data.Jamo, donors: np.ndarray) -> np.ndarray:
    """`donor_penalty` of many donors at once; `donors` holds their (initial, medial, final) rows."""
    vowel, initial, final = _distance_tables()
    if role == INITIAL:
        return vowel[target.medial, donors[:, 1]] + final[target.final, donors[:, 2]]
    if role == MEDIAL:
        return initial[target.initial, donors[:, 0]] + final[target.final, donors[:, 2]]
    return vowel[target.medial, donors[:, 1]] + 0.25 * (donors[:, 0] != target.initial)


def box_context(role: int, jamo: glyph_data.Jamo) -> tuple:
    """What decides the box a role's jamo takes in a syllable: the vowel, and whether a final follows."""
    if role == FINAL:
        return (FINAL, jamo.medial)
    return (role, jamo.medial, bool(jamo.final))


WHOLE, LEFT, RIGHT = 0, 1, 2  # a jamo's ink whole, or one letter of a jamo built from two side by side
TICKS = 3  # a vowel drawn as another with its one tick doubled (ㅒ as ㅐ), the ticks spaced as in `layout`'s vowel
# Jamo drawn as two letters side by side: a font that draws neither ㄳ nor ㅄ still draws their letters.
LETTER_PAIRS = {"ㄲ": "ㄱㄱ", "ㄸ": "ㄷㄷ", "ㅃ": "ㅂㅂ", "ㅆ": "ㅅㅅ", "ㅉ": "ㅈㅈ", "ㄳ": "ㄱㅅ", "ㄵ": "ㄴㅈ",
                "ㄶ": "ㄴㅎ", "ㄺ": "ㄹㄱ", "ㄻ": "ㄹㅁ", "ㄼ": "ㄹㅂ", "ㄽ": "ㄹㅅ", "ㄾ": "ㄹㅌ", "ㄿ": "ㄹㅍ",
                "ㅀ": "ㄹㅎ", "ㅄ": "ㅂㅅ"}
# A consonant the font never draws in a role is taken from the other role and set in the box of the
# letter of the closest shape in that role (ㅋ is ㄱ with a bar).
SAME_SHAPE = {"ㅋ": "ㄱ", "ㄱ": "ㅋ", "ㅊ": "ㅈㅅ", "ㅈ": "ㅊㅅ", "ㅅ": "ㅈ", "ㅌ": "ㄷ", "ㄷ": "ㅌㄴ", "ㅍ": "ㅂㅁ",
              "ㅂ": "ㅁ", "ㅁ": "ㅂ", "ㅎ": "ㅇ", "ㅇ": "ㅎ", "ㄴ": "ㄷ", "ㄹ": "ㄷ"}
BUILT_DISTANCE = 1.0  # a built jamo's context distance: no font reuses a drawing there
# In a font that stores its syllables as composites of jamo glyphs, a jamo whose drawing most corpus fonts reuse
# between the donor's context and the target's (context distance below this) stays where the font drew it: the
# references may set the one component a few units apart in the two syllables, where the font keeps it (UnBatang's
# ㅁ from 멜 into 몚, distance 0.06: the same box in the font, moved 5 px up by the references). 256 known, 200
# planned syllables, IoU at 128 px: UnBatang 0.698 -> 0.707 (0.1: 0.702, 0.5: 0.707, 0.7: 0.702). A font that draws
# each syllable moves its jamo as the references do (NanumBarunGothicBold, 2,350 known, kept in place: 0.816 ->
# 0.797 from the font file).
PLACE_ABOVE = 0.35
# 256 random KS X 1001 syllables lack a vowel one time in five (18 cuts of 100): ㅒ (15 syllables of 2,350) in 12,
# ㅖ in 3. Those two are built as a type designer draws them: the font's ㅐ (ㅔ) with its tick doubled, the two
# ticks as far apart as the font's ㅑ (ㅕ) draws its own (`doubled_tick`); 15 or 16 of 16 such syllables read as
# intended on UnDotum and NanumBarunGothicBold. Vowels built from a vowel and ㅣ set where a like vowel has its
# two parts (ㅚ, ㅟ, ㅙ, ㅞ as ㅟ, ㅚ, ㅞ, ㅙ; ㅐ as ㅒ) read as intended in 0 to 9 of 16 (ㅐ: 4 on the bold sans,
# its tick lost): those are left to the model (BENCHMARKS.md, "Vowels a font never draws").
DOUBLED_TICKS = {"ㅒ": ("ㅐ", "ㅑ"), "ㅖ": ("ㅔ", "ㅕ")}
# A pair built from two letters takes its box from a pair the font draws (`Inventory._layout`): one sharing its
# letters, in place, is worth this much context penalty a letter. The references move the box from one pair to
# another as they draw the letters (ㄻ -> ㅀ grows by their tall ㅎ, NanumBarunGothicBold's does not). 256 known,
# 322 built pairs: NanumBarunGothicBold halves 5.84 -> 5.03 px, IoU 0.718 -> 0.729 (1: 0.724, 4 and more:
# 0.7295); UnBatang 4.71 -> 4.77 px, IoU 0.5825 -> 0.5842 (4: 0.5822). 261 known (the test's cut): NanumGothicBold
# 4.67 -> 4.43 px, NanumMyeongjo 7.04 -> 7.21: the sans fonts gain, the serifs lose a little in box, not in IoU.
LAYOUT_LETTER_PENALTY = 2.0


@dataclass
class JamoSource:
    """Where one jamo of a composed syllable comes from: a known syllable, and how far its context is from
    the target's (the share of corpus fonts that draw the jamo differently in the two; 0: all reuse it).

    A jamo the font never draws in its role is built: from the same letter in the other role (`donor_role`)
    or from two letters side by side (`part` LEFT and RIGHT, two sources), set into the box the same jamo
    (a pair: the pair's half) takes in `layout`, a known syllable, or into its context's box (layout None); or, a
    vowel with two ticks, from the donor's vowel with one (`part` TICKS, one source), the ticks as far apart as in
    `layout`'s vowel.
    """

    role: int
    donor: int
    distance: float
    part: int = WHOLE
    donor_role: int | None = None
    layout: int | None = None

    @property
    def built(self) -> bool:
        """True for a jamo the font does not draw in its role, built from other letters."""
        return self.part != WHOLE or (self.donor_role is not None and self.donor_role != self.role)

    @property
    def ink_role(self) -> int:
        """The role of the ink in the donor syllable."""
        return self.role if self.donor_role is None else self.donor_role

    def to_list(self) -> list:
        """The source as the inventory's plan stores it."""
        head = [self.role, self.donor, round(self.distance, 4)]
        if not self.built:
            return head
        return head + [self.part, self.ink_role, -1 if self.layout is None else self.layout]

    @classmethod
    def from_list(cls, values: list) -> "JamoSource":
        """The source from the inventory's plan."""
        role, donor, distance = int(values[0]), int(values[1]), float(values[2])
        if len(values) == 3:
            return cls(role, donor, distance)
        part, ink_role, layout = (int(v) for v in values[3:6])
        return cls(role, donor, distance, part, ink_role, None if layout < 0 else layout)


@dataclass
class Inventory:
    """The font's jamo: for each role and jamo, the known syllables that draw it, and how to choose among
    them (the corpus fonts' variant choices when given, else the vowel, initial and final shapes alone)."""

    known: list[int]
    variants: VariantTable | None = None
    by_jamo: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    damaged: frozenset[tuple[int, int]] = frozenset()
    _rows: dict[tuple[int, int], np.ndarray] = field(default_factory=dict, repr=False)
    _rankings: dict[tuple[int, int], tuple] = field(default_factory=dict, repr=False)
    _letter_sources: dict[tuple, tuple[int, int] | None] = field(default_factory=dict, repr=False)
    _layouts: dict[tuple, int | None] = field(default_factory=dict, repr=False)

    @classmethod
    def from_known(cls, known: list[int], variants: VariantTable | None = None,
                   damaged: frozenset[tuple[int, int]] = frozenset()) -> "Inventory":
        """Index the known syllables by each of their jamo; a `damaged` (syllable, role) drawing is no donor of
        its jamo while the font draws that jamo elsewhere (`damaged_drawings`)."""
        inventory = cls(sorted(known), variants, damaged=frozenset(damaged))
        for codepoint in inventory.known:
            jamo = glyph_data.decompose(codepoint)
            for role in roles_of(codepoint):
                inventory.by_jamo.setdefault((role, jamo_value(role, jamo)), []).append(codepoint)
        for (role, value), donors in inventory.by_jamo.items():
            inventory.by_jamo[role, value] = [c for c in donors if (c, role) not in damaged] or donors
        return inventory

    def can_compose(self, codepoint: int) -> bool:
        """True when the font draws every jamo of the syllable somewhere in its role, or can build it from
        letters it draws (cheap: no donor chosen)."""
        target = glyph_data.decompose(codepoint)
        return all(self._has_letter(role, _letters(role)[jamo_value(role, target)], build=True)
                   for role in roles_of(codepoint))

    def _has_letter(self, role: int, letter: str, build: bool = False) -> bool:
        """True when the font draws the letter in `role`; with `build`, also when it can be built (see
        `built_sources`)."""
        letters = _letters(role)
        if letter in letters and (role, letters.index(letter)) in self.by_jamo:
            return True
        if not build:
            return False
        if role == MEDIAL:
            return letter in DOUBLED_TICKS and all(self._has_letter(MEDIAL, v) for v in DOUBLED_TICKS[letter])
        if letter in LETTER_PAIRS:
            return all(self._has_letter(role, part) or self._has_letter(_other(role), part)
                       for part in LETTER_PAIRS[letter])
        return self._has_letter(_other(role), letter)

    def sources(self, codepoint: int, avoid: frozenset[tuple[int, int]] = frozenset()) -> list[JamoSource] | None:
        """The donor of each jamo of a syllable (two for a jamo built from two letters), or None when the
        font draws one of its jamo nowhere in that role and it cannot be built (the model draws that
        syllable). No (syllable, role) drawing in `avoid` is taken while the font draws that jamo elsewhere."""
        roles = roles_of(codepoint)
        chosen = []
        for role in roles:
            source = self._drawn_source(role, codepoint, avoid)
            found = [source] if source is not None else self.built_sources(role, codepoint, avoid)
            if not found:
                return None
            chosen.extend(found)
        return chosen

    def _drawn_source(self, role: int, codepoint: int,
                      avoid: frozenset[tuple[int, int]] = frozenset()) -> JamoSource | None:
        """The known syllable whose drawing of the jamo in `role` has the closest context, leaving out the
        drawings in `avoid` unless they are all there is (None: none)."""
        ranking = self._rankings.get((role, codepoint)) if avoid else None
        if ranking is None:
            ranking = self._rank_donors(role, codepoint)
            if ranking is None:
                return None
            if avoid:  # a syllable re-planned: asked again with more set aside
                self._rankings[role, codepoint] = ranking
        donors, distance, order = ranking
        best = next((i for i in order if (donors[i], role) not in avoid), order[0]) if avoid else order[0]
        return JamoSource(role, donors[best], float(distance[best]))

    def _rank_donors(self, role: int, codepoint: int) -> tuple[list[int], np.ndarray, list[int]] | None:
        """The known syllables drawing a syllable's jamo in `role`, their context distances, and their indices
        closest first (None: none)."""
        target = glyph_data.decompose(codepoint)
        donors = self.by_jamo.get((role, jamo_value(role, target)))
        if not donors:
            return None
        jamo = self._jamo_rows(role, jamo_value(role, target))
        shape = donor_penalties(role, target, jamo)
        # Among equals, the donor closest in every role, so that the jamo of one syllable come from
        # as few syllables as possible (their spacing agrees).
        overall = sum(donor_penalties(r, target, jamo) for r in roles_of(codepoint))
        if self.variants is not None:
            distance = self.variants.context_distance(role, codepoint, np.array(donors))
        else:
            distance = np.minimum(shape / FINAL_PRESENCE, 1.0)
        # A stable sort: with some donors set aside, the first left is the one a ranking of the rest puts first.
        return donors, distance, np.lexsort((overall, shape, np.round(distance, 3))).tolist()

    def _jamo_rows(self, role: int, value: int) -> np.ndarray:
        """The (initial, medial, final) of the known syllables drawing jamo `value` in `role`, a row each."""
        key = (role, value)
        if key not in self._rows:
            jamo = [glyph_data.decompose(d) for d in self.by_jamo[key]]
            self._rows[key] = np.array([(j.initial, j.medial, j.final) for j in jamo], dtype=np.int64)
        return self._rows[key]

    def built_sources(self, role: int, codepoint: int,
                      avoid: frozenset[tuple[int, int]] = frozenset()) -> list[JamoSource]:
        """A jamo built from letters, as a type designer builds one the font never draws in `role` (or draws too
        rarely for one drawing to read right): a pair (ㄳ, ㄲ) from its two letters side by side in the box of a
        pair the font draws, a single letter from its drawing in the other consonant role, in the box of the letter
        of the closest shape, a vowel with two ticks from the one with one (DOUBLED_TICKS; empty: cannot). No
        letter drawing in `avoid` is taken while the font draws that letter elsewhere."""
        target = glyph_data.decompose(codepoint)
        letter = _letters(role)[jamo_value(role, target)]
        if role == MEDIAL:
            if letter not in DOUBLED_TICKS:
                return []
            single, spacing = (self._letter_source(role, codepoint, v, avoid) for v in DOUBLED_TICKS[letter])
            if single is None or spacing is None:
                return []
            return [JamoSource(role, single[0], BUILT_DISTANCE, TICKS, MEDIAL, spacing[0])]
        if letter in LETTER_PAIRS:
            layout = self._layout(role, target, set(LETTER_PAIRS))
            parts = [self._letter_source(role, codepoint, part, avoid) for part in LETTER_PAIRS[letter]]
            if any(p is None for p in parts):
                return []
            return [JamoSource(role, donor, BUILT_DISTANCE, side, donor_role, layout)
                    for side, (donor, donor_role) in zip((LEFT, RIGHT), parts)]
        found = self._letter_source(role, codepoint, letter, avoid)
        if found is None:
            return []
        layout = self._layout(role, target, set(SAME_SHAPE.get(letter, "")))
        return [JamoSource(role, found[0], BUILT_DISTANCE, WHOLE, found[1], layout)]

    def _letter_source(self, role: int, codepoint: int, letter: str,
                       avoid: frozenset[tuple[int, int]] = frozenset()) -> tuple[int, int] | None:
        """(donor, its role) of one consonant for a syllable's `role`: drawn in that role if the font does (and
        not every such drawing is in `avoid`), else in the other consonant role; the donor's context as close to
        the syllable's as can be, leaving out the drawings in `avoid` unless they are all there is."""
        key = (role, codepoint, letter, avoid)
        if key not in self._letter_sources:  # asked again for each plan a re-plan tries
            self._letter_sources[key] = self._find_letter_source(role, codepoint, letter, avoid)
        return self._letter_sources[key]

    def _find_letter_source(self, role: int, codepoint: int, letter: str,
                            avoid: frozenset[tuple[int, int]]) -> tuple[int, int] | None:
        target = glyph_data.decompose(codepoint)
        fallback = None
        for donor_role in (role, _other(role)):
            letters = _letters(donor_role)
            if letter not in letters:
                continue
            value = letters.index(letter)
            jamo = {INITIAL: target.initial, MEDIAL: target.medial, FINAL: target.final}
            if donor_role == FINAL and role == INITIAL:
                jamo = {INITIAL: INITIAL_IEUNG, MEDIAL: target.medial, FINAL: 0}  # the final under the same vowel
            if donor_role == INITIAL and role == FINAL:
                # The initial above ㅡ, drawn wide and flat as a final is: above a vertical vowel it is narrow and
                # its last stroke sweeps down (샠 built from the ㅋ of 캐 reads as 샟).
                jamo = {INITIAL: value, MEDIAL: MEDIAL_EU, FINAL: target.final}
            jamo[donor_role] = value
            stand_in = glyph_data.compose(jamo[INITIAL], jamo[MEDIAL], jamo[FINAL])
            source = self._drawn_source(donor_role, stand_in, avoid)
            if source is None:
                continue
            if (source.donor, donor_role) not in avoid:
                return source.donor, donor_role
            # Every drawing of the letter in this role set aside: the other role's, where the font draws it.
            fallback = fallback or (source.donor, donor_role)
        return fallback

    def _layout(self, role: int, target: glyph_data.Jamo, letters: set[str]) -> int | None:
        """The known syllable with one of `letters` in `role` whose context is closest to the target's (its
        jamo gives the box a built jamo takes; for a pair, one drawn with the same letters weighs less by
        LAYOUT_LETTER_PENALTY a letter), or None."""
        key = (role, target, frozenset(letters))
        if key not in self._layouts:  # asked again for each plan a re-plan tries
            names = _letters(role)
            candidates = [c for (r, value), donors in self.by_jamo.items() if r == role and names[value] in letters
                          for c in donors]
            pair = LETTER_PAIRS.get(names[jamo_value(role, target)], "")

            def cost(codepoint: int) -> tuple[float, int]:
                jamo = glyph_data.decompose(codepoint)
                other = LETTER_PAIRS.get(names[jamo_value(role, jamo)], "")
                unlike = sum(a != b for a, b in zip(pair, other)) if pair and other else 0
                return donor_penalty(role, target, jamo) + LAYOUT_LETTER_PENALTY * unlike, codepoint

            self._layouts[key] = None if not candidates else min(candidates, key=cost)
        return self._layouts[key]

    def coverage(self, codepoints: list[int]) -> dict[int, list[JamoSource]]:
        """The sources of each syllable that can be composed."""
        out = {}
        for codepoint in codepoints:
            sources = self.sources(codepoint)
            if sources is not None:
                out[codepoint] = sources
        return out

    def missing_jamo(self, codepoint: int) -> str:
        """Why a syllable cannot be composed: the jamo the font draws nowhere in their role (and that cannot
        be built from other letters)."""
        target = glyph_data.decompose(codepoint)
        lacking = [f"{ROLE_NAMES[r]} {_letters(r)[jamo_value(r, target)]}" for r in roles_of(codepoint)
                   if (r, jamo_value(r, target)) not in self.by_jamo and not self.built_sources(r, codepoint)]
        return "no known syllable has the " + " or the ".join(lacking)


def _letters(role: int):
    return (glyph_data.INITIALS, glyph_data.MEDIALS, glyph_data.FINALS)[role - 1]


def _other(role: int) -> int:
    """The other consonant role."""
    return FINAL if role == INITIAL else INITIAL


class FontJamo:
    """A font's known syllables, rendered and labelled by jamo on demand (exact where the font stores
    the syllable as a composite of its jamo, registered otherwise)."""

    def __init__(self, path: str | Path, face: int = 0, frame: EmFrame | None = None,
                 segmenter: JamoSegmenter | None = None, labels: dict[int, np.ndarray] | None = None):
        self.path, self.face = Path(path), face
        self.small = ComponentRenderer(path, SEGMENT_SIZE, face=face, frame=frame)
        self.large = GlyphRenderer(path, COMPOSE_SIZE, face=face, frame=self.small.frame)
        self.frame = self.small.frame
        font = open_font(path, face, lazy=True)
        self.composites = composite_jamo(font, sorted(self.small.cmap))
        self.outline_format = "otf" if "CFF " in font or "CFF2" in font else "ttf"  # how its contours wind
        self._segmenter = segmenter
        self._references: list[str] | None = None
        self._labels: dict[int, np.ndarray] = dict(labels or {})
        self._images: dict[int, np.ndarray] = {}
        self._large_labels: dict[int, np.ndarray] = {}
        self._glyph_set = None
        self._contour_roles: dict[int, list[tuple[Contour, int | None, dict]]] = {}
        # Per (syllable, role), kept: a donor gives its jamo to many syllables.
        self._letters: dict[tuple[int, int], tuple[np.ndarray, np.ndarray | None, float]] = {}
        self._doubled_ticks: dict[tuple[int, int], np.ndarray] = {}
        self._jamo_boxes: dict[tuple[int, int], np.ndarray | None] = {}
        self._pair_boxes: dict[tuple[int, int], tuple[np.ndarray | None, np.ndarray | None]] = {}

    @property
    def segmented(self) -> dict[int, np.ndarray]:
        """The labels made or loaded so far, by codepoint."""
        return self._labels

    @property
    def closest_references(self) -> list[str]:
        """The installed composite reference fonts, the REFERENCES_KEPT that fit this font's syllables best,
        best first (fitted on REFERENCE_SAMPLES of its drawn syllables, of its composite ones if it draws none)."""
        if self._references is None:
            syllables = [c for c in sorted(self.small.cmap) if glyph_data.is_syllable(c)]
            drawn = [c for c in syllables if c not in self.composites] or syllables
            samples = drawn[:: max(1, len(drawn) // REFERENCE_SAMPLES)][:REFERENCE_SAMPLES]
            ranked = rank_references(available_references(), [(c, self.small.render(c)) for c in samples],
                                     SEGMENT_SIZE)
            self._references = ranked[:REFERENCES_KEPT]
        return self._references

    @property
    def segmenter(self) -> JamoSegmenter:
        """The registration segmenter, with the reference fonts that fit this font's drawn syllables best."""
        if self._segmenter is None:
            self._segmenter = JamoSegmenter(SEGMENT_SIZE, self.closest_references or None)
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

    def split_shared_strokes(self, codepoints: list[int]) -> int:
        """Recut the strokes that the drawn ones of these syllables share between jamo where the font's own
        drawings of those jamo (in the labelled syllables where they stand apart) end; returns how many changed."""
        drawn = [c for c in codepoints if c not in self.composites]
        changed = split_shared_strokes(self._labels, drawn, closeness=donor_penalties)
        self._labels.update(changed)
        for codepoint in changed:
            self._large_labels.pop(codepoint, None)
            self._contour_roles.pop(codepoint, None)
            self.forget_jamo(codepoint)
        return len(changed)

    def forget_jamo(self, codepoint: int) -> None:
        """Drop what is kept of a syllable's jamo (boxes, letters), for when its cut or its drawing changed."""
        for role in roles_of(codepoint):
            for kept in (self._letters, self._jamo_boxes, self._pair_boxes):
                kept.pop((codepoint, role), None)
        for key in [key for key in self._doubled_ticks if codepoint in key]:  # its vowel, or its ticks' spacing
            del self._doubled_ticks[key]

    def image(self, codepoint: int) -> np.ndarray:
        """The syllable at COMPOSE_SIZE."""
        if codepoint not in self._images:
            self._images[codepoint] = self.large.render(codepoint)
        return self._images[codepoint]

    def jamo_image(self, codepoint: int, role: int) -> np.ndarray:
        """The ink of one jamo of a known syllable at COMPOSE_SIZE, where it sits in the syllable."""
        image = self.image(codepoint)
        return np.where(self.large_labels(codepoint) == role, image, 0).astype(np.uint8)

    def jamo_box(self, codepoint: int, role: int) -> np.ndarray | None:
        """The ink box of `jamo_image` (None: no ink)."""
        if (codepoint, role) not in self._jamo_boxes:
            self._jamo_boxes[codepoint, role] = ink_box(self.jamo_image(codepoint, role))
        return self._jamo_boxes[codepoint, role]

    def pair_boxes(self, codepoint: int, role: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The ink boxes of the left and right letter of a pair drawn as one jamo (`pair_halves`)."""
        if (codepoint, role) not in self._pair_boxes:
            self._pair_boxes[codepoint, role] = pair_halves(self.jamo_image(codepoint, role))
        return self._pair_boxes[codepoint, role]

    def letter_ink(self, codepoint: int, role: int) -> tuple[np.ndarray, np.ndarray | None, float]:
        """One jamo's ink as a letter to build another jamo from (without the specks of a neighbour's stroke,
        which would stretch its box), its ink box and its stroke width."""
        if (codepoint, role) not in self._letters:
            ink = without_specks(self.jamo_image(codepoint, role))
            self._letters[codepoint, role] = ink, ink_box(ink), stroke_width(ink)
        return self._letters[codepoint, role]

    def doubled_tick(self, codepoint: int, spacing: int) -> np.ndarray:
        """The vowel of a known syllable (ㅐ, ㅔ) with its tick doubled (`doubled_tick`), the ticks as far apart
        as in the vowel of `spacing` (ㅑ, ㅕ), a known syllable."""
        if (codepoint, spacing) not in self._doubled_ticks:  # each of its syllables, and each re-plan, asks again
            ink = self.letter_ink(codepoint, MEDIAL)[0]
            letter = glyph_data.MEDIALS[glyph_data.decompose(codepoint).medial]
            self._doubled_ticks[codepoint, spacing] = doubled_tick(
                ink, tick_spacing(self.letter_ink(spacing, MEDIAL)[0]), between=letter == "ㅐ")
        return self._doubled_ticks[codepoint, spacing]

    def large_labels(self, codepoint: int) -> np.ndarray:
        """The syllable's jamo labels at COMPOSE_SIZE, on its ink pixels."""
        if codepoint not in self._large_labels:
            self._large_labels[codepoint] = upscale_labels(self.labels(codepoint), self.image(codepoint))
        return self._large_labels[codepoint]

    def jamo_outline(self, codepoint: int, role: int) -> list[Contour] | None:
        """The font's own contours of one jamo of a known syllable, in font units, where they sit in the syllable;
        None where one of its contours also draws another jamo's strokes (two jamo drawn as one shape)."""
        if codepoint not in self._contour_roles:
            self._contour_roles[codepoint] = self._assign_contours(codepoint)
        mine = []
        for contour, owner, share in self._contour_roles[codepoint]:
            if owner is None and share.get(role, 0.0) >= 1 - OUTLINE_PURITY:
                return None
            if owner == role:
                mine.append(contour)
        return mine or None

    def _assign_contours(self, codepoint: int) -> list[tuple[Contour, int | None, dict]]:
        """Each contour of the syllable with its jamo (None: no jamo has OUTLINE_PURITY of it) and the share of
        its path along each jamo's ink. A composite's components are its jamo; a drawn syllable's contours go to
        the jamo whose labelled ink their path runs along."""
        if self._glyph_set is None:
            font = open_font(self.path, self.face, lazy=True)
            self._glyph_set, self._glyph_names = font.getGlyphSet(), font.getBestCmap() or {}
        if codepoint in self.composites:
            assigned = []
            for component, role in self.composites[codepoint]:
                assigned += [(contour, role, {role: 1.0}) for contour in component_outline(self._glyph_set, component)]
            return assigned
        labels = self.large_labels(codepoint)
        if not (labels > PAPER).any():
            return []
        scale = self.frame.scale(COMPOSE_SIZE)
        assigned = []
        for contour in glyph_outline(self._glyph_set, self._glyph_names[codepoint]):
            points, lengths = contour_points(contour)
            columns = np.clip(((points[:, 0] - self.frame.left) * scale).astype(int), 0, COMPOSE_SIZE - 1)
            rows = np.clip(((self.frame.bottom + self.frame.size - points[:, 1]) * scale).astype(int), 0,
                           COMPOSE_SIZE - 1)
            votes = np.bincount(_nearest_labels(labels, rows, columns), weights=lengths, minlength=FINAL + 1)[INITIAL:]
            if votes.sum() == 0:
                continue
            votes = votes / votes.sum()
            share = {role: float(votes[role - 1]) for role in (INITIAL, MEDIAL, FINAL) if votes[role - 1] > 0}
            owner = int(np.argmax(votes)) + 1
            assigned.append((contour, owner if votes[owner - 1] >= OUTLINE_PURITY else None, share))
        return assigned

    def role_box(self, codepoint: int, role: int) -> np.ndarray | None:
        """The ink box of one jamo of a known syllable at COMPOSE_SIZE."""
        k = COMPOSE_SIZE / SEGMENT_SIZE
        box = ink_box(np.where(self.labels(codepoint) == role, 255, 0))
        return None if box is None else box * k


# Where to look for the labelled ink a point of a contour lies on: its own pixel, then outwards (a contour runs
# along its ink's anti-aliased edge, so it is rarely more than a pixel from a labelled one).
_NEAR = sorted(((dr, dc) for dr in range(-2, 3) for dc in range(-2, 3)), key=lambda d: d[0] ** 2 + d[1] ** 2)


def _nearest_labels(labels: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """The label of the labelled pixel nearest each (row, column), within two pixels (PAPER beyond)."""
    found = labels[rows, columns].copy()
    last = labels.shape[0] - 1
    for dr, dc in _NEAR[1:]:
        missing = np.flatnonzero(found == PAPER)
        if missing.size == 0:
            break
        found[missing] = labels[np.clip(rows[missing] + dr, 0, last), np.clip(columns[missing] + dc, 0, last)]
    return found


def upscale_labels(labels: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Labels made at a smaller size, brought to the image's size: each ink pixel takes the label of the
    nearest labelled pixel."""
    k = image.shape[0] // labels.shape[0]
    big = np.kron(labels, np.ones((k, k), dtype=np.uint8)) if k > 1 else labels
    return np.where(image > 0, label_soft_edges(image, big), PAPER).astype(np.uint8)


# A pair built from two letters in a font whose jamo move between context boxes goes into the median box of the
# font's own pairs drawn in the nearest contexts: those within this `donor_penalty` of the nearest, at most this
# many. NanumPen with 256 known: the pairs' halves 20.7 -> 14.4 px from the foundry's at COMPOSE_SIZE, 600 syllables
# with a built pair read as intended 0.473 -> 0.543 (the nearest 5 in any context: 0.527, 8: 0.415), IoU 0.300 ->
# 0.328; NanumBrush 0.277 -> 0.275, IoU 0.234 -> 0.238; learned again, 1,500 planned syllables read by eval's judge:
# pen 0.755 -> 0.808, brush 0.656 -> 0.695. Where the references place jamo, one drawing moved as they move it
# measured better (NanumBarunGothicBold 5.9 px against 6.8, UnBatang 6.1 against 7.3).
PAIR_BOX_WINDOW = 1.0
PAIR_BOX_SAMPLES = 8


class ContextBoxes:
    """The median box each role's jamo takes in each box context (see `box_context`), measured on the
    font's labelled syllables; the box a jamo moves between when its donor's context is not the target's."""

    def __init__(self, font: FontJamo, known: list[int], per_context: int = 6,
                 measured: dict[tuple, np.ndarray | None] | None = None):
        self.font = font
        self.by_context: dict[tuple, list[int]] = {}
        for codepoint in known:
            jamo = glyph_data.decompose(codepoint)
            for role in roles_of(codepoint):
                self.by_context.setdefault(box_context(role, jamo), []).append(codepoint)
        self.per_context = per_context
        self.known = known
        self._median: dict[tuple, np.ndarray | None] = dict(measured or {})
        self._pairs: dict[int, tuple[np.ndarray, np.ndarray]] | None = None
        self._pair_samples: dict[tuple[int, int], list[int]] = {}
        self._pair_box: dict[tuple[int, int], np.ndarray | None] = {}

    @property
    def measured(self) -> dict[tuple, np.ndarray | None]:
        """The boxes measured so far, by context."""
        return self._median

    def samples(self, context: tuple) -> list[int]:
        """The up to `per_context` known syllables a context's box is measured on: spread over the context's
        syllables, not the first few in codepoint order (one initial)."""
        members = self.by_context.get(context, [])
        return members[:: max(1, len(members) // self.per_context)][: self.per_context]

    def box(self, context: tuple) -> np.ndarray | None:
        """Median box of the context's role over its `samples` (None: none known)."""
        if context not in self._median:
            boxes = [b for b in (self.font.role_box(c, context[0]) for c in self.samples(context)) if b is not None]
            self._median[context] = np.median(boxes, axis=0) if boxes else None
        return self._median[context]

    def pair_samples(self, role: int, codepoint: int) -> list[int]:
        """The known syllables a built pair's box in `role` of a syllable is measured on (`pair_box`): those
        drawing a pair there (LETTER_PAIRS) in the contexts nearest the syllable's (PAIR_BOX_WINDOW of the
        nearest), at most PAIR_BOX_SAMPLES."""
        if self._pairs is None:  # each consonant role's pair drawings, and their (initial, medial, final) rows
            jamo = {c: glyph_data.decompose(c) for c in self.known}
            drawing = {r: [c for c in self.known if _letters(r)[jamo_value(r, jamo[c])] in LETTER_PAIRS]
                       for r in (INITIAL, FINAL)}
            self._pairs = {r: (np.array(cs, dtype=np.int64),
                               np.array([(jamo[c].initial, jamo[c].medial, jamo[c].final) for c in cs],
                                        dtype=np.int64).reshape(-1, 3)) for r, cs in drawing.items()}
        if (role, codepoint) not in self._pair_samples:  # asked for each plan a re-plan tries, and by `pair_box`
            drawings, rows = self._pairs.get(role, (np.zeros(0, dtype=np.int64), np.zeros((0, 3), dtype=np.int64)))
            samples = []
            if len(drawings):
                penalty = donor_penalties(role, glyph_data.decompose(codepoint), rows)
                near = penalty <= penalty.min() + PAIR_BOX_WINDOW
                samples = drawings[near][np.lexsort((drawings[near], penalty[near]))][:PAIR_BOX_SAMPLES].tolist()
            self._pair_samples[role, codepoint] = samples
        return self._pair_samples[role, codepoint]

    def pair_box(self, role: int, codepoint: int) -> np.ndarray | None:
        """The box a pair built from two letters takes in `role` of a syllable, where jamo are moved between context
        boxes: the median of its `pair_samples`' boxes (None: the font draws no pair in the role)."""
        if (role, codepoint) not in self._pair_box:
            boxes = [b for b in (self.font.jamo_box(c, role) for c in self.pair_samples(role, codepoint))
                     if b is not None]
            self._pair_box[role, codepoint] = np.median(boxes, axis=0) if boxes else None
        return self._pair_box[role, codepoint]


UNIT_BOX = np.array([0.0, 0.0, 1.0, 1.0])  # a box's edges as shares of an enclosing box, mapped by `_map_box`


@lru_cache(maxsize=None)
def reference_pair_splits(name: str) -> dict[tuple[int, int], np.ndarray]:
    """Where the two letters of each pair (LETTER_PAIRS: ㄲ, ㄺ) sit in a composite reference font's syllables:
    by (role, codepoint), (2, 4) boxes of the left and right letter (top, left, bottom, right) as shares of the
    pair's whole ink box (`pair_halves`, at REFERENCE_BOX_SIZE); a pair that is not one component, or not split in
    two, is left out. Each component glyph is rendered once (UnDotum: 395 for its 11,172 syllables, 0.4 s)."""
    font = glyph_data.corpus_font(name)
    renderer = ComponentRenderer(font.path, REFERENCE_BOX_SIZE, face=font.face)
    by_glyph: dict[tuple, np.ndarray | None] = {}
    splits = {}
    for codepoint, parts in reference_composites(name).items():
        jamo = glyph_data.decompose(codepoint)
        for role in (INITIAL, FINAL):
            mine = [component for component, part_role in parts if part_role == role]
            if _letters(role)[jamo_value(role, jamo)] not in LETTER_PAIRS or len(mine) != 1:
                continue
            key = (mine[0].glyphName, mine[0].transform)  # the split is the same wherever the component sits
            if key not in by_glyph:
                ink = renderer.render_component(mine[0])
                whole, (left, right) = ink_box(ink), pair_halves(ink)
                by_glyph[key] = None if whole is None or left is None or right is None else np.stack(
                    [_map_box(left, whole, UNIT_BOX), _map_box(right, whole, UNIT_BOX)])
            if by_glyph[key] is not None:
                splits[role, codepoint] = by_glyph[key]
    return splits


class ReferencePlacement:
    """Where a jamo taken from a donor syllable goes in the target syllable: as the composite reference fonts
    drawn most like this font move that jamo between the two syllables. Each reference gives the shift of the
    jamo's box and the change of its size, relative to the size it has in the donor; the median over the
    references is applied to the font's own jamo (the corpus's placement, fitted to this font's proportions).
    With a `correction`, what the font's own syllables show it does differently is added (`PlacementCorrection`)."""

    def __init__(self, references: list[str], correction: "PlacementCorrection | None" = None):
        self.references = list(references)
        self.correction = correction
        self._boxes = np.stack([reference_boxes(name) for name in self.references])  # (fonts, 11172, 3, 4)

    def pair_split(self, role: int, codepoint: int) -> np.ndarray | None:
        """Where the left and right letter of the syllable's pair in `role` sit, as shares of the pair's box
        (`reference_pair_splits`): the median over the references (None: none splits it)."""
        splits = [s[role, codepoint] for s in map(reference_pair_splits, self.references) if (role, codepoint) in s]
        return np.median(splits, axis=0) if splits else None

    def box(self, role: int, donor: int, target: int, own: np.ndarray) -> np.ndarray | None:
        """The box at COMPOSE_SIZE for the jamo whose ink box in `donor` is `own` (None: no reference has both)."""
        placed = self.reference_box(role, donor, target, own)
        if placed is None or self.correction is None:
            return placed
        return placed + self.correction.shift(role, donor, target)

    def reference_box(self, role: int, donor: int, target: int, own: np.ndarray) -> np.ndarray | None:
        """The box as the references alone place the jamo (see `box`)."""
        have = self._boxes[:, donor - glyph_data.SYLLABLE_FIRST, role - 1]
        want = self._boxes[:, target - glyph_data.SYLLABLE_FIRST, role - 1]
        found = (have[:, 0] != NO_BOX) & (want[:, 0] != NO_BOX)
        if not found.any():
            return None
        k = COMPOSE_SIZE / REFERENCE_BOX_SIZE
        have, want = have[found].astype(np.float64) * k, want[found].astype(np.float64) * k
        have_len, want_len = have[:, 2:] - have[:, :2], want[:, 2:] - want[:, :2]
        own_len = own[2:] - own[:2]
        # A lone stroke's thickness says nothing about its box: only its place changes.
        scale = np.where((have_len > 8) & (want_len > 8), np.clip(want_len / np.maximum(have_len, 1), 0.6, 1.6), 1.0)
        start = own[:2] + own_len / np.maximum(have_len, 1.0) * (want[:, :2] - have[:, :2])
        return np.median(np.concatenate([start, start + own_len * scale], axis=1), axis=0)


def placement_terms(role: int, codepoint: int, terms: tuple[str, ...]) -> list[str]:
    """The names of what decides where a role's jamo sits in a syllable, as `PlacementCorrection` weighs it:
    "context", the syllable's box context (its vowel, and whether a final follows); "final", the final
    letter under the initial and the vowel (a tall double final lifts them in some fonts)."""
    jamo = glyph_data.decompose(codepoint)
    names = []
    if "context" in terms:
        names.append(_context_key(box_context(role, jamo)))
    if "final" in terms and role != FINAL:
        names.append("final " + (glyph_data.FINALS[jamo.final] or "none"))
    return names


@dataclass
class PlacementCorrection:
    """What this font does differently from its reference fonts when a jamo moves between two syllables: each
    `placement_terms` name of a role has a weight (top, left, bottom, right, px at COMPOSE_SIZE), and a jamo
    moved from a donor to a target is shifted by the target's weights less the donor's. Fitted on pairs of the
    font's own syllables that draw the same jamo (`fit_placement_correction`); a name never seen weighs nothing,
    and the weights are shrunk towards nothing (`strength`), so that little evidence leaves the references' say."""

    terms: tuple[str, ...]
    strength: float
    weights: dict[int, dict[str, np.ndarray]]

    def shift(self, role: int, donor: int, target: int) -> np.ndarray:
        """How far the corrected box's edges lie from the references' box, px at COMPOSE_SIZE."""
        weights = self.weights.get(role, {})
        zero = np.zeros(4)
        return (sum((weights.get(name, zero) for name in placement_terms(role, target, self.terms)), zero)
                - sum((weights.get(name, zero) for name in placement_terms(role, donor, self.terms)), zero))

    def to_json(self) -> dict:
        """The correction as the inventory stores it."""
        return {"terms": list(self.terms), "strength": self.strength,
                "weights": {ROLE_NAMES[role]: {name: [round(float(x), 3) for x in w] for name, w in weights.items()}
                            for role, weights in self.weights.items()}}

    @classmethod
    def from_json(cls, data: dict) -> "PlacementCorrection":
        """The correction from the inventory."""
        roles = {name: role for role, name in ROLE_NAMES.items()}
        return cls(tuple(str(t) for t in data["terms"]), float(data["strength"]),
                   {roles[role]: {str(name): np.array(w, dtype=np.float64).reshape(4) for name, w in weights.items()}
                    for role, weights in data["weights"].items()})


# Pairs the correction is fitted on (`placement_pairs`): up to this many of the font's labelled syllables, each the
# target of its jamo taken from PLACEMENT_FIT_DONORS other syllables drawing the same jamo (at random, fixed seed).
PLACEMENT_FIT_SYLLABLES = 600
PLACEMENT_FIT_DONORS = 3
# What learn tries (terms, strength): on the val fonts with 256 known, the context alone helped the serif (box
# error 1.70 -> 1.55 px at COMPOSE_SIZE, IoU 0.731 -> 0.740) and the final letter too the rounded sans, whose
# vowel sits higher over a tall final (1.64 -> 1.43 px, IoU 0.783 -> 0.809), where it made the serif worse.
PLACEMENT_CORRECTIONS = ((("context",), 30.0), (("context", "final"), 10.0))
# The held-back syllables are few (MOVE_CHECK_SYLLABLES) and composed from donors further away than a missing
# syllable's: a correction with more terms must compose them better by this much IoU to be taken. The serif's
# held-back syllables favoured the final letter by 0.005 where it lost 0.025 on the missing ones; the rounded
# sans's by 0.016, where it gained 0.018.
CORRECTION_MARGIN = 0.01


@dataclass
class PlacementPair:
    """One jamo of a known syllable (`target`) placed from another that draws it (`donor`) by the references
    alone, and how far each box edge lands from where the font draws it (px at COMPOSE_SIZE)."""

    role: int
    donor: int
    target: int
    residual: np.ndarray


def placement_pairs(font: FontJamo, syllables: list[int], placement: ReferencePlacement) -> list[PlacementPair]:
    """The pairs a `PlacementCorrection` is fitted on: up to PLACEMENT_FIT_SYLLABLES of `syllables` (known,
    labelled), each the target of its jamo placed from PLACEMENT_FIT_DONORS others of them drawing the same jamo."""
    rng = np.random.default_rng(0)
    targets = syllables[:: max(1, len(syllables) // PLACEMENT_FIT_SYLLABLES)][:PLACEMENT_FIT_SYLLABLES]
    pairs = []
    for role in (INITIAL, MEDIAL, FINAL):
        drawing = {}
        for codepoint in syllables:
            if role in roles_of(codepoint):
                drawing.setdefault(jamo_value(role, glyph_data.decompose(codepoint)), []).append(codepoint)
        for target in targets:
            if role not in roles_of(target) or (want := font.jamo_box(target, role)) is None:
                continue
            others = [d for d in drawing[jamo_value(role, glyph_data.decompose(target))] if d != target]
            for donor in rng.permutation(others)[:PLACEMENT_FIT_DONORS].tolist():
                own = font.jamo_box(donor, role)
                placed = None if own is None else placement.reference_box(role, donor, target, own)
                if placed is not None:
                    pairs.append(PlacementPair(role, donor, target, want - placed))
    return pairs


def fit_placement_correction(pairs: list[PlacementPair], terms: tuple[str, ...],
                             strength: float) -> PlacementCorrection:
    """The `PlacementCorrection` that best explains the pairs' residuals (`placement_pairs`): ridge regression on
    the differences of the target's and the donor's terms."""
    weights = {}
    for role in (INITIAL, MEDIAL, FINAL):
        mine = [pair for pair in pairs if pair.role == role]
        sides = [(placement_terms(role, p.target, terms), placement_terms(role, p.donor, terms)) for p in mine]
        names = sorted({name for pair in sides for side in pair for name in side})
        if not names:
            continue
        index = {name: i for i, name in enumerate(names)}
        x = np.zeros((len(mine), len(names)))
        for i, (into, out_of) in enumerate(sides):
            for name in into:
                x[i, index[name]] += 1
            for name in out_of:
                x[i, index[name]] -= 1
        residuals = np.array([pair.residual for pair in mine])
        solved = np.linalg.solve(x.T @ x + strength * np.eye(len(names)), x.T @ residuals)
        weights[role] = {name: solved[i] for name, i in index.items()}
    return PlacementCorrection(tuple(terms), float(strength), weights)


def contexts_to_move(codepoint: int, sources: list[JamoSource],
                     move_above: float = MOVE_ABOVE) -> list[tuple[tuple, tuple]]:
    """The (donor's, target's) box contexts of the jamo that must move to compose a syllable."""
    target = glyph_data.decompose(codepoint)
    moves = []
    for source in sources:
        if source.built:  # set into its own box (see `built_jamo_box`)
            continue
        have = box_context(source.role, glyph_data.decompose(source.donor))
        want = box_context(source.role, target)
        if source.distance > move_above and have != want:
            moves.append((have, want))
    return moves


@dataclass
class PlacedJamo:
    """One jamo of a syllable being composed: its ink where it sits in its donor, that ink's box, and the box it
    is moved into (None: it stays where it sits)."""

    source: JamoSource
    ink: np.ndarray
    own: np.ndarray | None
    target: np.ndarray | None
    stroke_width: float | None = None  # a built letter's, kept as it is squeezed or stretched (None: measured)


def place_jamo(font: FontJamo, codepoint: int, sources: list[JamoSource], boxes: ContextBoxes | None = None,
               move_above: float = MOVE_ABOVE, placement: ReferencePlacement | None = None) -> list[PlacedJamo]:
    """Where each jamo of a syllable goes. With `placement`, every jamo taken from another syllable is placed as
    the reference fonts place it, but one from a composite glyph that the corpus mostly reuses there, which stays
    (PLACE_ABOVE); without (or where no reference has the jamo in both syllables), it is moved between its role's
    context boxes where the donor's context is far from the target's (`move_above`). A built jamo goes into the
    box `built_jamo_box` gives it."""
    placed = []
    for source in sources:
        if source.part == TICKS:  # the donor's vowel, its tick doubled, moved as the donor's own vowel would be
            ink, own = font.doubled_tick(source.donor, source.layout), font.jamo_box(source.donor, source.role)
            target = None if placement is None or own is None else placement.box(source.role, source.donor,
                                                                                 codepoint, own)
            placed.append(PlacedJamo(source, ink, own, target))
            continue
        if source.built:
            ink, own, width = font.letter_ink(source.donor, source.ink_role)
            target = None if own is None else built_jamo_box(font, codepoint, source, boxes, placement)
            placed.append(PlacedJamo(source, ink, own, target, width))
            continue
        ink, own, target = font.jamo_image(source.donor, source.role), font.jamo_box(source.donor, source.role), None
        reused = source.distance < PLACE_ABOVE and source.donor in font.composites
        if placement is not None and own is not None and source.donor != codepoint and not reused:
            target = placement.box(source.role, source.donor, codepoint, own)
        if target is None and boxes is not None and own is not None:
            for have, want in contexts_to_move(codepoint, [source], move_above):
                target = _box_between(own, boxes.box(have), boxes.box(want))
        placed.append(PlacedJamo(source, ink, own, target))
    return placed


def compose_syllable(font: FontJamo, codepoint: int, sources: list[JamoSource], boxes: ContextBoxes | None = None,
                     move_above: float = MOVE_ABOVE, placement: ReferencePlacement | None = None) -> np.ndarray:
    """One syllable at COMPOSE_SIZE from its jamo sources (uint8 ink), each jamo placed by `place_jamo`."""
    return compose_glyph(font, codepoint, sources, boxes, move_above, placement, outline=False)[0]


def placed_ink(jamo: PlacedJamo) -> np.ndarray:
    """A jamo's ink moved into its box (a built letter keeps the font's weight as a type designer would)."""
    if jamo.target is None:
        return jamo.ink
    if jamo.source.built and jamo.source.part != TICKS:
        return fit_strokes(jamo.ink, jamo.own, jamo.target, jamo.stroke_width)
    return warp_box(jamo.ink, jamo.own, jamo.target, min_side=2, margin=WARP_MARGIN)


@dataclass
class ComposedOutline:
    """A composed syllable as outlines: the jamo moved as the font's own contours, in font units, and the ink
    (uint8 at COMPOSE_SIZE) of the jamo that must be traced instead (None: none): built letters, whose strokes
    are redrawn, and jamo drawn as one shape with another jamo."""

    contours: list[Contour]
    traced: np.ndarray | None


def compose_glyph(font: FontJamo, codepoint: int, sources: list[JamoSource], boxes: ContextBoxes | None = None,
                  move_above: float = MOVE_ABOVE, placement: ReferencePlacement | None = None,
                  outline: bool = True) -> tuple[np.ndarray, ComposedOutline | None]:
    """One syllable at COMPOSE_SIZE from its jamo sources (uint8 ink, each jamo placed by `place_jamo`) and, with
    `outline`, the same syllable with each jamo that has contours of its own as those contours, moved exactly as
    its ink is (None: no jamo has contours of its own, and the whole syllable is traced)."""
    canvas, contours, traced = np.zeros((COMPOSE_SIZE, COMPOSE_SIZE), dtype=np.uint8), [], None
    for jamo in place_jamo(font, codepoint, sources, boxes, move_above, placement):
        ink = placed_ink(jamo)
        canvas = np.maximum(canvas, ink)
        if not outline:
            continue
        own = None if jamo.source.built else font.jamo_outline(jamo.source.donor, jamo.source.ink_role)
        if own is None:
            traced = ink if traced is None else np.maximum(traced, ink)
            continue
        if jamo.target is not None:
            own = transformed(own, _warp_matrix(font.frame, jamo.own, jamo.target))
        contours += own
    return canvas, ComposedOutline(contours, traced) if contours else None


def _warp_matrix(frame: EmFrame, own: np.ndarray, target: np.ndarray) -> tuple:
    """The affine transform, in font units, that moves an outline as `warp_box` (min_side 2) moves its ink from
    the box `own` to `target` at COMPOSE_SIZE."""
    scale, offset = warp_transform(own, target, 2)  # input pixel index = scale * output index + offset
    k, top = frame.scale(COMPOSE_SIZE), frame.bottom + frame.size
    # A pixel's index is its centre, half a pixel in from the edge the font's coordinates map to.
    dx = ((-frame.left * k - 0.5 - offset[1]) / scale[1] + 0.5) / k + frame.left
    dy = top - ((top * k - 0.5 - offset[0]) / scale[0] + 0.5) / k
    return (float(1 / scale[1]), 0.0, 0.0, float(1 / scale[0]), float(dx), float(dy))


def built_jamo_box(font: FontJamo, codepoint: int, source: JamoSource, boxes: ContextBoxes | None,
                   placement: ReferencePlacement | None = None) -> np.ndarray | None:
    """Where a built jamo goes at COMPOSE_SIZE: the box of its `layout` syllable's jamo in the same role
    (for one letter of a pair, that pair's half), moved as `placement` moves that jamo from the layout
    syllable to this one (a pair's half: split as the references split this syllable's own pair); without
    `placement`, a pair's half of the median box of the font's nearest pairs (`ContextBoxes.pair_box`); else
    its role's box in the syllable's context (halved for a pair)."""
    if source.layout is not None:
        if placement is None and source.part != WHOLE and boxes is not None:
            # One drawing's pair is a loose guide in a font drawn by hand (the pen's 뻤 sets its ㅆ at the right edge,
            # split 27 / 63 px wide): the median of the nearest ones.
            near = boxes.pair_box(source.role, codepoint)
            if near is not None:
                return box_halves(near)[source.part - 1]
        whole = font.jamo_box(source.layout, source.role)
        box = whole if source.part == WHOLE else font.pair_boxes(source.layout, source.role)[source.part - 1]
        if placement is None or box is None or whole is None or source.layout == codepoint:
            return box
        placed = placement.box(source.role, source.layout, codepoint, whole)
        if placed is None:
            return box
        # The layout's pair splits as its own letters do (ㄺ's ㄹ is wider than ㄳ's ㄱ): the references split the
        # syllable's own pair.
        split = None if source.part == WHOLE else placement.pair_split(source.role, codepoint)
        return _map_box(box, whole, placed) if split is None else _map_box(split[source.part - 1], UNIT_BOX, placed)
    context = box_context(source.role, glyph_data.decompose(codepoint))
    box = None if boxes is None else boxes.box(context)
    if box is None or source.part == WHOLE:
        return box
    return box_halves(box)[source.part - 1]


def _map_box(box: np.ndarray, source: np.ndarray, target: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
    """`box` moved and scaled as its enclosing box `source` becomes `target` (by `scale` per axis, when given,
    instead of the change of size)."""
    if scale is None:
        scale = (target[2:] - target[:2]) / np.maximum(source[2:] - source[:2], 1e-6)
    return np.concatenate([target[:2] + (box[:2] - source[:2]) * scale, target[:2] + (box[2:] - source[:2]) * scale])


# A jamo's faint edge (below the ink threshold of its box) reaches a pixel or two past its box: moved, only its
# target box and this many pixels around it are drawn.
WARP_MARGIN = 6


PAIR_GAP = 0.06  # between the halves of a pair set into a plain box, as a share of its width


def box_halves(box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A plain box split into the left and right letter's boxes of a pair, PAIR_GAP apart."""
    top, left, bottom, right = box
    gap, middle = PAIR_GAP * (right - left) / 2, (left + right) / 2
    return np.array([top, left, bottom, middle - gap]), np.array([top, middle + gap, bottom, right])


def box_parts(box: np.ndarray, count: int) -> list[np.ndarray]:
    """A plain box split into `count` letters' boxes side by side, PAIR_GAP of its width apart."""
    top, left, bottom, right = box
    gap = PAIR_GAP * (right - left)
    width = (right - left - (count - 1) * gap) / count
    return [np.array([top, left + i * (width + gap), bottom, left + i * (width + gap) + width]) for i in range(count)]


def pair_halves(ink: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The ink boxes of the left and right letter of a pair (ㄲ, ㄺ): split at the emptiest column of the
    middle of the pair's box."""
    box = ink_box(ink)
    if box is None:
        return None, None
    left, right = int(box[1]), int(box[3])
    columns = (ink[:, left:right] >= 64).sum(axis=0)
    lo, hi = int(0.3 * len(columns)), max(int(0.7 * len(columns)), int(0.3 * len(columns)) + 1)
    centre = (len(columns) - 1) / 2
    split = left + min(range(lo, hi), key=lambda i: (columns[i], abs(i - centre)))
    first, second = ink_box(ink[:, :split]), ink_box(ink[:, split:])
    if second is not None:
        second = second + np.array([0, split, 0, split])
    return first, second


# The stems of a vowel: the rightmost column right of its middle with ink down STEM_PEAK of the tallest there,
# and the columns beside it down to STEM_COLUMN of its ink.
STEM_PEAK = 0.85
STEM_COLUMN = 0.6


def _stem_run(columns: np.ndarray, peak: int) -> tuple[int, int]:
    """The run of columns around `peak` with ink down to STEM_COLUMN of the peak's."""
    start, end = peak, peak + 1
    while start > 0 and columns[start - 1] >= STEM_COLUMN * columns[peak]:
        start -= 1
    while end < len(columns) and columns[end] >= STEM_COLUMN * columns[peak]:
        end += 1
    return start, end


# Where the font's ㅑ or ㅕ cannot be read, its ticks lie this share of the vowel's height apart (the compatibility
# letters ㅒ and ㅖ of ten corpus fonts: 0.24-0.31, the hand-drawn 0.40-0.46).
TICK_SPACING = 0.28
# A tick's rows: those inked across TICK_ACROSS of the part it lies in, and the rows above and below them inked
# across TICK_EDGE of it (its slanted or rounded ends).
TICK_ACROSS = 0.4
TICK_EDGE = 0.1


def tick_spacing(ink: np.ndarray) -> float:
    """How far apart the two ticks of a vowel with two (ㅑ, ㅕ) lie, as a share of the vowel's height: the two
    largest runs of rows inked beside its stem (TICK_SPACING where there are not two)."""
    box = ink_box(ink)
    if box is None:
        return TICK_SPACING
    top, left, bottom, right = box.astype(int)
    mask = ink[top:bottom, left:right] >= 128
    columns = mask.sum(axis=0)
    start, end = _stem_run(columns, int(np.argmax(columns)))
    beside = mask[:, end:] if columns[end:].sum() >= columns[:start].sum() else mask[:, :start]
    runs = sorted(mask_runs(beside.any(axis=1)), key=lambda run: beside[run[0]:run[1]].sum())[-2:]
    if len(runs) < 2:
        return TICK_SPACING
    (a0, a1), (b0, b1) = runs
    return abs((a0 + a1) - (b0 + b1)) / 2 / max(bottom - top, 1)


def doubled_tick(ink: np.ndarray, spacing: float, between: bool) -> np.ndarray:
    """A vowel with one tick (ㅐ, ㅔ) drawn with two (ㅒ, ㅖ): the tick, the ink between its two stems (`between`,
    ㅐ) or left of the first (ㅔ), moved up and copied down by half of `spacing` of the vowel's height each. The
    stems are the tallest run of columns right of the vowel's middle and the tallest left of that."""
    box = ink_box(ink)
    if box is None:
        return ink
    top, left, bottom, right = box.astype(int)
    columns = (ink[top:bottom, left:right] >= 128).sum(axis=0)
    middle = len(columns) // 2
    if middle < 1 or not columns[middle:].any():
        return ink
    stem = _stem_run(columns, middle + int(np.flatnonzero(columns[middle:] >= STEM_PEAK * columns[middle:].max())[-1]))
    first = _stem_run(columns, int(np.argmax(columns[:stem[0]]))) if stem[0] > 0 else (0, 0)
    cut = slice(left + first[1], left + stem[0]) if between else slice(left, left + first[0])
    part = ink[:, cut]
    if part.shape[1] < 2:
        return ink
    # The tick runs across the part; the edge of a stem beside it (a serif stem widens at its ends) does not.
    inked = (part >= 128).sum(axis=1)
    rows = mask_runs(inked >= TICK_ACROSS * part.shape[1])
    if not rows:
        return ink
    t0, t1 = max(rows, key=lambda run: part[run[0]:run[1]].sum())
    while t0 > 0 and inked[t0 - 1] >= TICK_EDGE * part.shape[1]:
        t0 -= 1
    while t1 < len(inked) and inked[t1] >= TICK_EDGE * part.shape[1]:
        t1 += 1
    # and the grey rows of its anti-aliased edge across the part, which would otherwise stay behind as a faint line
    grey = (part > 0).sum(axis=1) >= TICK_ACROSS * part.shape[1]
    while t0 > 0 and grey[t0 - 1]:
        t0 -= 1
    while t1 < len(grey) and grey[t1]:
        t1 += 1
    tick = part[t0:t1].copy()
    out = ink.copy()
    out[t0:t1, cut] = 0
    shift = int(round(spacing * (bottom - top) / 2))
    for start in (t0 - shift, t0 + shift):
        lo, hi = max(start, 0), min(start + len(tick), len(out))
        if lo < hi:
            out[lo:hi, cut] = np.maximum(out[lo:hi, cut], tick[lo - start:hi - start])
    return out


SPECK = 0.03  # share of a jamo's ink below which a separate piece is a neighbour's, cut off with it


def without_specks(ink: np.ndarray, share: float = SPECK) -> np.ndarray:
    """Ink without the separate pieces that hold less than `share` of it."""
    pieces, count = ndimage.label(ink >= 64)
    if count < 2:
        return ink
    mass = ndimage.sum(ink.astype(np.float64), pieces, index=np.arange(1, count + 1))
    kept = np.isin(pieces, np.flatnonzero(mass >= share * mass.sum()) + 1)
    removed = (pieces > 0) & ~kept
    # The anti-aliased edge of a removed piece goes with it.
    edge = ndimage.binary_dilation(removed, iterations=1) & ~kept
    return np.where(edge, 0, ink).astype(np.uint8)


def stroke_width(ink: np.ndarray) -> float:
    """The typical stroke width of some ink, in pixels (from the mean distance to the paper)."""
    mask = ink >= 128
    if not mask.any():
        return 0.0
    return max(4 * float(ndimage.distance_transform_edt(mask)[mask].mean()) - 2, 1.0)


def fit_strokes(ink: np.ndarray, own: np.ndarray, target: np.ndarray, width: float | None = None) -> np.ndarray:
    """Ink moved and scaled from its box `own` into `target`, its strokes kept as thick as they were (`width`,
    measured when not given): a letter squeezed to half a pair keeps the font's weight, as a type designer
    would draw it."""
    width = stroke_width(ink) if width is None else width
    sizes = []
    for axis in (0, 1):
        scale = (target[axis + 2] - target[axis]) / max(own[axis + 2] - own[axis], 1)
        # Along an axis squeezed by `scale`, strokes across it lost (1 - scale) of their width.
        change = (1 - scale) * width if scale < 1 else -min(scale - 1, 0.5) * width
        sizes.append((axis, int(round(abs(change))) + 1, change > 0))
    # The ink lies within its box (and WARP_MARGIN of it, moved): only that part of the canvas, with room for the
    # strokes to grow and blank paper around, is drawn and thickened.
    moved = warp_box(ink, own, target, min_side=2, margin=WARP_MARGIN)
    pad = (WARP_MARGIN or moved.shape[0]) + max(size for _, size, _ in sizes) + 1  # no margin: the whole canvas
    top, left, bottom, right = box_window(target, pad, moved.shape)
    part = moved[top:bottom, left:right]
    for axis, size, thicker in sizes:
        if size > 1:
            grow = ndimage.grey_dilation if thicker else ndimage.grey_erosion
            part = grow(part, size=(size, 1) if axis == 0 else (1, size))
    moved[top:bottom, left:right] = part
    return moved


def _box_between(own: np.ndarray, have: np.ndarray | None, want: np.ndarray | None) -> np.ndarray | None:
    """Where a jamo's ink box `own` goes as its role's box changes from one context's to another's (None: a
    context box is unknown)."""
    if have is None or want is None:
        return None
    have_len, want_len = have[2:] - have[:2], want[2:] - want[:2]
    # A context box of a lone stroke says nothing of size; a big change of size is a context measured on too few.
    scale = np.where((have_len > 8) & (want_len > 8), np.clip(want_len / np.maximum(have_len, 1e-6), 0.6, 1.6), 1.0)
    return _map_box(own, have, want, scale)  # the jamo keeps its place relative to the context box


def downsize(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 glyphs brought down to `size` px by area averaging (COMPOSE_SIZE must be a multiple)."""
    import torch

    k = images.shape[-1] // size
    if k == 1:
        return images
    # torch's pooling: the float32 means numpy's mean gave (sums of whole numbers, divided by k * k), 4x faster
    flat = torch.from_numpy(images.astype(np.float32).reshape(-1, 1, *images.shape[-2:]))
    pooled = torch.nn.functional.avg_pool2d(flat, k)
    return (pooled + 0.5).to(torch.uint8).numpy().reshape(images.shape[:-2] + (size, size))


# ---------------------------------------------------------------------------------------------
# The inventory in a style folder: what `learn` measures once and `generate` composes from.

INVENTORY_FILE = "jamo_inventory.json"
LABELS_FILE = "jamo_labels.safetensors"
SOURCE_FILE = "jamo_source"  # + .ttf or .otf: the font's known syllables, so the folder composes on its own
LABELS_SAVED_EVERY = 100  # syllables labelled between saves of an interrupted run's labels


@dataclass
class Composer:
    """Everything needed to compose syllables in one font: its labelled jamo, the inventory, the context
    boxes, and the sources already chosen (learn plans the syllables the font lacks)."""

    font: FontJamo
    inventory: Inventory
    boxes: ContextBoxes
    planned: dict[int, list[JamoSource]] = field(default_factory=dict)
    move_above: float = MOVE_ABOVE
    placement: ReferencePlacement | None = None
    # Planned syllables learn's recognizer still read as another: {intended: what it read (None: not recorded)}.
    misread: dict[int, int | None] = field(default_factory=dict)

    def sources(self, codepoint: int) -> list[JamoSource] | None:
        """The jamo sources of a syllable (None: the font lacks one of its jamo)."""
        if codepoint in self.planned:
            return self.planned[codepoint]
        return self.inventory.sources(codepoint)

    def compose(self, codepoint: int, sources: list[JamoSource] | None = None) -> np.ndarray:
        """One syllable at COMPOSE_SIZE (uint8 ink); the sources must exist."""
        return compose_syllable(self.font, codepoint, sources or self.sources(codepoint), self.boxes, self.move_above,
                                self.placement)

    def compose_glyph(self, codepoint: int,
                      sources: list[JamoSource] | None = None) -> tuple[np.ndarray, ComposedOutline | None]:
        """One syllable at COMPOSE_SIZE and as the font's own contours where its jamo have them (see
        `compose_glyph`)."""
        return compose_glyph(self.font, codepoint, sources or self.sources(codepoint), self.boxes, self.move_above,
                             self.placement)

    def composed_from_others(self, codepoints: list[int]) -> dict[int, np.ndarray]:
        """Known syllables composed as if the font lacked them, from its other syllables only (uint8 ink at
        COMPOSE_SIZE): what composition would draw, to be scored against the font's own drawing. Syllables
        the others cannot compose are left out."""
        rest = Inventory.from_known(sorted(set(self.inventory.known) - set(codepoints)), self.inventory.variants,
                                    self.inventory.damaged)
        composed = {}
        for codepoint in codepoints:
            sources = rest.sources(codepoint)
            if sources is not None:
                composed[codepoint] = compose_syllable(self.font, codepoint, sources, self.boxes, self.move_above,
                                                       self.placement)
        return composed

    def choose_moves(self, count: int = MOVE_CHECK_SYLLABLES) -> dict:
        """How jamo taken from other syllables are placed in this font: as the closest reference fonts place
        them (`ReferencePlacement`), or moved between context boxes from some context distance on
        (MOVE_CHOICES, never included). Up to `count` of its known syllables are composed from the others
        each way and scored against themselves (IoU at 128 px); the best is kept. Returns the scores."""
        from fontgen.render import similarity

        # Each held-back syllable is composed as a missing one is: a font that lacks a syllable mostly lacks its
        # near twins too, while a known syllable has twins sharing two of its jamo, whose jamo sit where its
        # own do and need no move. Composed from those, the held-back syllables favoured context boxes on
        # fonts where reference placement was better on the missing syllables (the serif with 2,350 known:
        # 0.837 against 0.791 IoU); composed from syllables sharing at most one jamo, they agree with them.
        known = self.inventory.known
        held, planned = [], {}
        for codepoint in known[:: max(1, len(known) // count)][:count]:
            target = glyph_data.decompose(codepoint)
            rest = Inventory.from_known([k for k in known if _shared_jamo(target, glyph_data.decompose(k)) < 2],
                                        self.inventory.variants, self.inventory.damaged)
            sources = rest.sources(codepoint)
            if sources is not None:
                held.append(codepoint)
                planned[codepoint] = sources
        if not held:
            return {}
        real = downsize(np.stack([self.font.image(c) for c in held]), 128)

        def score(move_above: float, placement: ReferencePlacement | None) -> float:
            drawn = np.stack([compose_syllable(self.font, c, planned[c], self.boxes, move_above, placement)
                              for c in held])
            return round(similarity(real, downsize(drawn, 128))["iou"], 4)

        self.placement = None
        scores = {move_above: score(move_above, None) for move_above in MOVE_CHOICES}
        # Ties go to moving less: the drawing as the font has it.
        self.move_above = max(MOVE_CHOICES, key=lambda m: (scores[m], m))
        found = {"held_back": len(held),
                 "iou_moving_above": {("never" if m == NEVER_MOVE else str(m)): v for m, v in scores.items()}}
        references = self.font.closest_references
        if references:
            placement = ReferencePlacement(references)
            found["iou_reference_placement"] = score(self.move_above, placement)
            if found["iou_reference_placement"] > scores[self.move_above]:
                self.placement = placement
        if self.placement is not None:
            self.placement.correction, found["correction"] = self._choose_correction(
                held, score, found["iou_reference_placement"])
        found["move_above"] = self.move_above
        found["placement"] = "references" if self.placement is not None else "context boxes"
        return found

    def _choose_correction(self, held: list[int], score,
                           uncorrected: float) -> tuple[PlacementCorrection | None, dict]:
        """Of none and PLACEMENT_CORRECTIONS (simplest first), the correction of the reference placement that
        composes the held-back syllables best by CORRECTION_MARGIN over the simpler ones, each fitted on the font's
        other labelled syllables; refitted on all of them. `uncorrected`: the held-back syllables' IoU without."""
        labelled = sorted(set(self.inventory.known) & set(self.font.segmented))
        rest = placement_pairs(self.font, sorted(set(labelled) - set(held)), self.placement)  # one set, every trial
        found, best, best_score = {}, None, uncorrected
        for terms, strength in PLACEMENT_CORRECTIONS:
            trial = ReferencePlacement(self.placement.references, fit_placement_correction(rest, terms, strength))
            found["+".join(terms)] = trial_score = score(self.move_above, trial)
            if trial_score >= best_score + CORRECTION_MARGIN:
                best, best_score = (terms, strength), trial_score
        found["chosen"] = "none" if best is None else "+".join(best[0])
        if best is None:
            return None, found
        return fit_placement_correction(placement_pairs(self.font, labelled, self.placement), *best), found


def _shared_jamo(a: glyph_data.Jamo, b: glyph_data.Jamo) -> int:
    """How many of their initial, medial and final two syllables share (a missing final counts)."""
    return int(a.initial == b.initial) + int(a.medial == b.medial) + int(a.final == b.final)


def composer_for_font(path: str | Path, face: int, known: list[int], variants: VariantTable | None,
                      frame: EmFrame | None = None) -> Composer:
    """A composer over a font's known syllables (labels made on demand)."""
    font = FontJamo(path, face, frame=frame)
    inventory = Inventory.from_known(known, fitted_variants(variants, font))
    return Composer(font, inventory, ContextBoxes(font, sorted(known)))


def fitted_variants(variants: VariantTable | None, font: FontJamo) -> VariantTable | None:
    """The corpus variant table weighted towards the foundries whose scheme the font follows, when the font
    stores syllables as composites; as it is otherwise."""
    if variants is None or len(font.composites) < 2:
        return variants
    return variants.fitted_to(VariantTable.ids_of(font.composites))


def _pack_labels(labels: np.ndarray) -> np.ndarray:
    return np.packbits(np.stack([labels & 1, labels >> 1]).astype(bool), axis=-1)


def _unpack_labels(packed: np.ndarray, size: int) -> np.ndarray:
    bits = np.unpackbits(packed, axis=-1)[..., :size]
    return (bits[0] | (bits[1] << 1)).astype(np.uint8)


def _save_labels(labels: dict[int, np.ndarray], path: Path, source_sha256: str) -> None:
    from safetensors.numpy import save_file

    tensors = {f"U+{c:04X}": _pack_labels(v) for c, v in sorted(labels.items())} or {"none": np.zeros(1, np.uint8)}
    with atomic_path(path) as partial:
        save_file(tensors, str(partial), metadata={"source_sha256": source_sha256, "size": str(SEGMENT_SIZE),
                                                   "labels_version": str(LABELS_VERSION)})


def _load_labels(path: Path, source_sha256: str, any_version: bool = False) -> dict[int, np.ndarray]:
    """The labels saved at `path` for this font file (none where they are another file's, or another version's
    of the segmentation unless `any_version`: a style folder's own labels are what its plans were made with)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:
            metadata = handle.metadata() or {}
            if (metadata.get("source_sha256") != source_sha256 or metadata.get("size") != str(SEGMENT_SIZE)
                    or (metadata.get("labels_version") != str(LABELS_VERSION) and not any_version)):
                return {}
            return {int(k[2:], 16): _unpack_labels(handle.get_tensor(k), SEGMENT_SIZE)
                    for k in handle.keys() if k.startswith("U+")}
    except Exception:  # a damaged or foreign file is made again
        return {}


LABELS_VERSION = 3  # of the segmentation: labels (and inventories) of another version are made again


def _labels_cache_path(cache_dir: Path, source_sha256: str) -> Path:
    """Where the labels of one font file are kept between style folders."""
    return cache_dir / "jamo-labels" / f"{source_sha256[:32]}-v{LABELS_VERSION}-{SEGMENT_SIZE}.safetensors"


def _context_key(context: tuple) -> str:
    return ",".join(str(int(x)) for x in context)


def _context_from_key(key: str) -> tuple:
    values = [int(x) for x in key.split(",")]
    return (values[0], values[1]) if values[0] == FINAL else (values[0], values[1], bool(values[2]))


def write_inventory(font: str | Path, face: int, folder: str | Path, known: list[int], source_sha256: str,
                    variants: VariantTable | None, progress: bool = True, cache_dir: Path | None = None,
                    check_reading: bool = True) -> dict:
    """Label the jamo of the known syllables the missing ones are composed from and write the inventory
    into a style folder (jamo_inventory.json, jamo_labels.safetensors, the known syllables' font);
    returns its summary. Interrupted, it keeps the labels made so far for the next run; with `cache_dir`,
    the labels of the same font file learned before (into any folder) are reused and kept there. With
    `check_reading`, every planned syllable is composed and read, and planned again where it misreads
    or is unsure (`replan_misread`; a minute or two with 2,350 known)."""
    from fontgen.fonts import subset_font
    from fontgen.readability import recognizer_sha256

    folder = Path(folder)
    # The known syllables' font first: a font that cannot be rewritten is refused before any labelling.
    is_cff = "CFF " in open_font(font, face, lazy=True)
    source = folder / f"{SOURCE_FILE}.{'otf' if is_cff else 'ttf'}"
    subset_font(Path(font), face, known, source)  # written whole or not at all
    composer = composer_for_font(font, face, known, variants)
    labels_path = folder / LABELS_FILE
    partial_labels = labels_path.with_name(labels_path.name + ".partial-run")
    cached_labels = None if cache_dir is None else _labels_cache_path(Path(cache_dir), source_sha256)
    reused = {} if cached_labels is None else _load_labels(cached_labels, source_sha256)
    resumed = _load_labels(partial_labels, source_sha256)  # an interrupted run's labels
    composer.font.segmented.update(reused)
    composer.font.segmented.update(resumed)
    have = set(known)
    missing = [c for c in glyph_data.all_syllables() if c not in have]
    plan = composer.inventory.coverage(missing)
    uncovered = {c: composer.inventory.missing_jamo(c) for c in missing if c not in plan}
    contexts, built, work = _labelling_work(composer, plan)
    _label(composer.font, work, partial_labels, source_sha256, progress)
    if cached_labels is not None:  # the registration's labels: the recut below depends on which syllables were cut
        cached_labels.parent.mkdir(parents=True, exist_ok=True)
        _save_labels(dict(composer.font.segmented), cached_labels, source_sha256)
    recut = composer.font.split_shared_strokes(work)
    for _ in range(DAMAGE_ROUNDS):  # drawings whose cut lost a stroke give way to other donors, labelled in turn
        damaged = composer.inventory.damaged | damaged_drawings(composer.font, work)
        if damaged == composer.inventory.damaged:
            break
        composer.inventory = Inventory.from_known(known, composer.inventory.variants, damaged)
        # Only a syllable that took a damaged drawing (as a donor or as a built jamo's layout) can change.
        plan.update(composer.inventory.coverage([c for c, sources in plan.items() if any(
            (s.donor, s.ink_role) in damaged or (s.layout, s.role) in damaged for s in sources)]))
        contexts, built, replanned = _labelling_work(composer, plan)
        new = sorted(set(replanned) - set(work))
        _label(composer.font, new, partial_labels, source_sha256, progress)
        recut += composer.font.split_shared_strokes(new)
        work = sorted(set(work) | set(new))
    moves = composer.choose_moves()
    reader = font_reader(composer.font, known) if check_reading else None
    readability = {"checked": 0} if reader is None else replan_misread(composer, plan, reader, partial_labels,
                                                                        source_sha256, progress)
    recut += readability.pop("recut", 0)
    contexts = sorted(set(contexts) | set(composer.boxes.measured))
    boxes = {_context_key(ctx): (None if (b := composer.boxes.box(ctx)) is None else [round(float(x), 2) for x in b])
             for ctx in contexts}
    work = sorted(set(work) | set(composer.font.segmented))  # choose_moves labelled a few more
    _save_labels({c: composer.font.labels(c) for c in work}, labels_path, source_sha256)
    partial_labels.unlink(missing_ok=True)
    exact = sum(1 for c in work if c in composer.font.composites)
    letters = (glyph_data.INITIALS, glyph_data.MEDIALS, glyph_data.FINALS)
    summary = {
        "composable": len(plan), "model": len(uncovered), "labelled": len(work), "labels_resumed": len(resumed),
        "labels_reused": len(set(reused) - set(resumed)),
        "labels_from_composites": exact, "labels_registered": len(work) - exact,
        "shared_strokes_recut": recut, "damaged_drawings": len(composer.inventory.damaged),
        "same_context": sum(1 for sources in plan.values() if all(s.distance == 0 for s in sources)),
        "built_jamo": len({c for c, _ in built}),
        "moves": moves, "readability": readability,
    }
    inventory = {
        "fontgen_inventory": 1, "source_sha256": source_sha256, "source_file": source.name,
        "recognizer_sha256": recognizer_sha256(),  # its readings chose the re-plans and the flags
        "replan_rules": REPLAN_RULES, "labels_version": LABELS_VERSION,
        "frame": {k: getattr(composer.font.frame, k) for k in ("units_per_em", "left", "bottom", "size", "advance")},
        "summary": summary,
        "jamo": {ROLE_NAMES[role]: {letters[role - 1][value]: donors for (r, value), donors in
                                    sorted(composer.inventory.by_jamo.items()) if r == role}
                 for role in (INITIAL, MEDIAL, FINAL)},
        "boxes": boxes, "move_above": composer.move_above,
        "damaged_drawings": sorted([c, role] for c, role in composer.inventory.damaged),
        "placement_references": None if composer.placement is None else composer.placement.references,
        "placement_correction": (None if composer.placement is None or composer.placement.correction is None
                                 else composer.placement.correction.to_json()),
        "plan": {f"U+{c:04X}": [s.to_list() for s in sources]
                 for c, sources in plan.items()},
        "uncovered": {f"U+{c:04X}": why for c, why in uncovered.items()},
    }
    write_json_atomic(folder / INVENTORY_FILE, inventory)
    return summary


def _labelling_work(composer: Composer, plan: dict) -> tuple[list, list, list[int]]:
    """For a plan of the missing syllables: the contexts whose boxes a moved or built jamo needs, the built jamo,
    and the syllables to label (the donors and the samples of those contexts)."""
    # The box of a moved jamo's contexts is measured on the font's own syllables.
    contexts = sorted({ctx for c, sources in plan.items() for pair in contexts_to_move(c, sources) for ctx in pair})
    built = [(c, s) for c, sources in plan.items() for s in sources if s.built]
    contexts = sorted(set(contexts) | {box_context(s.role, glyph_data.decompose(c)) for c, s in built
                                       if s.layout is None})
    donors = {s.donor for sources in plan.values() for s in sources} | {s.layout for _, s in built if s.layout}
    # A built pair may go into the median box of the font's nearest pairs (`ContextBoxes.pair_box`).
    pairs = {(c, s.role) for c, s in built if s.part != WHOLE}
    donors |= {d for c, role in pairs for d in composer.boxes.pair_samples(role, c)}
    work = sorted(donors.union(*(composer.boxes.samples(context) for context in contexts)))
    return contexts, built, work


# A drawn jamo whose labelled ink is under DAMAGED_AREA of the font's usual drawing of it (the median over its
# labelled syllables, DAMAGE_MIN_DRAWINGS at least), or a side of whose box is under DAMAGED_SIDE of the usual,
# lost a stroke to another jamo in the cut (a brush font's 값: ㅏ's stem went to ㄱ, leaving ㅏ its tick alone).
DAMAGED_AREA = 0.4
DAMAGED_SIDE = 0.5
DAMAGE_MIN_DRAWINGS = 5
DAMAGE_ROUNDS = 3  # re-plans after the damaged drawings are set aside (a new donor may be damaged too)


def damaged_drawings(font: FontJamo, codepoints: list[int]) -> set[tuple[int, int]]:
    """(syllable, role) of the drawn (not composite) syllables among `codepoints` whose jamo in that role lost
    a stroke in the cut, by the size of its labelled ink against the font's usual drawing of that jamo there."""
    sizes: dict[tuple[int, int], list[tuple[int, np.ndarray]]] = {}
    for codepoint in codepoints:
        labels, jamo = font.labels(codepoint), glyph_data.decompose(codepoint)
        for role in roles_of(codepoint):
            mask = labels == role
            rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
            size = (mask.sum(), np.ptp(rows) + 1, np.ptp(columns) + 1) if len(rows) else (0, 0, 0)
            sizes.setdefault((role, jamo_value(role, jamo)), []).append((codepoint, np.array(size, dtype=float)))
    damaged = set()
    for (role, _), drawings in sizes.items():
        if len(drawings) < DAMAGE_MIN_DRAWINGS:
            continue
        usual = np.maximum(np.median([size for _, size in drawings], axis=0), 1)
        for codepoint, size in drawings:
            share = size / usual
            if codepoint not in font.composites and (share[0] < DAMAGED_AREA or share[1:].min() < DAMAGED_SIDE):
                damaged.add((codepoint, role))
    return damaged


def _label(font: FontJamo, codepoints: list[int], partial_labels: Path, source_sha256: str, progress: bool) -> None:
    """Label the jamo of these syllables, saving the labels made so far every LABELS_SAVED_EVERY syllables and
    on Ctrl-C (a killed run loses at most that many)."""
    from tqdm import tqdm

    bar = tqdm(total=len(codepoints), desc="jamo", unit="syllable", disable=not progress)
    try:
        for i, codepoint in enumerate(codepoints):
            font.labels(codepoint)
            bar.update(1)
            if i % LABELS_SAVED_EVERY == LABELS_SAVED_EVERY - 1:
                _save_labels(font.segmented, partial_labels, source_sha256)
    except KeyboardInterrupt:
        _save_labels(font.segmented, partial_labels, source_sha256)
        raise
    finally:
        bar.close()


# A font that joins two jamo into one stroke (the ticks of ㅕ and ㅖ to the initial) can lose a tick to the initial
# in the cut, and a syllable composed from that drawing reads as another (쎳 as 썻, 녢 with ㅔ). The shipped jamo
# recognizer, adapted to the font on its known syllables, reads every composed syllable; one it misreads, or reads
# right but unsure, is composed again from other donors (`alternative_plans`) until one reads as intended surely
# enough, and the best read is kept (where none reads right, the one it comes closest to reading right with).
# With fewer known syllables than this the adapted recognizer does not read the style well enough.
READ_CHECK_MIN_KNOWN = 200
READ_BATCH = 256
# Donors tried in turn for each jamo the recognizer read wrong. Judged by another adaptation of the recognizer
# (another seed), on 1,500 planned syllables of NanumBrush with 256 known: 0.408 read as intended as planned,
# 0.521 with the next donor of each role, 0.568 with up to three of each misread jamo's (four: 0.572); IoU against
# the real glyphs the same (0.248).
REPLAN_DEPTH = 3
# A syllable read as intended with less than this probability is composed again too, and a misread one's search
# goes on until a plan reads right with at least this much (0: only misread ones, until one reads right); then two
# jamo's next donors at once. Judged as above, 1,500 planned syllables with 256 known, read as intended by the
# other adaptation: NanumBarunGothicBold 0.933 (misread only) -> 0.939 (0.8) -> 0.944 (0.95) -> 0.949 (0.95 and
# pairs), NanumBrush 0.588 -> 0.601 -> 0.605 -> 0.622; IoU 0.763 throughout, and 0.247 -> 0.246.
READ_SURE = 0.95
REPLAN_PAIRS = True
# How missing syllables are planned and misread ones composed again, numbered: an inventory made by other rules is
# made again by learn (4: a final built from an initial letter takes that letter's drawing above ㅡ; 5: a built
# jamo's letters are taken from other drawings too; 6: a misread consonant whose drawings are all tried is tried
# built from its letters, and a letter whose drawings in its role are all set aside is taken from the other role;
# 7: a pair built where jamo move between context boxes goes into the median box of the font's nearest pairs;
# 8: a pair built where the references place jamo is split as they split the syllable's own pair, its box taken
# from a pair sharing its letters where one is near).
REPLAN_RULES = 8


def font_reader(font: FontJamo, known: list[int]):
    """The shipped jamo recognizer adapted to the font on its known syllables (None: none shipped, or fewer
    than READ_CHECK_MIN_KNOWN known)."""
    from fontgen.readability import recognizer_for_font

    if len(known) < READ_CHECK_MIN_KNOWN:
        return None
    return recognizer_for_font(font.small.render_many(known), known)


def _read_composed(composer: Composer, recognizer, plans: list[tuple[int, list[JamoSource]]],
                   progress: bool = False, desc: str = "reading composed syllables") -> tuple[list[int], np.ndarray]:
    """What the recognizer reads each (syllable, sources) composed as, and the log-likelihood it gives the
    intended syllable; composed and read in batches."""
    from tqdm import tqdm

    from fontgen.readability import RECOGNIZER_SIZE, read_with_likelihood

    read, likelihood = [], [np.zeros(0)]
    for start in tqdm(range(0, len(plans), READ_BATCH), desc=desc, unit="batch", disable=not progress):
        batch = plans[start:start + READ_BATCH]
        images = downsize(np.stack([composer.compose(c, sources) for c, sources in batch]), RECOGNIZER_SIZE)
        batch_read, batch_likelihood = read_with_likelihood(recognizer, images, [c for c, _ in batch])
        read += batch_read
        likelihood.append(batch_likelihood)
    return read, np.concatenate(likelihood)


def misread_syllables(composer: Composer, plan: dict[int, list[JamoSource]], recognizer,
                      progress: bool = False) -> dict[int, int]:
    """The planned syllables whose composition the recognizer does not read as intended: {intended: read as}."""
    codepoints = sorted(plan)
    read, _ = _read_composed(composer, recognizer, [(c, plan[c]) for c in codepoints], progress)
    return {c: r for c, r in zip(codepoints, read) if r != c}


def misread_roles(codepoint: int, read_as: int) -> list[int]:
    """The roles of a syllable whose jamo another reading of it differs in."""
    intended, read = glyph_data.decompose(codepoint), glyph_data.decompose(read_as)
    return [role for role in roles_of(codepoint) if jamo_value(role, intended) != jamo_value(role, read)]


def alternative_plans(inventory: Inventory, codepoint: int, sources: list[JamoSource], read_as: int | None = None,
                      depth: int = REPLAN_DEPTH, pairs: bool = REPLAN_PAIRS) -> list[list[JamoSource]]:
    """Other ways to compose a syllable the recognizer read as `read_as`, the likeliest to read right first:
    for each jamo it read wrong, its next `depth` donors in turn (each the closest after those set aside), then
    for each other jamo its next donor (a neighbour's stray stroke can make a jamo read as another), then (with
    `pairs`) two jamo's next donors at once, a jamo read wrong among them where there is one. Without a reading,
    the next donor of each jamo. A built jamo's next donor is the next drawing of its letters; a consonant read
    wrong whose every drawing was tried is tried built from its letters too."""
    wrong = [] if read_as is None else misread_roles(codepoint, read_as)
    roles = wrong + [role for role in roles_of(codepoint) if role not in wrong]

    def drawings(plan: list[JamoSource], role: int) -> frozenset:
        return frozenset((s.donor, s.ink_role) for s in plan if s.role == role)

    plans = []
    for role in roles:
        current, avoid, exhausted = sources, frozenset(), False
        for _ in range(depth if role in wrong else 1):
            avoid = avoid | drawings(current, role)
            alternative = inventory.sources(codepoint, avoid) if avoid else None
            if alternative is None or alternative == current or alternative == sources:
                exhausted = True  # every drawing of the jamo tried (or it is built: no other)
                break
            if alternative not in plans:
                plans.append(alternative)
            current = alternative
        if role in wrong and exhausted and not any(s.built for s in sources if s.role == role):
            # The font draws the jamo too few times for one to read right: built from its letters, as if it
            # drew it nowhere (the pen's only ㄿ, in 읊, reads as ㄻ wherever it goes).
            built = inventory.built_sources(role, codepoint, avoid)
            if built:
                plans.append([s for r in roles_of(codepoint)
                              for s in (built if r == role else [s for s in sources if s.role == r])])
    if pairs:
        for first, second in itertools.combinations(roles, 2):
            if wrong and first not in wrong:
                continue
            avoid = drawings(sources, first) | drawings(sources, second)
            alternative = inventory.sources(codepoint, avoid) if avoid else None
            changed = alternative is not None and all(
                drawings(alternative, role) != drawings(sources, role) for role in (first, second))
            if changed and alternative not in plans:
                plans.append(alternative)
    return plans


def replan_misread(composer: Composer, plan: dict[int, list[JamoSource]], recognizer, partial_labels: Path,
                   source_sha256: str, progress: bool = False, sure: float = READ_SURE,
                   pairs: bool = REPLAN_PAIRS) -> dict:
    """Compose the planned syllables again from other donors where `recognizer` misreads them, or reads them
    right but gives the intended syllable less than the probability `sure` (`plan` is changed in place; new
    donors are labelled); returns what was done (`recut`: strokes recut in new donors).
    Each such syllable's alternatives (`alternative_plans`) are read in turn, all syllables' first ones in
    batches, then the second ones of those still unsettled, and so on, until one reads as intended with at least
    `sure`. The best plan read is kept: read as intended before not, then the likelier. A misread syllable no
    plan makes readable keeps the plan the recognizer finds likeliest to be the intended syllable (`likelier`:
    how many of those are not the first plan), flagged with what it reads as."""
    codepoints = sorted(plan)
    read, likelihood = _read_composed(composer, recognizer, [(c, plan[c]) for c in codepoints], progress)
    floor = np.log(sure) if sure > 0 else -np.inf
    # Per syllable to compose again: the best plan read so far ((read as intended, log-likelihood), sources,
    # what it reads as).
    best = {c: ((r == c, score), plan[c], r) for c, r, score in zip(codepoints, read, likelihood)
            if r != c or score < floor}
    misread = [c for c in best if best[c][2] != c]
    alternatives = {c: alternative_plans(composer.inventory, c, plan[c], best[c][2], pairs=pairs) for c in best}
    needed = {x for plans in alternatives.values() for p in plans for s in p for x in (s.donor, s.layout) if x}
    needed |= {d for c, plans in alternatives.items() for role in {s.role for p in plans for s in p
                                                                   if s.built and s.part != WHOLE}
               for d in composer.boxes.pair_samples(role, c)}  # as `_labelling_work` labels them
    new = sorted(needed - set(composer.font.segmented))
    _label(composer.font, new, partial_labels, source_sha256, progress)
    recut = composer.font.split_shared_strokes(new)
    settled = set()
    for turn in range(max(map(len, alternatives.values()), default=0)):
        tried = [(c, plans[turn]) for c, plans in alternatives.items() if c not in settled and turn < len(plans)]
        if not tried:
            break
        read, likelihood = _read_composed(composer, recognizer, tried, progress,
                                          desc=f"composed again ({turn + 1})")
        for (c, sources), r, score in zip(tried, read, likelihood):
            if (r == c, score) > best[c][0]:
                best[c] = ((r == c, score), sources, r)
            if r == c and score >= floor:
                settled.add(c)
    # The misread ones left are the first a designer should look at (or the recognizer misreads the style
    # there), each with what it read: the jamo that differs is the one to look at.
    kept = [c for c in misread if best[c][2] != c]
    unsure = [c for c in best if c not in misread]
    summary = {"checked": len(plan), "misread": len(misread), "replanned": len(misread) - len(kept),
               "likelier": sum(best[c][1] != plan[c] for c in kept),
               "unsure": len(unsure), "surer": sum(best[c][1] != plan[c] for c in unsure),
               "misread_kept": "".join(map(chr, kept)), "misread_as": "".join(chr(best[c][2]) for c in kept),
               "recut": recut}
    plan.update({c: sources for c, (_, sources, _) in best.items()})
    return summary


def has_inventory(folder: str | Path) -> bool:
    """True when a style folder holds a jamo inventory."""
    return (Path(folder) / INVENTORY_FILE).exists()


def load_composer(folder: str | Path, known: list[int], variants: VariantTable | None = None) -> Composer:
    """The composer a style folder's inventory describes."""
    import json

    from fontgen.errors import FontgenError

    folder = Path(folder)
    try:
        inventory = json.loads((folder / INVENTORY_FILE).read_text())
        frame = EmFrame(**inventory["frame"])
        source = folder / inventory["source_file"]
        labels = _load_labels(folder / LABELS_FILE, inventory["source_sha256"], any_version=True)
        font = FontJamo(source, 0, frame=frame, labels=labels)
        boxes = {_context_from_key(k): (None if v is None else np.array(v)) for k, v in inventory["boxes"].items()}
        plan = {int(k[2:], 16): [JamoSource.from_list(values) for values in v]
                for k, v in inventory["plan"].items()}
        damaged = frozenset((int(c), int(role)) for c, role in inventory.get("damaged_drawings", []))
        references = inventory.get("placement_references") or []
        if not isinstance(references, list) or not all(isinstance(name, str) for name in references):
            raise ValueError(f"placement_references is {references!r}, not a list of font names")
        correction = inventory.get("placement_correction")
        correction = None if correction is None else PlacementCorrection.from_json(correction)
        read = inventory.get("summary", {}).get("readability", {})
        kept, read_as = read.get("misread_kept", ""), read.get("misread_as")
        misread = dict(zip(map(ord, kept), map(ord, read_as) if read_as and len(read_as) == len(kept)
                           else [None] * len(kept)))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise FontgenError(f"{folder}: damaged jamo inventory ({type(error).__name__}: {error}); "
                           "run `fontgen learn` again") from None
    if references and (absent := sorted(set(references) - set(available_references()))):
        raise FontgenError(f"{folder}: the style places jamo as the reference fonts {', '.join(absent)} do, and "
                           "they are not installed here; run scripts/setup.sh")
    return Composer(font, Inventory.from_known(known, fitted_variants(variants, font), damaged),
                    ContextBoxes(font, sorted(known), measured=boxes), plan,
                    float(inventory.get("move_above", MOVE_ABOVE)),
                    ReferencePlacement(references, correction) if references else None, misread)


# ---------------------------------------------------------------------------------------------
# Compatibility jamo (U+3131-U+318E): the letters an input method shows while a syllable is typed, and the
# archaic letters KS X 1001 adds.

COMPAT_JAMO = [chr(c) for c in glyph_data.COMPAT_LETTERS]  # the 51 modern letters, then the 42 archaic ones
# Archaic letters drawn as modern letters side by side, as the reference font draws them.
ARCHAIC_CLUSTERS = {"ㅥ": "ㄴㄴ", "ㅦ": "ㄴㄷ", "ㅧ": "ㄴㅅ", "ㅩ": "ㄹㄱㅅ", "ㅪ": "ㄹㄷ", "ㅫ": "ㄹㅂㅅ", "ㅮ": "ㅁㅂ",
                    "ㅯ": "ㅁㅅ", "ㅲ": "ㅂㄱ", "ㅳ": "ㅂㄷ", "ㅴ": "ㅂㅅㄱ", "ㅵ": "ㅂㅅㄷ", "ㅶ": "ㅂㅈ", "ㅷ": "ㅂㅌ",
                    "ㅺ": "ㅅㄱ", "ㅻ": "ㅅㄴ", "ㅼ": "ㅅㄷ", "ㅽ": "ㅅㅂ", "ㅾ": "ㅅㅈ", "ㆀ": "ㅇㅇ", "ㆅ": "ㅎㅎ"}
# The light (kapyeong) letters: a modern letter above a small ㅇ.
LIGHT_LETTERS = {"ㅱ": "ㅁ", "ㅸ": "ㅂ", "ㅹ": "ㅃ", "ㆄ": "ㅍ"}
# The rest (ㅿ, ㆁ, ㆆ and the clusters holding them, the vowel clusters, ㆍ and ㆎ) have shapes of their own that no
# modern letter draws: they are left to the type designer.


def compat_jamo_sources(known: list[int]) -> dict[str, tuple[int, int]]:
    """For each modern compatibility letter, the (known syllable, role) to take it from, best first: a
    consonant as an initial, in a syllable without a final and above ㅡ or another horizontal vowel first (a
    double final such as ㄳ, which never begins a syllable, as a final); a vowel after ㅇ without a final first.
    `compat_jamo_images` takes the cleanest cut, then the largest drawing, among the first few."""
    ranked: dict[str, list[tuple[int, int, int]]] = {}
    for codepoint in known:
        jamo = glyph_data.decompose(codepoint)
        below = 3 if jamo.final else 0  # a final squeezes the jamo above it
        # Above a horizontal vowel an initial rarely touches it: its cut is clean.
        vowel = glyph_data.MEDIALS[jamo.medial]
        rank = 0 if vowel == "ㅡ" else 1 if vowel in glyph_data.HORIZONTAL_MEDIALS else 2
        ranked.setdefault(glyph_data.INITIALS[jamo.initial], []).append((below + rank, codepoint, INITIAL))
        rank = 0 if jamo.initial == INITIAL_IEUNG else 1
        ranked.setdefault(vowel, []).append((below + rank, codepoint, MEDIAL))
        if jamo.final:  # a consonant that also begins syllables is taken from a final only when it never does
            final = glyph_data.FINALS[jamo.final]
            ranked.setdefault(final, []).append((0 if final not in glyph_data.INITIALS else 9, codepoint, FINAL))
    return {letter: [(c, role) for _, c, role in sorted(found)] for letter, found in ranked.items()}


def _reference_compat_boxes(size: int) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, list[np.ndarray]]]:
    """Noto Sans CJK KR's compatibility letters' ink boxes, its syllables' median ink box, and the boxes of the
    parts of its archaic letters built from modern ones (None where the parts touch)."""
    from fontgen.fonts import reference_source

    source = reference_source()
    renderer = GlyphRenderer(source.path, size, face=source.face)
    images = {letter: renderer.render(ord(letter)) for letter in COMPAT_JAMO}
    boxes = {letter: ink_box(image) for letter, image in images.items()}
    parts = {letter: _parts_apart(images[letter], len(names), axis=1) for letter, names in ARCHAIC_CLUSTERS.items()}
    parts.update({letter: _parts_apart(images[letter], 2, axis=0) for letter in LIGHT_LETTERS})
    syllables = [ink_box(renderer.render(c)) for c in glyph_data.ksx1001_syllables()[::47]]
    return ({k: v for k, v in boxes.items() if v is not None},
            np.median([b for b in syllables if b is not None], 0), parts)


def _parts_apart(image: np.ndarray, count: int, axis: int) -> list[np.ndarray] | None:
    """The ink boxes of `count` parts of a letter set apart along `axis` (1: side by side, 0: one above the
    other), cut in the middle of the widest blank gaps between them; None when the letter has fewer gaps."""
    profile = (image >= 128).any(axis=1 - axis)
    inked = np.flatnonzero(profile)
    if len(inked) == 0:
        return None
    gaps, found = ndimage.label(~profile[inked[0]:inked[-1] + 1])
    if found < count - 1:
        return None
    widest = sorted(ndimage.find_objects(gaps), key=lambda gap: (gap[0].stop - gap[0].start, gap[0].start),
                    reverse=True)  # of equal gaps, the later first
    cuts = sorted(int(inked[0]) + (gap[0].start + gap[0].stop) // 2 for gap in widest[:count - 1])
    boxes = []
    for lo, hi in zip([0, *cuts], [*cuts, image.shape[axis]]):
        part = np.zeros_like(image)
        index = (slice(None), slice(lo, hi)) if axis == 1 else (slice(lo, hi), slice(None))
        part[index] = image[index]
        boxes.append(ink_box(part))
    return None if any(box is None for box in boxes) else boxes


LETTER_CANDIDATES = 6  # a compatibility letter's drawings compared, from the syllables where it is cut cleanest


def compat_jamo_images(composer: Composer, letters: list[str]) -> dict[int, np.ndarray]:
    """The compatibility letters the font's known syllables draw, at COMPOSE_SIZE: each letter's drawing most
    like the others among its first LETTER_CANDIDATES candidates (`compat_jamo_sources`), scaled (keeping its
    proportions) into the box the reference font gives that letter relative to its syllables, mapped onto this
    font's syllables' box. A
    pair no known syllable draws (ㄳ) is built from its two letters side by side; so are the archaic clusters
    (ㅥ, ㅴ), each letter in the box the reference font gives that part, and a light letter (ㅸ) is its letter
    above a small ㅇ. The archaic letters of shapes of their own (ㅿ, ㆁ, ㆍ, ...) are not drawn."""
    known = composer.inventory.known
    candidates = compat_jamo_sources(known)
    reference_boxes, reference_syllable, reference_parts = _reference_compat_boxes(COMPOSE_SIZE)
    own = [ink_box(composer.font.image(c)) for c in known[:: max(1, len(known) // 32)]]
    syllable_box = np.median([b for b in own if b is not None], axis=0)
    scale = (syllable_box[2:] - syllable_box[:2]) / (reference_syllable[2:] - reference_syllable[:2])

    def target_box(letter: str, box: np.ndarray | None = None) -> np.ndarray:
        box = reference_boxes[letter] if box is None else box
        return np.concatenate([syllable_box[:2] + (box[:2] - reference_syllable[:2]) * scale,
                               syllable_box[:2] + (box[2:] - reference_syllable[:2]) * scale])

    def drawn_letter(letter: str) -> np.ndarray | None:
        chosen = candidates.get(letter, [])[:LETTER_CANDIDATES]
        inks = [without_specks(composer.font.jamo_image(c, role)) for c, role in chosen]
        fitted = [_fit_into(ink, box, target_box(letter)) for ink in inks if (box := ink_box(ink)) is not None]
        if not fitted:
            return None
        # Alone, a letter shows any stroke a neighbour lent it, and each drawing had other neighbours: the one
        # most like the others (at 64 px) has the least of theirs.
        small = downsize(np.stack(fitted), 64) >= 128
        overlap = np.array([[(a & b).sum() / max((a | b).sum(), 1) for b in small] for a in small])
        return fitted[int(np.argmax(overlap.sum(axis=1)))]

    def built(letter: str) -> np.ndarray | None:
        if letter in LETTER_PAIRS:
            names, boxes = LETTER_PAIRS[letter], box_halves(target_box(letter))
        elif letter in ARCHAIC_CLUSTERS or letter in LIGHT_LETTERS:
            names = ARCHAIC_CLUSTERS.get(letter) or LIGHT_LETTERS[letter] + "ㅇ"
            if reference_parts[letter] is not None:
                boxes = [target_box(letter, box) for box in reference_parts[letter]]
            elif letter in ARCHAIC_CLUSTERS:  # the reference's letters touch (ㅅ's legs): equal parts
                boxes = box_parts(target_box(letter), len(names))
            else:
                return None
        else:
            return None
        parts = [letter_image(name) for name in names]
        if any(p is None for p in parts):
            return None
        placed = []
        for part, box in zip(parts, boxes):
            own = ink_box(part)
            kept = fit_strokes(part, own, box)
            # A small letter that kept the font's weight may fill its counters (the ㅇ of ㅸ, the two of ㆀ in a
            # heavy pen): then it is drawn smaller, strokes and all.
            if letter not in LETTER_PAIRS and _counters(kept) < _counters(part):
                kept = warp_box(part, own, box, min_side=2)
            placed.append(kept)
        return np.max(placed, axis=0)

    def letter_image(letter: str) -> np.ndarray | None:
        return drawn_letter(letter) if letter in candidates else built(letter)

    out = {}
    for letter in letters:
        if letter in reference_boxes:
            image = letter_image(letter)
            if image is not None:
                out[ord(letter)] = image
    return out


def _counters(ink: np.ndarray) -> int:
    """How many closed counters (paper enclosed by ink, as in ㅇ or ㅁ) a letter has."""
    paper, count = ndimage.label(ink < 128)
    border = set(np.unique(np.concatenate([paper[0], paper[-1], paper[:, 0], paper[:, -1]])))
    return count - len(border - {0})


def _fit_into(ink: np.ndarray, own: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Scale ink uniformly (strokes keep their proportions) to fit inside `target`, centred there."""
    size = own[2:] - own[:2]
    factor = float(np.min((target[2:] - target[:2]) / np.maximum(size, 1)))
    centre = (target[:2] + target[2:]) / 2
    fitted = np.concatenate([centre - size * factor / 2, centre + size * factor / 2])
    return warp_box(ink, own, fitted, min_side=0)
