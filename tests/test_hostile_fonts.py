"""Hundreds of damaged fonts through info, render, export and the first stage of learn, in process: each is refused
with one line or handled, never a traceback, a hang, a file left behind or a written font that does not
read back (`tests/hostile_fonts.py`; `benchmarks/hostile_fonts.py` runs thousands)."""
import collections

import pytest

from tests.conftest import requires_corpus
from tests.hostile_fonts import MUTATIONS, build_seeds, cases, run_case, write_glyph_folder

pytestmark = requires_corpus
CASES = 180
LEARN_EVERY = 15  # learn takes seconds a font; info and export a fraction of one


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    return build_seeds(tmp_path_factory.mktemp("hostile-seeds"))


def test_damaged_fonts_are_refused_in_one_line_or_handled(seeds, tmp_path):
    glyphs = write_glyph_folder(tmp_path / "glyphs", [0xAC01, 0xB137])
    results, failures = collections.Counter(), []
    refused_kinds = set()
    for case in cases(CASES):
        commands = ("info", "render", "export") + (("learn",) if case.number % LEARN_EVERY == 0 else ())
        for outcome in run_case(case, seeds, glyphs, commands):
            results[outcome.result] += 1
            if outcome.result == "refused":
                refused_kinds.add(case.kind)
                assert "mutated" in outcome.detail or "out-" in outcome.detail, outcome.detail  # names the file
            elif outcome.result != "ok":
                failures.append(f"{case} {outcome.command}: {outcome.result} {outcome.detail}")
    assert not failures, "\n".join(failures[:20])
    # The damage bites (most kinds make some font unreadable) and luckier fonts still go through.
    assert results["refused"] >= CASES // 2 and results["ok"] >= CASES // 10, results
    assert len(refused_kinds) >= len(MUTATIONS) - 1, refused_kinds


# Cases a battery with other case numbers found escaping (learn copies the known syllables into the style
# folder, and fontTools can read values it cannot write back).
FOUND_BEFORE = [("noto.otf", "garbage run", 20900), ("noto.otf", "flip bytes", 21350)]


def test_damage_found_by_earlier_batteries_is_refused(seeds, tmp_path):
    from tests.hostile_fonts import Case

    glyphs = write_glyph_folder(tmp_path / "glyphs", [0xAC01])
    for seed_name, kind, number in FOUND_BEFORE:
        outcomes = run_case(Case(seed_name, kind, number), seeds, glyphs, ("info", "export", "learn"))
        assert all(o.result in ("ok", "refused") for o in outcomes), [(o.command, o.detail) for o in outcomes]


def test_the_undamaged_seeds_go_through(seeds, tmp_path):
    from tests.hostile_fonts import Case

    glyphs = write_glyph_folder(tmp_path / "glyphs", [0xAC01])
    for name in seeds:
        outcomes = run_case(Case(name, "none", 0), seeds, glyphs, ("info", "render", "export"))
        assert [o.result for o in outcomes] == ["ok", "ok", "ok"], (name, [o.detail for o in outcomes])
