import pytest

from fontgen.errors import FontgenError
from fontgen.recipe import load_recipe, write_recipe
from tests.conftest import REPO


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
