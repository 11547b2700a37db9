"""Jamo segmentation and composition: exact labels from composite fonts, registration on drawn ones,
missing syllables composed from the font's own jamo, the model where a jamo is missing, resume."""
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.recordingPen import DecomposingRecordingPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from PIL import Image

import glyph_data
from fontgen import compose as compose_module
from fontgen.cli import main
from fontgen.complete import complete
from fontgen.compose import (COMPOSE_SIZE, REFERENCE_SAMPLES, REFERENCES_KEPT, FontJamo, Inventory,
                             PlacementCorrection, ReferencePlacement, composer_for_font, donor_penalties, downsize,
                             fit_placement_correction, load_composer, placement_pairs,
                             write_inventory)
from fontgen.errors import FontgenError
from fontgen.export import export_font, validate_with_ots
from fontgen.fonts import file_sha256, open_font, subset_font
from fontgen.generate import generate
from fontgen import jamo as jamo_module
from fontgen import learn as learn_module
from fontgen import readability as readability_module
from fontgen.jamo import (FINAL, INITIAL, MEDIAL, NO_BOX, REFERENCE_BOX_SIZE, SHIPPED_REFERENCE_BOXES,
                          ComponentRenderer, JamoSegmenter, VariantTable, available_references, build_reference_boxes,
                          composite_jamo, composite_labels, ink_box, jamo_iou, jamo_value, reference_boxes, roles_of,
                          shared_strokes, split_shared_strokes, warp_box)
from fontgen.learn import learn
from fontgen.outlines import GlyphOutline, image_digest
from fontgen.render import GlyphRenderer, ink_iou, similarity
from fontgen.specimen import write_specimen
from tests.conftest import NANUM_GOTHIC, finish_built_font, requires_corpus

pytestmark = requires_corpus
UN_DOTUM = Path("/usr/share/fonts/truetype/unfonts-core/UnDotum.ttf")


def build_composite_font(path: Path, syllables: list[int], source: Path, decompose: bool = False) -> Path:
    """A TrueType font of these syllables stored as the source's composites of jamo glyphs (component
    glyphs copied as outlines), or, with `decompose`, the same syllables drawn as plain outlines."""
    donor = open_font(source)
    cmap, glyph_set, glyf = donor.getBestCmap(), donor.getGlyphSet(), donor["glyf"]
    parts = sorted({c.glyphName for s in syllables for c in glyf[cmap[s]].components})
    names = {s: f"uni{s:04X}" for s in syllables}
    builder = FontBuilder(donor["head"].unitsPerEm, isTTF=True)
    builder.setupGlyphOrder([".notdef", "space", *parts, *names.values()])
    builder.setupCharacterMap({0x20: "space", **names})

    def outline(name: str):
        recording = DecomposingRecordingPen(glyph_set)
        glyph_set[name].draw(recording)
        pen = TTGlyphPen(None)
        recording.replay(pen)
        return pen.glyph()

    glyphs = {".notdef": TTGlyphPen(None).glyph(), "space": TTGlyphPen(None).glyph()}
    metrics = {".notdef": (donor["hmtx"][cmap[0x20]][0], 0), "space": (donor["hmtx"][cmap[0x20]][0], 0)}
    for name in parts:
        glyphs[name], metrics[name] = outline(name), donor["hmtx"][name]
    for codepoint, name in names.items():
        if decompose:
            glyphs[name] = outline(cmap[codepoint])
        else:
            pen = TTGlyphPen(dict.fromkeys(parts))  # the components must name glyphs of the new font
            for component in glyf[cmap[codepoint]].components:
                pen.addComponent(component.glyphName, (1, 0, 0, 1, component.x, component.y))
            glyphs[name] = pen.glyph()
        metrics[name] = donor["hmtx"][cmap[codepoint]]
    return finish_built_font(builder, donor, glyphs, metrics, path, "Composite Test")


# Syllables NanumGothic (a train font) stores as composites: outside KS X 1001, with and without a final.
NANUM_COMPOSITES = [c for c in glyph_data.all_syllables()[7::97] if c not in set(glyph_data.ksx1001_syllables())][:40]


@pytest.fixture(scope="module")
def twin_fonts(tmp_path_factory):
    """The same syllables as composites of jamo glyphs and as plain outlines."""
    folder = tmp_path_factory.mktemp("twins")
    return (build_composite_font(folder / "composite.ttf", NANUM_COMPOSITES, NANUM_GOTHIC),
            build_composite_font(folder / "drawn.ttf", NANUM_COMPOSITES, NANUM_GOTHIC, decompose=True))


def centre_row(labels: np.ndarray, role: int) -> float:
    return float(np.nonzero(labels == role)[0].mean())


def test_a_composite_font_labels_its_jamo_exactly(twin_fonts):
    composite, _ = twin_fonts
    parts = composite_jamo(open_font(composite), NANUM_COMPOSITES)
    assert sorted(parts) == sorted(NANUM_COMPOSITES)
    renderer = ComponentRenderer(composite, 128)
    for codepoint in NANUM_COMPOSITES:
        image, labels = composite_labels(renderer, codepoint, parts[codepoint])
        assert set(np.unique(labels[image >= 64])) == set(roles_of(codepoint))
        assert (labels[image >= 64] > 0).all()
        if glyph_data.decompose(codepoint).final:  # the final sits under the initial
            assert centre_row(labels, FINAL) > centre_row(labels, INITIAL) + 10


def test_component_order_is_read_from_the_font():
    """The Un* fonts store the initial, then the final, then the vowel: roles come from the font, not the order."""
    font = open_font(UN_DOTUM)
    parts = composite_jamo(font, [ord("각"), ord("갂"), ord("낙"), ord("닥"), ord("긱"), ord("가")])
    assert len(parts) == 6
    order = [role for _, role in parts[ord("각")]]
    assert sorted(order) == [INITIAL, MEDIAL, FINAL]
    renderer = ComponentRenderer(UN_DOTUM, 128)
    _, labels = composite_labels(renderer, ord("각"), parts[ord("각")])
    assert centre_row(labels, FINAL) > centre_row(labels, INITIAL) + 10
    assert np.nonzero(labels == MEDIAL)[1].mean() > np.nonzero(labels == INITIAL)[1].mean() + 10  # ㅏ right of ㄱ


def test_a_final_that_could_be_the_vowel_is_read_from_where_it_sits():
    """NanumSquareRound stores 싫 and 닳 as initial, final, vowel, unlike its other syllables, and their
    ㅀ and vowel components are met only in syllables sharing both: the component that sits lowest is the final."""
    font = glyph_data.corpus_font("NanumSquareRoundR")
    codepoints = [ord("싫"), ord("닳"), *glyph_data.ksx1001_syllables()[::7]]
    parts = composite_jamo(open_font(font.path, font.face), codepoints)
    renderer = ComponentRenderer(font.path, 128, face=font.face)
    for syllable in "싫닳":
        _, labels = composite_labels(renderer, ord(syllable), parts[ord(syllable)])
        assert centre_row(labels, FINAL) > centre_row(labels, MEDIAL) + 20
        assert centre_row(labels, FINAL) > centre_row(labels, INITIAL) + 20


def test_components_met_once_take_the_role_the_font_gives_them_elsewhere():
    """With few syllables a component met in one of them fits several roles; the order of the syllables
    that leave no doubt decides, and every component gets the role it has in the whole font."""
    font = open_font(UN_DOTUM)
    few = [int(c) for c in np.random.default_rng(0).choice(glyph_data.ksx1001_syllables(), 60, replace=False)]
    whole = composite_jamo(font, glyph_data.all_syllables())
    role_of = {c.glyphName: role for parts in whole.values() for c, role in parts}
    cut = composite_jamo(font, few)
    assert len(cut) == len(few)
    assert all(role == role_of[c.glyphName] for parts in cut.values() for c, role in parts)


def test_reference_fonts_composites_are_read_once_and_kept(tmp_path, monkeypatch):
    """Every process that labels a drawn font needs the reference fonts' composites (about a second a font to
    read): they are kept in the cache folder, read back the same, and a damaged cache file is read again."""
    monkeypatch.setenv("FONTGEN_CACHE", str(tmp_path))
    jamo_module.reference_composites.cache_clear()
    first = jamo_module.reference_composites("UnDotum")
    [kept] = (tmp_path / "reference-jamo").iterdir()
    jamo_module.reference_composites.cache_clear()
    again = jamo_module.reference_composites("UnDotum")
    fresh = composite_jamo(open_font(UN_DOTUM), glyph_data.all_syllables())
    assert len(first) == len(again) == len(fresh) == 11172
    renderer = ComponentRenderer(UN_DOTUM, 64)
    for codepoint in glyph_data.all_syllables()[::701]:
        assert [role for _, role in again[codepoint]] == [role for _, role in fresh[codepoint]]
        for (component, _), (read, _) in zip(fresh[codepoint], again[codepoint]):
            assert (renderer.render_component(component) == renderer.render_component(read)).all()
    kept.write_bytes(kept.read_bytes()[:1000])  # cut short, as by a kill
    jamo_module.reference_composites.cache_clear()
    assert len(jamo_module.reference_composites("UnDotum")) == 11172
    jamo_module.reference_composites.cache_clear()  # the other tests read the session's cache folder


@pytest.fixture(scope="module")
def registered_twin(twin_fonts):
    """The drawn twin's syllables labelled by registering reference fonts onto them (NanumGothic is not among
    them), at 128 px in the composite twin's frame."""
    composite, drawn = twin_fonts
    images = GlyphRenderer(drawn, 128, frame=ComponentRenderer(composite, 128).frame)
    segmenter = JamoSegmenter(128)
    return {codepoint: segmenter.segment(codepoint, images.render(codepoint)) for codepoint in NANUM_COMPOSITES}


def test_registration_labels_drawn_syllables_like_their_components(twin_fonts, registered_twin):
    """The drawn twin is labelled by registering reference fonts onto it (NanumGothic is not among them)."""
    composite, _ = twin_fonts
    parts = composite_jamo(open_font(composite), NANUM_COMPOSITES)
    exact = ComponentRenderer(composite, 128)
    ious = []
    for codepoint in NANUM_COMPOSITES:
        _, truth = composite_labels(exact, codepoint, parts[codepoint])
        ious.append(jamo_iou(registered_twin[codepoint], truth, roles_of(codepoint)))
    assert np.mean(ious) >= 0.9, np.mean(ious)


# NanumBarunGothicBold joins touching jamo into one shape (the ticks of ㅕ and ㅖ to the initial); it stores its
# syllables outside KS X 1001 as composites, so their components say exactly where each jamo ends.
BARUN_COMPOSITES = [c for c in glyph_data.all_syllables() if c not in set(glyph_data.ksx1001_syllables())][::120]


def test_strokes_two_jamo_share_are_recut_where_the_fonts_own_drawings_of_them_end(monkeypatch):
    """Registered as if drawn, NanumBarunGothicBold's composite syllables are cut closer to their components
    once each jamo's drawings in the syllables where it stands apart recut the strokes it shares (registration
    alone, without its own recut of the stems of ㅗ and ㅜ, which leaves the drawings less to do)."""
    monkeypatch.setattr(jamo_module, "stems_to_medial", lambda labels, codepoint: labels)
    font = glyph_data.corpus_font("NanumBarunGothicBold")
    parts = composite_jamo(open_font(font.path, font.face), BARUN_COMPOSITES)
    renderer, segmenter = ComponentRenderer(font.path, 128, face=font.face), JamoSegmenter(128)
    truth = {c: composite_labels(renderer, c, parts[c])[1] for c in sorted(parts)}
    registered = {c: segmenter.segment(c, renderer.render(c)) for c in truth}
    recut = split_shared_strokes(registered, sorted(registered), closeness=donor_penalties)
    assert recut and all(shared_strokes(registered[c]).any() for c in recut)  # only shared strokes are recut
    before = {c: jamo_iou(registered[c], truth[c], roles_of(c)) for c in recut}
    after = {c: jamo_iou(labels, truth[c], roles_of(c)) for c, labels in recut.items()}
    better, worse = (sum(after[c] > before[c] + 0.01 for c in recut), sum(after[c] < before[c] - 0.01 for c in recut))
    assert better >= max(3 * worse, 10), (better, worse)  # 13 and 2 when written
    everyone = [jamo_iou(recut.get(c, registered[c]), truth[c], roles_of(c)) for c in truth]
    # 0.966 -> 0.974 when written
    assert np.mean(everyone) >= np.mean([jamo_iou(registered[c], truth[c], roles_of(c)) for c in truth]) + 0.004
    for codepoint, labels in recut.items():  # ink stays ink, paper stays paper
        assert ((labels > 0) == (registered[codepoint] > 0)).all()


def stem_syllables(medials: str, with_final: bool) -> list[int]:
    """Every 97th syllable outside KS X 1001 (composites in the Nanum fonts: their components say where a stem
    ends) with one of these medials (and a final)."""
    return [c for c in glyph_data.all_syllables() if c not in set(glyph_data.ksx1001_syllables())
            and glyph_data.MEDIALS[glyph_data.decompose(c).medial] in medials
            and (glyph_data.decompose(c).final or not with_final)][::97]


@pytest.mark.parametrize("name, medials, joined", [("NanumBarunGothicBold", "ㅗㅛㅘㅙㅚ", INITIAL),
                                                   ("NanumPen", "ㅜㅠㅝㅞㅟ", FINAL)])
def test_the_stem_a_face_joins_to_the_initial_or_final_is_the_medials(monkeypatch, name, medials, joined):
    """Registered as if drawn (against the references learn would keep for the font), the stem of ㅗ that
    NanumBarunGothicBold joins to the initial (of ㅜ that NanumPen joins to the final) was cut somewhere along
    it: an initial cut from 되 brought the stem's top to 듸, read as 되. The stem now goes to the medial up to
    where the stroke widens into the other jamo, closer to how the font's components cut it."""
    font = glyph_data.corpus_font(name)
    parts = composite_jamo(open_font(font.path, font.face), stem_syllables(medials, joined == FINAL))
    renderer, segmenter = ComponentRenderer(font.path, 128, face=font.face), JamoSegmenter(128)
    ksx = glyph_data.ksx1001_syllables()
    samples = ksx[::len(ksx) // REFERENCE_SAMPLES][:REFERENCE_SAMPLES]
    segmenter.keep_closest_references([(c, renderer.render(c)) for c in samples], REFERENCES_KEPT)
    truth = {c: composite_labels(renderer, c, parts[c]) for c in sorted(parts)}
    after = {c: segmenter.segment(c, image) for c, (image, _) in truth.items()}
    monkeypatch.setattr(jamo_module, "stems_to_medial", lambda labels, codepoint: labels)
    before = {c: segmenter.segment(c, image) for c, (image, _) in truth.items()}

    def stem_lost(labels, codepoint):  # the medial's ink given to the other jamo, in pixels
        return int(((truth[codepoint][1] == MEDIAL) & (labels == joined)).sum())

    def iou(labelled):
        return np.mean([jamo_iou(labelled[c], truth[c][1], roles_of(c)) for c in truth])

    lost = [c for c in truth if stem_lost(before[c], c) >= 10]
    halved = [c for c in lost if stem_lost(after[c], c) <= stem_lost(before[c], c) / 2]
    # When written: the bold sans 9 of 14 (per-jamo IoU 0.953 -> 0.957), the pen 2 of 8 (0.952 -> 0.962).
    assert len(halved) >= (7 if joined == INITIAL else 2), [(chr(c), stem_lost(before[c], c),
                                                             stem_lost(after[c], c)) for c in lost]
    assert iou(after) >= iou(before) + 0.004, (iou(before), iou(after))
    for codepoint in truth:  # only ink moves, and only from the other jamo to the medial
        moved = after[codepoint] != before[codepoint]
        assert (before[codepoint][moved] == joined).all() and (after[codepoint][moved] == MEDIAL).all()


@pytest.fixture(scope="module")
def cut_undotum(tmp_path_factory):
    """UnDotum cut down to 1,000 syllables, a composer over them, and 30 syllables it lost."""
    rng = np.random.default_rng(0)
    known = sorted(int(c) for c in rng.choice(glyph_data.all_syllables(), 1000, replace=False))
    lost = [c for c in glyph_data.all_syllables()[5::277] if c not in set(known)][:30]
    cut = subset_font(UN_DOTUM, 0, known, tmp_path_factory.mktemp("undotum") / "UnDotum-cut.ttf")
    return cut, composer_for_font(cut, 0, known, VariantTable.shipped()), lost


def test_missing_syllables_are_composed_as_the_foundry_did(cut_undotum):
    """UnDotum cut down to 1,000 syllables: the syllables it lost are composed back from its own jamo."""
    _, composer, lost = cut_undotum
    composed = np.stack([composer.compose(c) for c in lost])
    real = GlyphRenderer(UN_DOTUM, COMPOSE_SIZE, frame=composer.font.frame).render_many(lost)
    assert similarity(downsize(real, 128), downsize(composed, 128))["iou"] >= 0.9


def test_composed_outlines_are_the_fonts_own_contours_moved(cut_undotum, tmp_path):
    """A composed syllable's outline is its donors' jamo contours, point for point, moved as their ink is: in the
    exported font it draws what the composed image shows."""
    cut, composer, lost = cut_undotum
    composer = dataclasses.replace(composer, move_above=0.0)  # every jamo from another context moves
    syllables = [c for c in lost if not any(s.built for s in composer.sources(c))][:12]
    outlines, moved = {}, 0
    for codepoint in syllables:
        sources = composer.sources(codepoint)
        image, composed = composer.compose_glyph(codepoint, sources)
        assert np.array_equal(image, composer.compose(codepoint, sources))  # the same ink as composed alone
        assert composed.traced is None  # every jamo of a composite font has contours of its own
        outline = composed.contours
        donors = [contour for s in sources for contour in composer.font.jamo_outline(s.donor, s.ink_role)]
        assert [[op for op, _ in c] for c in outline] == [[op for op, _ in c] for c in donors]
        moved += any(contour != own for contour, own in zip(outline, donors))
        outlines[codepoint] = outline
    assert moved >= 3  # jamo taken from syllables of another shape were moved, points and all
    images = {c: composer.compose(c) for c in syllables}
    glyphs = {c: GlyphOutline(o, composer.font.frame, "ttf", image_digest(images[c])) for c, o in outlines.items()}
    report = export_font(cut, images, tmp_path / "out.ttf", outlines=glyphs, progress=False)
    assert report.from_outlines == len(syllables)
    drawn = GlyphRenderer(tmp_path / "out.ttf", COMPOSE_SIZE, frame=composer.font.frame).render_many(syllables)
    ious = [ink_iou(a, images[c]) for a, c in zip(drawn, syllables)]
    assert np.mean(ious) >= 0.99 and min(ious) >= 0.95  # the image's bilinear warp softens a shrunk jamo a little


def test_drawn_syllables_give_each_jamo_the_contours_its_component_drew(twin_fonts, registered_twin):
    """Contours of a drawn syllable go to the jamo whose ink they run along: the same ones as its composite twin's
    components draw, never another jamo's; a contour the labels leave in doubt gives no outline (it is traced)."""
    composite, drawn = FontJamo(twin_fonts[0]), FontJamo(twin_fonts[1], labels=registered_twin)
    assert drawn.frame == composite.frame  # the labels were made in this frame
    same = doubt = total = 0
    for codepoint in NANUM_COMPOSITES:
        for role in roles_of(codepoint):
            exact, assigned = composite.jamo_outline(codepoint, role), drawn.jamo_outline(codepoint, role)
            total += 1
            doubt += assigned is None
            same += assigned is not None and sorted(map(str, assigned)) == sorted(map(str, exact))
    assert same + doubt == total and same >= 0.75 * total


def test_reference_placement_moves_a_jamo_as_its_reference_does():
    """Placed by one reference font, the jamo of a font drawn like it (here smaller and shifted) lands where
    that font, smaller and shifted, draws it."""
    k = COMPOSE_SIZE / REFERENCE_BOX_SIZE
    placement = ReferencePlacement(["UnDotum"])
    with np.load(glyph_data.DATA_DIR / SHIPPED_REFERENCE_BOXES) as shipped:
        assert set(available_references()) <= set(shipped.files)
    boxes = reference_boxes("UnDotum").astype(np.float64)
    assert (boxes == build_reference_boxes("UnDotum")).all()  # the shipped table is the installed font's
    checked = 0
    for donor, target in [("가", "갈"), ("고", "곰"), ("각", "곽"), ("한", "흰"), ("빠", "쀼"), ("닭", "됣")]:
        donor, target = ord(donor), ord(target)
        for role in roles_of(target):
            have, want = (boxes[c - glyph_data.SYLLABLE_FIRST, role - 1] for c in (donor, target))
            if have[0] == NO_BOX or want[0] == NO_BOX:
                continue
            sides = np.concatenate([have[2:] - have[:2], want[2:] - want[:2]]) * k
            ratio = (want[2:] - want[:2]) / (have[2:] - have[:2])
            if (sides <= 8).any() or (ratio < 0.6).any() or (ratio > 1.6).any():
                continue
            scale, shift = np.array([0.7, 0.8, 0.7, 0.8]), np.array([10.0, -5.0, 10.0, -5.0])
            assert np.allclose(placement.box(role, donor, target, have * k * scale + shift), want * k * scale + shift)
            checked += 1
    assert checked >= 8


def test_moved_jamo_are_placed_as_other_reference_fonts_place_them(tmp_path, monkeypatch):
    """UnDotum cut to 256 syllables: jamo moved into contexts it does not draw, placed as three other
    composite fonts (other designs of the same foundry and Guseul) place them, come out closer to UnDotum's
    own syllables than moved between the font's own context boxes; warping only around the target box
    draws the same pixels as warping the whole canvas."""
    rng = np.random.default_rng(0)
    known = sorted(int(c) for c in rng.choice(glyph_data.ksx1001_syllables(), 256, replace=False))
    lost = [c for c in glyph_data.all_syllables()[5::197] if c not in set(known)][:40]
    cut = subset_font(UN_DOTUM, 0, known, tmp_path / "UnDotum-256.ttf")
    composer = composer_for_font(cut, 0, known, VariantTable.shipped())
    real = GlyphRenderer(UN_DOTUM, 128, frame=composer.font.frame).render_many(lost)
    by_boxes = similarity(real, downsize(np.stack([composer.compose(c) for c in lost]), 128))["iou"]
    composer.placement = ReferencePlacement(["UnGraphic", "UnShinmun", "Guseul"])
    composed = np.stack([composer.compose(c) for c in lost])
    by_references = similarity(real, downsize(composed, 128))["iou"]
    assert by_references >= by_boxes + 0.03, (by_references, by_boxes)
    monkeypatch.setattr(compose_module, "WARP_MARGIN", None)
    assert (np.stack([composer.compose(c) for c in lost]) == composed).all()
    jamo = composer.font.jamo_image(known[0], MEDIAL)
    own = ink_box(jamo)
    centre = (own[:2] + own[2:]) / 2
    shift = np.array([0.0, COMPOSE_SIZE]) - centre  # centred on the top right corner: partly off the canvas
    off_canvas = own + np.concatenate([shift, shift])
    whole = warp_box(jamo, own, off_canvas)
    assert whole.max() > 128 and (warp_box(jamo, own, off_canvas, margin=6) == whole).all()


def test_boxes_are_warped_as_scipy_warps_them():
    """Registration and composition resample with two gathers (`resample_linear`), not scipy's general affine
    transform: on real glyphs moved and scaled between boxes (off the canvas in part, squeezed to a line), both
    give the same image, ink at the canvas's edge too."""
    from scipy import ndimage

    images = list(GlyphRenderer(NANUM_GOTHIC, COMPOSE_SIZE).render_many([0xAC00, 0xB620, 0xD7A3]))
    images.append(np.roll(images[0], (60, 60), axis=(0, 1)))  # ink at the canvas's edges: nothing read beyond
    rng = np.random.default_rng(0)
    for image in images:
        own = ink_box(image)
        for _ in range(40):
            target = own + rng.uniform(-60, 60, 4)
            target[2:] = np.maximum(target[2:], target[:2] + rng.uniform(0, 3))  # a side 0 to 3 px: not scaled
            scale, offset = jamo_module.warp_transform(own, target, 2)
            expected = ndimage.affine_transform(image.astype(np.float32), scale, offset=offset, order=1,
                                                mode="constant")
            assert np.abs(jamo_module._warp(image.astype(np.float32), own, target, 2) - expected).max() < 1e-3
            window = jamo_module.box_window(target, 6, image.shape)
            margin = warp_box(image, own, target, min_side=2, margin=6)
            whole = np.clip(expected, 0, 255).astype(np.uint8)
            top, left, bottom, right = window
            assert np.abs(margin[top:bottom, left:right].astype(int) - whole[top:bottom, left:right]).max() <= 1


def test_the_fonts_own_syllables_correct_where_unlike_references_place_its_jamo(tmp_path):
    """UnDotum cut to 256 syllables, its jamo moved into 40 missing syllables as a handwriting font of the same
    foundry (UnPilgi) moves them: fitted on the 256, the correction by box context brings them closer to where
    UnDotum draws them (its composites' exact boxes); with no strength left to it, it changes nothing; stored
    and read back, it places the same."""
    rng = np.random.default_rng(0)
    known = sorted(int(c) for c in rng.choice(glyph_data.ksx1001_syllables(), 256, replace=False))
    lost = [c for c in glyph_data.all_syllables()[5::197] if c not in set(known)][:40]
    composer = composer_for_font(subset_font(UN_DOTUM, 0, known, tmp_path / "UnDotum-256.ttf"), 0, known,
                                 VariantTable.shipped())
    whole = FontJamo(UN_DOTUM, frame=composer.font.frame)
    references = ReferencePlacement(["UnPilgi"])

    def box_error(placement: ReferencePlacement) -> float:
        errors = []
        for codepoint in lost:
            for source in composer.inventory.sources(codepoint):
                if source.built or source.donor == codepoint:
                    continue
                own = composer.font.jamo_box(source.donor, source.role)
                placed = placement.box(source.role, source.donor, codepoint, own)
                errors.append(np.abs(placed - whole.jamo_box(codepoint, source.role)).mean())
        assert len(errors) >= 80
        return float(np.mean(errors))

    pairs = placement_pairs(composer.font, known, references)
    correction = fit_placement_correction(pairs, ("context",), 30.0)
    corrected = ReferencePlacement(["UnPilgi"], correction)
    assert box_error(corrected) <= box_error(references) - 0.5, (box_error(corrected), box_error(references))
    assert set(correction.weights) == {INITIAL, MEDIAL, FINAL}
    unmoved = fit_placement_correction(pairs, ("context",), 1e9)
    assert box_error(ReferencePlacement(["UnPilgi"], unmoved)) == pytest.approx(box_error(references), abs=1e-3)
    stored = PlacementCorrection.from_json(json.loads(json.dumps(correction.to_json())))
    assert box_error(ReferencePlacement(["UnPilgi"], stored)) == pytest.approx(box_error(corrected), abs=0.01)


@requires_corpus
def test_a_jamo_most_fonts_reuse_between_two_syllables_stays_where_the_font_drew_it(monkeypatch):
    """UnDotum (which stores its syllables as composites of jamo) with every third KS X 1001 syllable, its jamo
    placed as the references move them: those whose drawing the corpus mostly reuses in the missing syllable's
    context stay where the font drew them, nearer where the foundry set them than the references would move them.
    A font that draws each syllable has them moved (NanumBarunGothicBold lost 0.02 IoU kept in place)."""
    from fontgen.compose import PlacedJamo, place_jamo, placed_ink

    known = glyph_data.ksx1001_syllables()[::3]
    composer = composer_for_font(UN_DOTUM, 0, known, VariantTable.shipped())
    placement = ReferencePlacement(["UnPilgi"])  # a composite font drawn like it
    foundry = FontJamo(UN_DOTUM)
    missing = [c for c in glyph_data.all_syllables()[::53] if c not in set(known)]
    reused = compose_module.PLACE_ABOVE

    def kept_jamo() -> list[tuple[int, PlacedJamo]]:
        return [(c, jamo) for c in missing for jamo in place_jamo(composer.font, c, composer.sources(c),
                                                                  composer.boxes, placement=placement)
                if not jamo.source.built and jamo.source.distance < reused]

    def box_error(placed: list[tuple[int, PlacedJamo]]) -> float:
        return float(np.mean([np.abs(ink_box(placed_ink(jamo)) - foundry.jamo_box(c, jamo.source.role)).mean()
                              for c, jamo in placed]))

    kept = kept_jamo()
    assert len(kept) >= 50 and all(jamo.target is None for _, jamo in kept)
    composites = composer.font.composites
    monkeypatch.setattr(composer.font, "composites", {})  # as if it drew each syllable: the references move them
    assert sum(jamo.target is not None for _, jamo in kept_jamo()) >= 0.9 * len(kept)
    monkeypatch.setattr(composer.font, "composites", composites)
    monkeypatch.setattr(compose_module, "PLACE_ABOVE", 0.0)
    moved = kept_jamo()
    assert sum(jamo.target is not None for _, jamo in moved) >= 0.9 * len(moved)
    assert box_error(kept) < box_error(moved) - 0.2, (box_error(kept), box_error(moved))  # 0.18 against 0.59 px


def test_a_jamo_the_font_never_draws_is_left_to_the_model():
    no_ui = glyph_data.MEDIALS.index("ㅢ")
    known = [c for c in glyph_data.ksx1001_syllables() if glyph_data.decompose(c).medial != no_ui][:300]
    inventory = Inventory.from_known(known)
    assert inventory.sources(ord("늬")) is None and not inventory.can_compose(ord("늬"))
    assert inventory.missing_jamo(ord("늬")) == "no known syllable has the medial ㅢ"
    assert inventory.sources(ord("니")) is not None and inventory.can_compose(ord("니"))


def test_downsizing_averages_each_block_of_pixels_rounded_to_the_nearest_level():
    """A glyph brought from 256 px to 64 or 128 is each 4x4 (2x2) block's mean ink, rounded half up, for one glyph
    or a batch of any shape (the recognizer and the scores read these)."""
    rng = np.random.default_rng(0)
    images = (rng.random((3, 2, 256, 256)) ** 3 * 255).astype(np.uint8)
    images[0, 0, :4, :4] = [[255, 255, 0, 0]] * 2 + [[0, 0, 0, 0]] * 2  # a mean of 63.75: 64
    images[0, 0, :4, 4:8] = [[2, 0, 0, 0]] + [[0, 0, 0, 0]] * 3  # 0.125: 0
    images[0, 0, :4, 8:12] = [[8, 0, 0, 0]] + [[0, 0, 0, 0]] * 3  # 0.5: 1
    for size in (64, 128):
        k = 256 // size
        blocks = images.reshape(3, 2, size, k, size, k).astype(np.float64).mean(axis=(3, 5))
        assert (downsize(images, size) == np.floor(blocks + 0.5)).all()
        assert (downsize(images[1, 0], size) == np.floor(blocks[1, 0] + 0.5)).all()
    assert downsize(images, 64)[0, 0, 0, :3].tolist() == [64, 0, 1]
    assert (downsize(images[:, 0], 256) == images[:, 0]).all()  # already at that size


def test_a_consonant_the_font_never_draws_in_its_role_is_built_from_letters_it_draws():
    no_kk = [c for c in glyph_data.ksx1001_syllables() if glyph_data.decompose(c).initial != 1][:300]  # no ㄲ
    inventory = Inventory.from_known(no_kk)
    assert inventory.can_compose(ord("까"))
    halves = [s for s in inventory.sources(ord("까")) if s.role == INITIAL]
    assert [s.part for s in halves] == [compose_module.LEFT, compose_module.RIGHT]
    assert all(glyph_data.decompose(s.donor).initial == 0 and s.built for s in halves)  # two ㄱ
    assert not any(s.built for s in inventory.sources(ord("가")))


def test_a_final_built_from_an_initial_takes_that_letter_drawn_above_eu():
    """A font that ends no syllable in ㅋ builds the final ㅋ from its initial ㅋ as it draws it above ㅡ (wide and
    flat, as a final is), not above the syllable's own vowel (narrow, its last stroke sweeping down: 샠 built from
    the ㅋ of 캐 reads as 샟), whatever that vowel is."""
    kieuk = glyph_data.FINALS.index("ㅋ")
    known = [c for c in glyph_data.ksx1001_syllables()[::2] if glyph_data.decompose(c).final != kieuk]
    assert any(chr(c) in "캐캑캔켜켠" for c in known) and any(chr(c) in "크큰클" for c in known)
    for variants in (None, VariantTable.shipped()):
        inventory = Inventory.from_known(known, variants)
        for syllable in "샠텈앸멐콬퀔":
            final = [s for s in inventory.sources(ord(syllable)) if s.role == FINAL]
            assert len(final) == 1 and final[0].built and final[0].ink_role == INITIAL
            donor = glyph_data.decompose(final[0].donor)
            assert glyph_data.INITIALS[donor.initial] == "ㅋ" and glyph_data.MEDIALS[donor.medial] == "ㅡ", syllable


def test_a_misread_built_jamo_is_tried_with_other_drawings_of_its_letters():
    """샠 with its built final ㅋ read as ㅊ: the re-plan tries the final ㅋ built from the next drawings of the
    initial ㅋ (a drawing can carry a piece of its neighbour's stroke), the initial and vowel kept."""
    from fontgen.compose import REPLAN_DEPTH, alternative_plans

    kieuk = glyph_data.FINALS.index("ㅋ")
    known = [c for c in glyph_data.ksx1001_syllables()[::2] if glyph_data.decompose(c).final != kieuk]
    inventory = Inventory.from_known(known, VariantTable.shipped())
    sources = inventory.sources(ord("샠"))
    plans = alternative_plans(inventory, ord("샠"), sources, ord("샟"))
    finals = [[s for s in plan if s.role == FINAL] for plan in [sources] + plans[:REPLAN_DEPTH]]
    assert all(len(f) == 1 and f[0].built and f[0].ink_role == INITIAL for f in finals)
    assert all(glyph_data.INITIALS[glyph_data.decompose(f[0].donor).initial] == "ㅋ" for f in finals)
    assert len({f[0].donor for f in finals}) == REPLAN_DEPTH + 1  # each a drawing not tried before
    assert all([s for s in plan if s.role != FINAL] == [s for s in sources if s.role != FINAL]
               for plan in plans[:REPLAN_DEPTH])


def test_a_misread_pair_the_font_draws_once_is_tried_built_from_its_letters():
    """A font with 2,350 syllables draws the final ㄿ once (읊): where that drawing reads as ㄻ, the re-plan,
    after the one drawing, tries ㄿ built from the ㄹ and ㅍ the font draws as finals, in the box of a pair, the
    initial and vowel kept; a single letter, from its drawing in the other role. A jamo drawn more often than the
    re-plan tries is not built."""
    from fontgen.compose import alternative_plans

    inventory = Inventory.from_known(glyph_data.ksx1001_syllables(), VariantTable.shipped())
    syllable = ord("긆")
    sources = inventory.sources(syllable)
    assert [chr(s.donor) for s in sources if s.role == FINAL] == ["읊"]
    plans = alternative_plans(inventory, syllable, sources, ord("긂"))  # ㄿ read as ㄻ
    built = [p for p in plans if any(s.built for s in p)]
    assert len(built) == 1 and plans.index(built[0]) == 0  # the drawing is the only one: built comes first
    finals = [s for s in built[0] if s.role == FINAL]
    assert [glyph_data.FINALS[glyph_data.decompose(s.donor).final] for s in finals] == ["ㄹ", "ㅍ"]
    assert all(s.ink_role == FINAL and s.layout is not None for s in finals)
    assert [s for s in built[0] if s.role != FINAL] == [s for s in sources if s.role != FINAL]
    # The final ㄹ, drawn hundreds of times, is tried from its next drawings only.
    sources = inventory.sources(ord("긜"))
    assert not any(s.built for p in alternative_plans(inventory, ord("긜"), sources, ord("긟")) for s in p)
    # A single letter drawn once in its role (the final ㅊ, in 쫓 alone) is built from its drawing as an initial.
    chieuch = glyph_data.FINALS.index("ㅊ")
    known = [c for c in glyph_data.ksx1001_syllables() if glyph_data.decompose(c).final != chieuch or chr(c) == "쫓"]
    inventory = Inventory.from_known(known, VariantTable.shipped())
    sources = inventory.sources(ord("듳"))
    plans = alternative_plans(inventory, ord("듳"), sources, ord("듲"))  # ㅊ read as ㅈ
    [final] = [s for p in plans if any(s.built for s in p) for s in p if s.role == FINAL]
    assert final.ink_role == INITIAL and glyph_data.INITIALS[glyph_data.decompose(final.donor).initial] == "ㅊ"


def test_a_misread_jamo_is_tried_with_its_next_donors_first_then_each_other_jamo_then_two_at_once():
    """The re-plan of a syllable the recognizer read with another vowel: the vowel's next REPLAN_DEPTH donors in
    turn (each the closest after those before it), then one other donor of the initial and of the final, then the
    vowel's and one other jamo's together."""
    from fontgen.compose import REPLAN_DEPTH, alternative_plans

    inventory = Inventory.from_known(glyph_data.ksx1001_syllables()[::4], VariantTable.shipped())
    syllable, read_as = ord("뇩"), ord("뉵")  # ㅛ read as ㅜ
    sources = inventory.sources(syllable)
    plans = alternative_plans(inventory, syllable, sources, read_as)

    def donor(plan, role):
        return next(s.donor for s in plan if s.role == role)

    vowel_plans, rest, pairs = plans[:REPLAN_DEPTH], plans[REPLAN_DEPTH:REPLAN_DEPTH + 2], plans[REPLAN_DEPTH + 2:]
    avoided = {(donor(sources, MEDIAL), MEDIAL)}
    for plan in vowel_plans:
        assert plan == inventory.sources(syllable, frozenset(avoided))  # the closest donor not yet tried
        assert [donor(plan, r) for r in (INITIAL, FINAL)] == [donor(sources, r) for r in (INITIAL, FINAL)]
        assert glyph_data.decompose(donor(plan, MEDIAL)).medial == glyph_data.MEDIALS.index("ㅛ")
        avoided.add((donor(plan, MEDIAL), MEDIAL))
    assert len(avoided) == REPLAN_DEPTH + 1  # each vowel donor tried once
    assert [next(r for r in (INITIAL, FINAL) if donor(p, r) != donor(sources, r)) for p in rest] == [INITIAL, FINAL]
    assert all(donor(p, MEDIAL) == donor(sources, MEDIAL) for p in rest)
    # Then the vowel's next donor with the initial's, and with the final's (no pair without the vowel read wrong).
    assert pairs == [inventory.sources(syllable, frozenset({(donor(sources, MEDIAL), MEDIAL), (donor(sources, r), r)}))
                     for r in (INITIAL, FINAL)]
    assert all(donor(p, r) != donor(sources, r) for p, r in zip(pairs, (INITIAL, FINAL)))
    assert all(donor(p, MEDIAL) == donor(vowel_plans[0], MEDIAL) for p in pairs)
    # Without a reading, one other donor of each jamo, then of each two.
    assert len(alternative_plans(inventory, syllable, sources)) == 6
    assert len(alternative_plans(inventory, syllable, sources, pairs=False)) == 3


def undotum_cut(known: list[int], folder: Path):
    """UnDotum cut to `known`, and its composer as learn leaves it in `folder`."""
    cut = subset_font(UN_DOTUM, 0, known, folder / "UnDotum-cut.ttf")
    write_inventory(cut, 0, folder, known, file_sha256(cut), None, progress=False, check_reading=False)
    return cut, load_composer(folder, known)


def test_pairs_and_finals_the_font_lacks_are_built_where_the_foundry_drew_them(tmp_path):
    """UnDotum without any syllable ending in ㄳ, ㅄ or ㅋ: those finals are built from ㄱ and ㅅ, ㅂ and ㅅ,
    and the initial ㅋ, and the syllables come out closer to the foundry's own than to the same syllables
    ending in one of the letters alone (ㄱ or ㅅ; ㄱ or ㅌ for ㅋ); the plan survives the style folder."""
    finals = glyph_data.FINALS
    lacking = {finals.index(x) for x in "ㄳㅄㅋ"}
    known = [c for c in glyph_data.ksx1001_syllables()[::3] if glyph_data.decompose(c).final not in lacking]
    cut, composer = undotum_cut(known, tmp_path)
    targets = [c for c in glyph_data.all_syllables()[::31] if glyph_data.decompose(c).final in lacking][:20]
    assert all(any(s.built for s in composer.sources(c)) for c in targets)
    fresh = composer_for_font(cut, 0, known, None)
    fresh.move_above, fresh.placement = composer.move_above, composer.placement  # as learn chose them
    assert composer.compose(targets[0]).tobytes() == fresh.compose(targets[0]).tobytes()
    renderer = GlyphRenderer(UN_DOTUM, 128, frame=composer.font.frame)
    drawn = downsize(np.stack([composer.compose(c) for c in targets]), 128)
    real = renderer.render_many(targets)
    assert similarity(real, drawn)["iou"] >= 0.6
    alone = {"ㄳ": "ㄱㅅ", "ㅄ": "ㅂㅅ", "ㅋ": "ㄱㅌ"}
    closer = 0
    for codepoint, image, truth in zip(targets, drawn, real):
        jamo = glyph_data.decompose(codepoint)
        others = renderer.render_many([glyph_data.compose(jamo.initial, jamo.medial, finals.index(x))
                                       for x in alone[finals[jamo.final]]])
        own = similarity(truth[None], image[None])["iou"]
        closer += all(own > similarity(other[None], image[None])["iou"] for other in others)
    assert closer >= 15, closer
    letters = compose_module.compat_jamo_images(composer, ["ㄳ", "ㅄ", "ㄱ"])
    for pair in "ㄳㅄ":  # no known syllable draws them: two letters side by side
        box = ink_box(letters[ord(pair)])
        columns = (letters[ord(pair)] >= 128).sum(axis=0)[int(box[1]):int(box[3])]
        assert columns[: len(columns) // 3].sum() > 0 and columns[-len(columns) // 3:].sum() > 0
        assert box[3] - box[1] > 1.3 * (box[2] - box[0])  # wider than tall, as the pair is
    # The archaic letters of KS X 1001 built from modern ones (side by side; a light letter above a small ㅇ)
    # come out closer to the foundry's own drawing of the same letter than to its drawings of the others; those
    # of shapes of their own are left out.
    built = "ㅥㅦㅪㅮㅲㅳㅴㅵㅶㅷㅸㅹㅺㅻㅼㅽㅾㆀㅱㆄㆅ"
    archaic = compose_module.compat_jamo_images(composer, list(built + "ㅿㆁㆆㆍㆎㆇ"))
    assert sorted(archaic) == sorted(map(ord, built))
    foundry = GlyphRenderer(UN_DOTUM, 128, frame=composer.font.frame).render_many(list(map(ord, built)))
    mine = downsize(np.stack([archaic[ord(letter)] for letter in built]), 128)

    def shape(image):  # the letter cropped to its ink and brought to one size: its shape, not its place
        top, left, bottom, right = ink_box(image).astype(int)
        crop = Image.fromarray(image[top:bottom + 1, left:right + 1]).resize((48, 48), Image.Resampling.BILINEAR)
        return np.asarray(crop) >= 128

    iou = np.array([[(a & b).sum() / (a | b).sum() for b in map(shape, foundry)] for a in map(shape, mine)])
    others = iou[~np.eye(len(built), dtype=bool)].reshape(len(built), -1)
    margin = np.diag(iou) - others.mean(axis=1)  # closer to its own letter than to the others, by this much
    assert (margin > 0).all() and (margin > 0.1).sum() >= len(built) - 2, margin
    assert np.diag(iou).mean() >= 0.5 and np.diag(iou).mean() > others.mean() + 0.2


@requires_corpus
def test_a_vowel_the_font_never_draws_is_built_from_the_vowels_it_draws(tmp_path):
    """UnDotum without any syllable with ㅒ or ㅖ (12 and 3 of 100 random cuts of 256 KS X 1001 syllables lack
    them): ㅒ is built as its ㅐ with the tick doubled, as far apart as its ㅑ draws its two, ㅖ as its ㅔ likewise.
    The syllables come out closer to the foundry's own than to the same syllables with the vowel they were built
    from, read as intended, and the plan survives the style folder."""
    from fontgen.readability import load_recognizer

    medials = glyph_data.MEDIALS
    lacking = {medials.index(v) for v in "ㅒㅖ"}
    known = [c for c in glyph_data.ksx1001_syllables()[::3] if glyph_data.decompose(c).medial not in lacking]
    composer = undotum_cut(known, tmp_path)[1]
    missing = [c for c in glyph_data.all_syllables()[::5] if glyph_data.decompose(c).medial in lacking]
    targets = missing[::7][:18]
    assert {medials[glyph_data.decompose(c).medial] for c in targets} == set("ㅒㅖ")
    built_from = {"ㅒ": "ㅐ", "ㅖ": "ㅔ"}
    for codepoint in targets:
        vowel = medials[glyph_data.decompose(codepoint).medial]
        sources = [s for s in composer.sources(codepoint) if s.role == MEDIAL]
        assert all(compose_module.JamoSource.from_list(s.to_list()) == s for s in sources)
        donors = [medials[glyph_data.decompose(s.donor).medial] for s in sources]
        spacing = medials[glyph_data.decompose(sources[0].layout).medial]
        assert [s.part for s in sources] == [compose_module.TICKS]
        assert donors == [built_from[vowel]] and spacing == {"ㅒ": "ㅑ", "ㅖ": "ㅕ"}[vowel]
    # Where the one tick was, between the two new ones, nothing is left, not even its anti-aliased edge.
    ae = next(s.donor for c in targets for s in composer.sources(c) if s.part == compose_module.TICKS
              and medials[glyph_data.decompose(s.donor).medial] == "ㅐ")
    ink = composer.font.jamo_image(ae, MEDIAL)
    columns = (ink >= 128).sum(axis=0)
    stems = np.flatnonzero(columns >= 0.5 * columns.max())
    between = [c for c in range(stems[0], stems[-1]) if 0 < columns[c] < 0.5 * columns.max()]
    between = between[len(between) // 4:-len(between) // 4]  # the tick, not the edges of the stems beside it
    tick_rows = np.flatnonzero(ink[:, between].any(axis=1))
    top, _, bottom, _ = ink_box(ink)
    shift = int(round(0.3 * (bottom - top) / 2))
    doubled = compose_module.doubled_tick(ink, 0.3, between=True)
    left_behind = [r for r in tick_rows if r + shift > tick_rows[-1] and r - shift < tick_rows[0]]
    assert len(left_behind) >= 3 and not doubled[np.ix_(left_behind, between)].any()
    assert doubled[:, between].astype(int).sum() > 1.5 * ink[:, between].astype(int).sum()  # two ticks now
    renderer = GlyphRenderer(UN_DOTUM, 128, frame=composer.font.frame)
    drawn = downsize(np.stack([composer.compose(c) for c in targets]), 128)
    real = renderer.render_many(targets)
    assert similarity(real, drawn)["iou"] >= 0.7
    # The same syllables with the vowel they were built from, as it is drawn (ㅐ for ㅒ), are further from the
    # foundry's.
    undoubled = [[s if s.role != MEDIAL else compose_module.JamoSource(MEDIAL, s.donor, s.distance)
                  for s in composer.sources(c)] for c in targets]
    plain = downsize(np.stack([composer.compose(c, sources) for c, sources in zip(targets, undoubled)]), 128)
    # (Where the other jamo sit far from the foundry's, the ticks weigh little: 14 of 18 closer, 0.76 vs 0.72.)
    closer = sum(similarity(t[None], d[None])["iou"] > similarity(t[None], p[None])["iou"]
                 for t, d, p in zip(real, drawn, plain))
    assert closer >= 12 and similarity(real, drawn)["iou"] >= similarity(real, plain)["iou"] + 0.02, closer
    plan = {c: composer.sources(c) for c in targets}
    assert len(compose_module.misread_syllables(composer, plan, load_recognizer())) <= 1


@requires_corpus
def test_a_pair_built_in_a_hand_drawn_font_goes_where_its_nearest_pairs_sit():
    """NanumPen with 256 of its drawn syllables, none ending in ㄳ ㄵ ㄶ ㄾ ㅀ ㅄ: where jamo move between context
    boxes, a pair built from two letters goes into the median box of the pairs the font draws in the nearest
    contexts, which lies closer to the foundry's own pairs than the box of the one nearest drawing (a hand-drawn
    pair sits where the hand put it); learn labels the syllables that box is measured on."""
    from fontgen.compose import _labelling_work, built_jamo_box

    pen = glyph_data.corpus_font("NanumPen")
    finals = glyph_data.FINALS
    lacking = {finals.index(x) for x in "ㄳㄵㄶㄾㅀㅄ"}
    drawn = glyph_data.ksx1001_syllables()
    known = [c for c in drawn[::9] if glyph_data.decompose(c).final not in lacking]
    composer = composer_for_font(pen.path, pen.face, known, None)
    foundry = FontJamo(pen.path, pen.face, frame=composer.font.frame)  # the rest are the foundry's composites
    targets = [c for c in glyph_data.all_syllables()[::13] if glyph_data.decompose(c).final in lacking
               and c not in set(drawn) and composer.inventory.can_compose(c)][:60]
    nearest_one, median = [], []
    for codepoint in targets:
        for source in composer.sources(codepoint):
            if source.role != FINAL or not source.built:
                continue
            truth = foundry.pair_boxes(codepoint, FINAL)[source.part - 1]
            nearest_one.append(np.abs(composer.font.pair_boxes(source.layout, FINAL)[source.part - 1] - truth).mean())
            median.append(np.abs(built_jamo_box(composer.font, codepoint, source, composer.boxes) - truth).mean())
    assert len(median) == 2 * len(targets) >= 100
    assert np.mean(median) < 0.95 * np.mean(nearest_one), (np.mean(median), np.mean(nearest_one))
    samples = composer.boxes.pair_samples(FINAL, targets[0])
    assert 1 < len(samples) <= compose_module.PAIR_BOX_SAMPLES
    assert all(finals[glyph_data.decompose(c).final] in compose_module.LETTER_PAIRS for c in samples)
    plan = {c: composer.sources(c) for c in targets}
    assert set(samples) <= set(_labelling_work(composer, plan)[2])


@requires_corpus
def test_a_pair_built_where_references_place_jamo_takes_a_like_pairs_box_split_as_they_split_its_own(monkeypatch):
    """NanumGothicBold with 261 of its drawn syllables, none ending in ㄳ ㄵ ㄶ ㄾ ㅀ ㅄ, its jamo placed as the
    closest reference fonts place them: a pair built from two letters takes its box from a nearby pair drawn with
    the same letters (LAYOUT_LETTER_PENALTY; the references grow ㄻ's box into ㅀ's by their tall ㅎ), and is split as
    the references split the syllable's own pair, not as the pair it came from splits (ㄺ's ㄹ is wider than ㄳ's
    ㄱ). Each lies closer to the foundry's own letters than without."""
    from fontgen.compose import _map_box, built_jamo_box

    sans = glyph_data.corpus_font("NanumGothicBold")
    finals = glyph_data.FINALS
    lacking = {finals.index(x) for x in "ㄳㄵㄶㄾㅀㅄ"}
    drawn = glyph_data.ksx1001_syllables()
    known = [c for c in drawn[::9] if glyph_data.decompose(c).final not in lacking]
    lacking_pairs = [c for c in glyph_data.all_syllables()[::13] if glyph_data.decompose(c).final in lacking
                     and c not in set(drawn)]

    def built_halves_error(letter_penalty: float) -> tuple[float, float]:
        """Mean edge error of the built pairs' halves, split as the references split them and as the layout's."""
        monkeypatch.setattr(compose_module, "LAYOUT_LETTER_PENALTY", letter_penalty)
        composer = composer_for_font(sans.path, sans.face, known, None)
        placement = ReferencePlacement(composer.font.closest_references)
        foundry = FontJamo(sans.path, sans.face, frame=composer.font.frame)  # the rest are its composites
        targets = [c for c in lacking_pairs if composer.inventory.can_compose(c)][:60]
        reference_split, layout_split = [], []
        for codepoint in targets:
            for source in composer.sources(codepoint):
                if source.role != FINAL or not source.built:
                    continue
                truth = foundry.pair_boxes(codepoint, FINAL)[source.part - 1]
                whole = composer.font.jamo_box(source.layout, FINAL)
                placed = placement.box(FINAL, source.layout, codepoint, whole)
                half = composer.font.pair_boxes(source.layout, FINAL)[source.part - 1]
                layout_split.append(np.abs(_map_box(half, whole, placed) - truth).mean())
                reference_split.append(np.abs(built_jamo_box(composer.font, codepoint, source, composer.boxes,
                                                             placement) - truth).mean())
        assert len(reference_split) == 2 * len(targets) >= 100
        return float(np.mean(reference_split)), float(np.mean(layout_split))

    like_letters, its_split = built_halves_error(compose_module.LAYOUT_LETTER_PENALTY)
    any_letters, _ = built_halves_error(0.0)
    assert like_letters < 0.97 * any_letters
    assert like_letters < 0.9 * its_split


@pytest.fixture(scope="module")
def ti_style(tmp_path_factory, small_font, tiny_model, learn_recipes):
    folder = tmp_path_factory.mktemp("compose-style") / "small.fontgen"
    learn(small_font, folder, method="ti", recipe=learn_recipes["ti"], base=tiny_model, progress=False)
    return folder


def test_glyphs_learn_still_misread_are_flagged_for_the_designer(ti_style, tiny_model, tmp_path):
    """A syllable learn's recognizer still read as another after re-planning (`readability.misread_kept`) is
    flagged in sources.json and counted in generate's report; the others are not."""
    import shutil

    style = shutil.copytree(ti_style, tmp_path / "style.fontgen")
    known = json.loads((style / "manifest.json").read_text())["source"]["hangul"]
    inventory = Inventory.from_known(known)
    composable = [c for c in glyph_data.all_syllables()[::97] if c not in known and inventory.can_compose(c)][:3]
    stored = json.loads((style / "jamo_inventory.json").read_text())
    stored["summary"]["readability"] = {"checked": 9, "misread": 1, "replanned": 0, "misread_kept": chr(composable[1]),
                                        "misread_as": "갂"}
    (style / "jamo_inventory.json").write_text(json.dumps(stored))
    report = generate(style, tmp_path / "glyphs", composable, method="compose", base=tiny_model, progress=False)
    sources = json.loads((tmp_path / "glyphs" / "sources.json").read_text())
    flagged = {key: entry.get("read_as") for key, entry in sources["glyphs"].items() if "check" in entry}
    assert flagged == {f"U+{composable[1]:04X}": "갂"} and report.to_check == sources["summary"]["to_check"] == 1
    # The sheet a designer looks at first: the flagged glyph, one cell (64 px and its label) of a 16-cell row.
    with Image.open(tmp_path / "glyphs" / "check_sheet.png") as sheet:
        assert sheet.size == (16 * 64, 64 + 18)
        cell = np.asarray(sheet.convert("L"))
    glyph = Image.open(tmp_path / "glyphs" / f"U+{composable[1]:04X}.png").convert("L")
    glyph = np.asarray(glyph.resize((64, 64), Image.Resampling.BILINEAR))
    assert np.abs(cell[:64, :64].astype(int) - glyph).max() <= 1
    assert cell[:, 64:].min() == 255  # one glyph, nothing else
    if glyph_data.reference_font().available:  # the label is drawn in it
        assert cell[64:, :64].min() < 128

    # Learned before what it read was kept (or its readings do not match the syllables, edited by hand): still
    # flagged, without a reading; a later run with nothing to check leaves no sheet behind.
    for read_as in (None, "갂갃"):
        stored["summary"]["readability"]["misread_as"] = read_as
        (style / "jamo_inventory.json").write_text(json.dumps(stored))
        shutil.rmtree(tmp_path / "older", ignore_errors=True)
        generate(style, tmp_path / "older", composable, method="compose", base=tiny_model, progress=False)
        sources = json.loads((tmp_path / "older" / "sources.json").read_text())
        assert [entry.get("read_as") for entry in sources["glyphs"].values() if "check" in entry] == [None]
        assert (tmp_path / "older" / "check_sheet.png").exists()
    stored["summary"]["readability"]["misread_kept"] = ""
    (style / "jamo_inventory.json").write_text(json.dumps(stored))
    generate(style, tmp_path / "older", composable, method="compose", base=tiny_model, progress=False)
    assert not (tmp_path / "older" / "check_sheet.png").exists()


def test_generate_composes_what_it_can_and_draws_the_rest(ti_style, tiny_model, small_font, tmp_path):
    known = json.loads((ti_style / "manifest.json").read_text())["source"]["hangul"]
    inventory = Inventory.from_known(known)
    composable = [c for c in glyph_data.all_syllables()[::53] if c not in known and inventory.can_compose(c)][:3]
    lacking = [c for c in glyph_data.all_syllables()[::53] if not inventory.can_compose(c)][:2]
    assert composable and lacking
    out = tmp_path / "glyphs"
    report = generate(ti_style, out, composable + lacking, base=tiny_model, progress=False)
    assert (report.composed, report.by_model) == (len(composable), len(lacking))
    sources = json.loads((out / "sources.json").read_text())
    assert sources["summary"]["composed"] == len(composable) and sources["summary"]["model"] == len(lacking)
    for codepoint in lacking:
        entry = sources["glyphs"][f"U+{codepoint:04X}"]
        assert entry["from"] == "model" and entry["why"].startswith("no known syllable has the")
    for codepoint in composable:
        entry = sources["glyphs"][f"U+{codepoint:04X}"]
        assert entry["from"] == "composed" and set(entry["jamo"]) <= {"initial", "medial", "final"}
        donors = [ord(ch) for ch in entry["jamo"].values()]
        assert all(d in known for d in donors)
    sizes = {Image.open(p).size for p in out.glob("U+*.png")}
    assert sizes == {(COMPOSE_SIZE, COMPOSE_SIZE)}
    # Resuming: glyphs composed by a run that needed no model are kept by one that does.
    first = generate(ti_style, tmp_path / "resumed", composable, base=tiny_model, progress=False)
    second = generate(ti_style, tmp_path / "resumed", composable + lacking, base=tiny_model, progress=False)
    assert (first.drawn, second.drawn, second.kept) == (len(composable), len(lacking), len(composable))
    # A composed glyph is the font's own ink: every inked pixel is inked in one of its donors.
    codepoint = composable[0]
    entry = sources["glyphs"][f"U+{codepoint:04X}"]
    renderer = GlyphRenderer(small_font, COMPOSE_SIZE, frame=load_composer(ti_style, known).font.frame)
    donors_ink = np.max([renderer.render(ord(ch)) for ch in entry["jamo"].values()], axis=0) >= 64
    drawn_ink = np.asarray(Image.open(out / f"U+{codepoint:04X}.png")) < 128
    moved = any(v > 0 for v in entry["context_distance"].values())
    if not moved:
        assert (drawn_ink & ~donors_ink).sum() <= 0.01 * drawn_ink.sum()


def test_a_compose_only_style_refuses_what_needs_the_model(small_font, tmp_path):
    folder = learn(small_font, tmp_path / "jamo.fontgen", method="compose", progress=False)
    assert not (folder / "learned_embeds.safetensors").exists()
    known = json.loads((folder / "manifest.json").read_text())["source"]["hangul"]
    inventory = Inventory.from_known(known)
    lacking = next(c for c in glyph_data.all_syllables() if not inventory.can_compose(c))
    with pytest.raises(FontgenError, match="cannot be composed"):
        generate(folder, tmp_path / "glyphs", [lacking], progress=False)
    with pytest.raises(FontgenError, match="has no model"):
        generate(folder, tmp_path / "glyphs", [lacking], method="model", progress=False)


def test_the_placement_learn_chose_is_the_one_generate_uses(small_font, tmp_path):
    """Learn records how the font's moved jamo are placed (which reference fonts, or context boxes) and the
    style folder composes that way; a style naming a reference font not installed here is refused."""
    folder = learn(small_font, tmp_path / "jamo.fontgen", method="compose", progress=False)
    path = folder / compose_module.INVENTORY_FILE
    inventory = json.loads(path.read_text())
    known = json.loads((folder / "manifest.json").read_text())["source"]["hangul"]
    moves = json.loads((folder / "manifest.json").read_text())["jamo_inventory"]["moves"]
    composer = load_composer(folder, known)
    assert (composer.placement is not None) == (moves["placement"] == "references")
    if composer.placement is not None:
        assert composer.placement.references == inventory["placement_references"]
        stored = inventory["placement_correction"]
        assert (composer.placement.correction is None) == (stored is None) == (moves["correction"]["chosen"] == "none")
        if stored is not None:
            assert composer.placement.correction.to_json() == stored
    assert moves["iou_reference_placement"] > 0
    # A stored correction is read back and moves the jamo it places.
    def moved(codepoint: int, source: list) -> bool:  # a jamo the references move, from another box context
        role, donor = source[0], source[1]
        return (len(source) == 3 and role in (INITIAL, MEDIAL) and source[2] >= compose_module.PLACE_ABOVE
                and compose_module.box_context(role, glyph_data.decompose(donor))
                != compose_module.box_context(role, glyph_data.decompose(codepoint)))

    target = next(int(k[2:], 16) for k, sources in inventory["plan"].items()
                  if any(moved(int(k[2:], 16), s) for s in sources))
    weights = {name: {compose_module.placement_terms(role, target, ("context",))[0]: [6, 6, 6, 6]}
               for name, role in [("initial", INITIAL), ("medial", MEDIAL)]}
    stored = {"terms": ["context"], "strength": 30.0, "weights": weights}
    path.write_text(json.dumps({**inventory, "placement_references": ["UnDotum"], "placement_correction": stored}))
    corrected = load_composer(folder, known)
    assert corrected.placement.correction.to_json() == stored
    shifted = corrected.compose(target)
    corrected.placement.correction = None
    assert (shifted != corrected.compose(target)).any()
    inventory["placement_references"] = ["UnDotum", "NoSuchFoundry"]
    path.write_text(json.dumps(inventory))
    target = next(int(k[2:], 16) for k in inventory["plan"])
    with pytest.raises(FontgenError, match="NoSuchFoundry"):
        generate(folder, tmp_path / "glyphs", [target], progress=False)


def test_interrupted_labelling_resumes_where_it_stopped(small_font, tmp_path, monkeypatch):
    known = open_font(small_font).getBestCmap()
    known = sorted(c for c in known if glyph_data.is_syllable(c))
    calls = {"n": 0}
    original = JamoSegmenter.segment

    def counting(self, codepoint, image):
        calls["n"] += 1
        if calls["n"] == 40 and stop["now"]:
            raise KeyboardInterrupt
        return original(self, codepoint, image)

    stop = {"now": True}
    monkeypatch.setattr(JamoSegmenter, "segment", counting)
    monkeypatch.setattr(compose_module, "LABELS_SAVED_EVERY", 10)
    with pytest.raises(KeyboardInterrupt):
        write_inventory(small_font, 0, tmp_path, known, file_sha256(small_font), VariantTable.shipped(), False)
    assert not (tmp_path / compose_module.INVENTORY_FILE).exists()
    stop["now"], calls["n"] = False, 0
    summary = write_inventory(small_font, 0, tmp_path, known, file_sha256(small_font), VariantTable.shipped(), False)
    assert calls["n"] <= summary["labelled"] - 30  # at least the 30 saved before the stop were not redone
    composer = load_composer(tmp_path, known)
    assert len(composer.font.segmented) == summary["labelled"]


def test_cli_learns_the_inventory_and_generates_with_a_report(small_font, tmp_path, capsys):
    style = tmp_path / "small.fontgen"
    assert main(["learn", str(small_font), "--method", "compose", "-o", str(style)]) == 0
    said = capsys.readouterr().out
    known = json.loads((style / "manifest.json").read_text())["source"]["hangul"]
    inventory = Inventory.from_known(known)
    composable = sum(1 for c in glyph_data.all_syllables() if c not in known and inventory.can_compose(c))
    assert f"{composable:,} of the 11,052 missing composable" in said
    assert f"{11052 - composable:,} left to the model" in said
    moves = json.loads((style / "manifest.json").read_text())["jamo_inventory"]["moves"]
    placed = ("as the reference fonts place them" if moves["placement"] == "references"
              else "by the font's context boxes")
    assert f"jamo taken from other syllables placed {placed}" in said
    chars = [c for c in glyph_data.all_syllables()[::211] if c not in known and inventory.can_compose(c)][:4]
    assert main(["generate", str(style), "-o", str(tmp_path / "glyphs"), "--chars", "".join(map(chr, chars))]) == 0
    said = capsys.readouterr().out
    # Jamo with contours of their own lie beside the image as an outline, the ink of the others as a PNG to trace;
    # export takes both.
    outlines = sorted((tmp_path / "glyphs").glob("U+*.glif"))
    partly = sorted((tmp_path / "glyphs" / "traced").glob("U+*.png"))
    assert len(outlines) >= 2 and len(partly) >= 1  # this pen font draws some jamo as one shape with another
    assert f"4 composed from the font's own jamo, {len(outlines)} of them with its own contours" in said
    assert "; 0 by the model" in said
    assert main(["export", str(small_font), str(tmp_path / "glyphs"), "-o", str(tmp_path / "out.ttf")]) == 0
    said = capsys.readouterr().out
    assert f"{len(outlines)} with the font's own moved contours, {len(partly)} of them with some jamo traced" in said
    drawn = GlyphRenderer(tmp_path / "out.ttf", COMPOSE_SIZE).render_many(chars)
    composed = np.stack([np.asarray(Image.open(tmp_path / "glyphs" / f"U+{c:04X}.png").convert("L")) for c in chars])
    assert similarity(drawn, 255 - composed)["iou"] >= 0.85
    assert main(["generate", str(tmp_path / "nowhere"), "-o", str(tmp_path / "g")]) == 1
    assert "not a style folder" in capsys.readouterr().err
    # Drawings whose cut lost a stroke to another jamo are set aside: no plan takes one while the font draws
    # that jamo elsewhere (this pen font has a few: 올's ㅗ went to ㅇ but for a speck).
    composer = load_composer(style, known)
    damaged = {tuple(pair) for pair in json.loads((style / "jamo_inventory.json").read_text())["damaged_drawings"]}
    assert damaged == composer.inventory.damaged and damaged
    for codepoint, sources in composer.planned.items():
        for source in sources:
            value = jamo_value(source.ink_role, glyph_data.decompose(source.donor))
            donors = composer.inventory.by_jamo[source.ink_role, value]
            assert (source.donor, source.ink_role) not in damaged or all((d, source.ink_role) in damaged
                                                                          for d in donors)
    # Take a clean medial's stroke away (all but a speck to the initial): it is flagged, and no donor any more.
    labelled = sorted(composer.font.segmented)
    victim = next(c for c in labelled if (c, MEDIAL) not in damaged
                  and sum(glyph_data.decompose(d).medial == glyph_data.decompose(c).medial for d in labelled) >= 6)
    labels = composer.font.segmented[victim]
    stroke = np.argwhere(labels == MEDIAL)
    labels[tuple(stroke[5:].T)] = INITIAL
    assert compose_module.damaged_drawings(composer.font, labelled) == damaged | {(victim, MEDIAL)}
    medial = (MEDIAL, glyph_data.decompose(victim).medial)
    assert victim in Inventory.from_known(known).by_jamo[medial]
    assert victim not in Inventory.from_known(known, damaged=frozenset({(victim, MEDIAL)})).by_jamo[medial]
    assert main(["generate", str(style), "-o", str(tmp_path / "g"), "--chars", chr(chars[0]), "--refine", "0.5"]) == 1
    assert "has no model to refine with" in capsys.readouterr().err and not list((tmp_path / "g").glob("U+*"))


def test_complete_composes_alone_when_the_jamo_cover_everything(small_font, tmp_path):
    known = sorted(c for c in open_font(small_font).getBestCmap() if glyph_data.is_syllable(c))
    inventory = Inventory.from_known(known)
    chars = [c for c in glyph_data.all_syllables()[::389] if c not in known and inventory.can_compose(c)][:5]
    report = complete(small_font, tmp_path / "done.ttf", chars=chars, progress=False)
    assert report.added == len(chars) and report.letters >= 40  # and the compatibility letters it lacked
    assert 1 <= report.from_outlines <= len(chars)  # syllables kept the pen's own contours; letters are traced
    assert json.loads((report.style_dir / "manifest.json").read_text())["method"] == "compose"
    validate_with_ots(report.output)
    renderer = GlyphRenderer(report.output, 128)
    assert all(renderer.render(c).max() > 128 for c in chars)
    assert renderer.render(ord("ㄱ")).max() > 128 and renderer.render(ord("ㅏ")).max() > 128


def test_font_jamo_labels_every_ink_pixel_of_a_drawn_syllable(small_font):
    font = FontJamo(small_font)
    codepoint = sorted(c for c in font.small.cmap if glyph_data.is_syllable(c))[3]
    labels = font.labels(codepoint)
    image = font.small.render(codepoint)
    assert (labels[image >= 64] > 0).all()
    assert set(np.unique(labels[image >= 64])) <= set(roles_of(codepoint))


def test_auto_learns_a_model_only_when_a_jamo_is_missing():
    from fontgen.learn import method_for_font

    ksx = glyph_data.ksx1001_syllables()
    assert method_for_font(ksx) == "compose"
    assert method_for_font(ksx[::19][:120]) == "lora"  # no ㅒ (built from ㅐ), no ㅞ (not built)

    def without(vowels: str) -> list[int]:
        return [c for c in ksx[::7] if glyph_data.MEDIALS[glyph_data.decompose(c).medial] not in vowels]

    assert method_for_font(without("")) == method_for_font(without("ㅒㅖ")) == "compose"
    assert method_for_font(without("ㅒㅐ")) == method_for_font(without("ㅢ")) == "lora"
    rng = np.random.default_rng(0)  # a few hundred syllables draw every vowel, and consonants are built
    assert method_for_font(sorted(rng.choice(glyph_data.ksx1001_syllables(), 256, replace=False))) == "compose"


def test_names_users_really_have_work_end_to_end(small_font, tiny_model, learn_recipes, tmp_path):
    """A Korean file name with spaces, and a very long one, through learn, generate, complete (with a Korean
    family name) and the specimen; a learned token on such a name draws; tokens that never collide with the
    base model's or with each other."""
    import shutil

    from fontgen.learn import token_for_font

    korean = tmp_path / "나눔손글씨 펜 (내 수정본).ttf"
    shutil.copy(small_font, korean)
    long_name = tmp_path / ("아주 긴 이름의 글꼴 " * 6 + "Final v2.ttf")
    shutil.copy(small_font, long_name)
    tokens = {token_for_font(p) for p in (korean, long_name, Path("NanumGothic.ttf"), Path("나눔손글씨 붓.ttf"))}
    assert len(tokens) == 4 and "<NanumGothic>" not in tokens and all(len(t) > 3 for t in tokens)
    known = sorted(c for c in open_font(small_font).getBestCmap() if glyph_data.is_syllable(c))
    inventory = Inventory.from_known(known)
    chars = [c for c in glyph_data.all_syllables()[::389] if c not in known and inventory.can_compose(c)][:3]
    family = "나눔손글씨 펜 내 수정본 " + "아주 긴 이름 " * 8
    for font in (korean, long_name):
        report = complete(font, tmp_path / f"{font.stem} 완성.ttf", chars=chars, family_name=family,
                          progress=False)
        assert report.added == len(chars) and report.output.exists()
        validate_with_ots(report.output)
        names = open_font(report.output)["name"]
        assert names.getDebugName(1) == family.strip() and family.strip() in names.getDebugName(4)
        specimen = write_specimen(report.output, tmp_path / f"{font.stem} 견본.html", original_font=font)
        assert family.strip() in specimen.read_text(encoding="utf-8")
    assert main(["info", str(korean)]) == 0
    style = learn(korean, tmp_path / "내 글꼴.fontgen", method="ti", recipe=learn_recipes["ti"], base=tiny_model,
                  progress=False)
    token = json.loads((style / "manifest.json").read_text())["token"]
    assert token == token_for_font(korean) and "~" in token
    drawn = generate(style, tmp_path / "그림", chars[:1], method="model", base=tiny_model, progress=False)
    assert drawn.drawn == 1 and (tmp_path / "그림" / f"U+{chars[0]:04X}.png").exists()


def test_a_font_learned_again_reuses_its_jamo_inventory_or_its_labels(small_font, tmp_path, monkeypatch):
    """A font file's jamo inventory is kept in the cache: learned again into another folder, it is copied, not made
    again, and a folder holding one that another recognizer or other re-plan rules made gets the current one.
    When fontgen's recognizer changes (an upgrade), the inventory is made again from the labels the cache keeps."""
    cache = tmp_path / "cache"  # this test's own: other tests learn the same font
    first = learn(small_font, tmp_path / "first.fontgen", method="compose", progress=False, cache_dir=cache)
    second = learn(small_font, tmp_path / "second.fontgen", method="compose", progress=False, cache_dir=cache)
    summaries = [json.loads((f / "manifest.json").read_text())["jamo_inventory"] for f in (first, second)]
    assert not summaries[0].get("kept_from_an_earlier_run") and summaries[1]["kept_from_an_earlier_run"]
    for name in (compose_module.INVENTORY_FILE, compose_module.LABELS_FILE, "jamo_source.ttf"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    stored = json.loads((second / compose_module.INVENTORY_FILE).read_text())
    planned = [int(key[2:], 16) for key in list(stored["plan"])[:2]]
    assert generate(second, tmp_path / "glyphs", planned, method="compose", progress=False).composed == 2

    for stale in ({**stored, "recognizer_sha256": "0" * 64},
                  {key: value for key, value in stored.items() if key != "replan_rules"}):
        (second / compose_module.INVENTORY_FILE).write_text(json.dumps(stale))
        again = learn(small_font, second, method="compose", progress=False, cache_dir=cache)
        assert json.loads((again / "manifest.json").read_text())["jamo_inventory"]["kept_from_an_earlier_run"]
        assert json.loads((second / compose_module.INVENTORY_FILE).read_text()) == stored

    monkeypatch.setattr(learn_module, "recognizer_sha256", lambda: "1" * 64)  # fontgen upgraded
    monkeypatch.setattr(readability_module, "recognizer_sha256", lambda: "1" * 64)
    third = learn(small_font, tmp_path / "third.fontgen", method="compose", progress=False, cache_dir=cache)
    summary = json.loads((third / "manifest.json").read_text())["jamo_inventory"]
    assert not summary.get("kept_from_an_earlier_run") and summary["labels_reused"] == summary["labelled"] > 0
    assert json.loads((third / compose_module.INVENTORY_FILE).read_text())["plan"] == stored["plan"]
    # The cache keeps the registration's labels; both folders hold them recut where the pen's jamo touch, alike.
    assert summary["shared_strokes_recut"] == summaries[0]["shared_strokes_recut"] > 0
    labels = [compose_module._load_labels(f / compose_module.LABELS_FILE, file_sha256(small_font))
              for f in (first, third)]
    assert labels[0].keys() == labels[1].keys() and all((labels[0][c] == labels[1][c]).all() for c in labels[0])
    # A cached inventory whose labels were damaged on disk is made again, not copied.
    [kept] = [f for f in (cache / "jamo-inventories").iterdir() if "1111111111111111" in f.name]
    (kept / compose_module.LABELS_FILE).write_bytes(b"damaged")
    fourth = learn(small_font, tmp_path / "fourth.fontgen", method="compose", progress=False, cache_dir=cache)
    assert not json.loads((fourth / "manifest.json").read_text())["jamo_inventory"].get("kept_from_an_earlier_run")
    assert compose_module._load_labels(kept / compose_module.LABELS_FILE, file_sha256(small_font))  # cached again


def test_labels_of_another_segmentation_are_made_again_but_a_style_keeps_its_own(small_font, tmp_path, monkeypatch):
    """When the segmentation changes (LABELS_VERSION), neither a learned inventory nor saved labels (the cache,
    an interrupted run's) are reused: learn labels the font again; a style folder still composes with the labels
    its plans were made with."""
    style = learn(small_font, tmp_path / "style.fontgen", method="compose", progress=False)
    sha = file_sha256(small_font)
    saved = compose_module._load_labels(style / compose_module.LABELS_FILE, sha)
    assert saved
    monkeypatch.setattr(compose_module, "LABELS_VERSION", compose_module.LABELS_VERSION + 1)
    assert compose_module._load_labels(style / compose_module.LABELS_FILE, sha) == {}
    kept = compose_module._load_labels(style / compose_module.LABELS_FILE, sha, any_version=True)
    assert kept.keys() == saved.keys()
    monkeypatch.setattr(learn_module, "LABELS_VERSION", compose_module.LABELS_VERSION)
    again = learn(small_font, style, method="compose", progress=False)
    summary = json.loads((again / "manifest.json").read_text())["jamo_inventory"]
    assert not summary.get("kept_from_an_earlier_run") and summary["labels_reused"] == 0 < summary["labelled"]
    stored = json.loads((style / compose_module.INVENTORY_FILE).read_text())
    assert stored["labels_version"] == compose_module.LABELS_VERSION


def erase_vowel(font: FontJamo, donor: int) -> None:
    """A known syllable's vowel ink lost to every jamo of it, as a cut that gives its strokes to no jamo would
    leave it (what the font keeps of that drawing goes with it)."""
    image = font.image(donor).copy()
    image[font.large_labels(donor) == MEDIAL] = 0
    font._images[donor] = image
    font.forget_jamo(donor)


@requires_corpus
def test_a_composed_syllable_that_reads_as_another_is_composed_again_from_other_donors(tmp_path):
    """NanumBarunGothicBold (a printed face the shipped recognizer reads) with a quarter of its KS X 1001
    syllables: of a dozen missing syllables it reads composed, three get their vowel donor damaged (its vowel's
    ink erased, as a cut that gives the vowel's strokes to no jamo would); those that then read as another
    syllable are planned again from donors they read right with. Those it reads right but unsure of are planned
    again where another plan reads surer."""
    from fontgen.compose import misread_syllables, replan_misread
    from fontgen.readability import RECOGNIZER_SIZE, load_recognizer, read_with_likelihood

    font = glyph_data.corpus_font("NanumBarunGothicBold")
    known = glyph_data.ksx1001_syllables()[::4]
    composer = composer_for_font(font.path, font.face, known, VariantTable.shipped())
    missing = [c for c in glyph_data.all_syllables() if c not in set(known)]
    targets = [c for c in missing if glyph_data.decompose(c).medial == glyph_data.MEDIALS.index("ㅕ")][40:43]
    plan = composer.inventory.coverage(targets + missing[::800])
    recognizer = load_recognizer()
    plan = {c: sources for c, sources in plan.items() if c not in misread_syllables(composer, plan, recognizer)}
    assert set(targets) <= set(plan) and len(plan) >= 10  # composed from good cuts, these read as intended
    damaged = {next(s.donor for s in plan[c] if s.role == MEDIAL) for c in targets}
    for donor in damaged:
        erase_vowel(composer.font, donor)
    misread = misread_syllables(composer, plan, recognizer)
    assert len(misread) >= 2 and set(misread) <= set(targets)  # (the recognizer guessed 꼅 without its ㅕ)
    assert all(glyph_data.decompose(read).medial != glyph_data.MEDIALS.index("ㅕ") for read in misread.values())
    done = replan_misread(composer, plan, recognizer, tmp_path / "labels.partial", "0" * 64)
    assert done["misread"] == len(misread) and done["replanned"] == len(misread) and done["misread_kept"] == ""
    for c in misread:
        assert next(s.donor for s in plan[c] if s.role == MEDIAL) not in damaged
    assert misread_syllables(composer, plan, recognizer) == {}

    # All read right now; those read with less than the probability asked are composed again, and a plan is
    # changed only for one the recognizer reads right and finds likelier; the sure ones are left as they are.
    def likelihoods(plan: dict) -> dict[int, float]:
        images = downsize(np.stack([composer.compose(c, plan[c]) for c in plan]), RECOGNIZER_SIZE)
        read, likelihood = read_with_likelihood(recognizer, images, list(plan))
        assert read == list(plan)
        return dict(zip(plan, likelihood))

    sure, before, first = 0.999, likelihoods(plan), dict(plan)
    done = replan_misread(composer, plan, recognizer, tmp_path / "labels.partial", "0" * 64, sure=sure)
    unsure = {c for c, score in before.items() if score < np.log(sure)}
    assert done["misread"] == 0 and done["unsure"] == len(unsure) and 0 < done["surer"] <= len(unsure) < len(plan)
    after = likelihoods(plan)
    changed = {c for c in plan if plan[c] != first[c]}
    assert len(changed) == done["surer"] and changed <= unsure
    assert all(after[c] > before[c] for c in changed)


@requires_corpus
def test_a_syllable_no_donor_makes_readable_keeps_the_plan_it_comes_closest_to_reading_right_with(tmp_path):
    """Every drawing of ㅕ erased (a font whose cut gives ㅕ's strokes to no jamo): its syllables read as others
    whatever their donors. Of the plans tried, each keeps the one whose intended reading the recognizer finds
    likeliest, flagged with what that one reads as."""
    from fontgen.compose import alternative_plans, misread_syllables, replan_misread
    from fontgen.readability import RECOGNIZER_SIZE, load_recognizer, read_with_likelihood

    font = glyph_data.corpus_font("NanumBarunGothicBold")
    known = glyph_data.ksx1001_syllables()[::4]
    composer = composer_for_font(font.path, font.face, known, VariantTable.shipped())
    yeo = glyph_data.MEDIALS.index("ㅕ")
    for donor in composer.inventory.by_jamo[MEDIAL, yeo]:
        erase_vowel(composer.font, donor)
    missing = [c for c in glyph_data.all_syllables() if c not in set(known)]
    plan = composer.inventory.coverage([c for c in missing if glyph_data.decompose(c).medial == yeo][::40])
    recognizer = load_recognizer()
    misread = misread_syllables(composer, plan, recognizer)  # nearly all (the ticks can stay with the initial)
    plan = {c: plan[c] for c in misread}
    first = dict(plan)
    assert len(plan) >= 5
    done = replan_misread(composer, plan, recognizer, tmp_path / "labels.partial", "0" * 64)
    assert done["replanned"] == 0 and sorted(map(ord, done["misread_kept"])) == sorted(plan)
    read_as = dict(zip(map(ord, done["misread_kept"]), map(ord, done["misread_as"])))
    moved = 0
    for c in plan:
        tried = [first[c]] + alternative_plans(composer.inventory, c, first[c], misread[c])
        images = downsize(np.stack([composer.compose(c, sources) for sources in tried]), RECOGNIZER_SIZE)
        readings, likelihood = read_with_likelihood(recognizer, images, [c] * len(tried))
        chosen = tried.index(plan[c])  # the likeliest (read in other batches here: equal to rounding)
        assert likelihood[chosen] >= likelihood.max() - 1e-4 and read_as[c] == readings[chosen] != c
        moved += chosen != 0
    assert done["likelier"] == moved > 0


def test_learn_says_what_it_did_with_the_syllables_its_recognizer_misread(tmp_path):
    """The report's inventory line: how many composed syllables the recognizer misread, how many of them were
    composed again from donors it reads right, how many of the rest from donors it came closer with, and of those
    it read right but unsure of, how many from donors it reads surer; a style learned when a font it misread too
    much was not re-planned says so."""
    from fontgen.learn import learn_report

    def said(readability: dict) -> str:
        inventory = {"labelled": 300, "composable": 10872, "model": 0, "readability": readability}
        (tmp_path / "manifest.json").write_text(json.dumps({"jamo_inventory": inventory, "seconds": 1}))
        return learn_report(tmp_path)[0]

    read = {"checked": 10872, "misread": 6517, "replanned": 2457, "likelier": 3212}
    assert ("6,517 composed syllables misread by the recognizer adapted to the font, 2,457 of them composed again "
            "from donors it reads right, 3,212 of the rest from donors it came closer to reading right") in said(read)
    assert "reads right)" in said({**read, "likelier": 0})  # nothing said of a closer plan where none was kept
    assert "; 1,456 it read right but unsure of from donors it reads surer)" in said({**read, "surer": 1456})
    assert "too many to trust it: none composed again" in said({**read, "replanned": 0, "not_trusted": True})
    assert "misread" not in said({"checked": 0})
