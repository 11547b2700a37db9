"""Character sets, jamo arithmetic, layout classes and the corpus split."""
import glyph_data


def test_charset_sizes():
    assert len(glyph_data.all_syllables()) == 11172
    ksx = glyph_data.ksx1001_syllables()
    assert len(ksx) == 2350 and len(set(ksx)) == 2350
    assert ksx[0] == 0xAC00 and ord("똠") not in ksx and ord("한") in ksx


def test_decompose_compose_round_trip():
    assert glyph_data.decompose(ord("한")).letters == "ㅎㅏㄴ"
    assert glyph_data.decompose(ord("가")).final == 0
    for codepoint in glyph_data.all_syllables()[::97]:
        jamo = glyph_data.decompose(codepoint)
        assert glyph_data.compose(jamo.initial, jamo.medial, jamo.final) == codepoint


def test_layout_classes():
    assert glyph_data.layout_class(ord("가")) == "vertical"
    assert glyph_data.layout_class(ord("고")) == "horizontal"
    assert glyph_data.layout_class(ord("과")) == "mixed"
    assert glyph_data.layout_class(ord("각")) == "vertical+final"
    assert glyph_data.layout_class(ord("곽")) == "mixed+final"
    counts = {}
    for codepoint in glyph_data.all_syllables():
        counts[glyph_data.layout_class(codepoint)] = counts.get(glyph_data.layout_class(codepoint), 0) + 1
    assert sum(counts.values()) == 11172 and set(counts) == set(glyph_data.LAYOUT_CLASSES)


def test_read_user_charset_text():
    text = "# my list\n가나 U+AC01, 0xD7A3\nu+ac01 다 # trailing comment\n"
    assert glyph_data.read_charset_text(text) == [0xAC00, 0xB098, 0xAC01, 0xD7A3, 0xB2E4]


def test_corpus_split_is_fixed_and_disjoint():
    val = glyph_data.corpus_split("val")
    assert len(val) >= 6
    assert {"handwriting", "brush", "serif", "display", "rounded", "bold sans"} <= {f.kind for f in val}
    train_paths = {f.path for f in glyph_data.corpus_split("train")}
    assert not train_paths & {f.path for f in val}
    # Whole families of val fonts are kept out of training.
    for prefix in ("NanumSquareRound", "NanumBarunGothic", "UnBatang", "NanumPen", "NanumBrush", "BMDOHYEON"):
        assert not [p for p in train_paths if p.name.startswith(prefix)]
    assert glyph_data.reference_font().name == "NotoSansCJKKR-Regular"
