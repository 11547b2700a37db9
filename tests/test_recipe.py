import pytest

from fontgen.errors import FontgenError
from fontgen.recipe import load_recipe, write_recipe
from tests.conftest import NANUM_GOTHIC, REPO


def test_a_written_recipe_reads_back_as_the_source_with_the_overrides(tmp_path):
    source = REPO / "recipes" / "lora.toml"
    copy = write_recipe(source, tmp_path / "lora.toml", early_stop={"patience": 12},
                        learn={"note": 'a "quoted" C:\\path'}, extra={"flag": True})
    expected = load_recipe(source)
    expected["early_stop"]["patience"] = 12
    expected["learn"]["note"] = 'a "quoted" C:\\path'
    expected["extra"] = {"flag": True}
    assert load_recipe(copy) == expected


def test_a_missing_or_malformed_recipe_is_a_clear_error(tmp_path):
    with pytest.raises(FontgenError, match="no such recipe"):
        load_recipe(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[learn\nsteps = ")
    with pytest.raises(FontgenError, match="not a valid TOML recipe"):
        load_recipe(bad)


def test_a_recipe_of_the_wrong_kind_is_refused_in_one_line(tmp_path, capsys):
    """A pretraining recipe given to learn, a learn recipe to pretrain: one line naming what is missing."""
    from fontgen.cli import main

    assert main(["learn", str(NANUM_GOTHIC), "--method", "lora", "--recipe", str(REPO / "recipes" / "tiny.toml"),
                 "-o", str(tmp_path / "style")]) == 1
    error = capsys.readouterr().err.strip()
    assert "not a learn recipe for this method (no [learn], [early_stop], [ti], [lora]" in error
    assert len(error.splitlines()) == 1
    assert main(["pretrain", "--recipe", str(REPO / "recipes" / "lora.toml")]) == 1
    assert "not a pretraining recipe" in capsys.readouterr().err
