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


@pytest.mark.parametrize("method", ["ti", "lora", "dreambooth", "hypernetwork"])
def test_every_shipped_learn_recipe_is_read_whole(method):
    """Each shipped recipe sets only keys the schema knows, and its values are what a run reads."""
    from fontgen.recipe import learn_sections, read_recipe

    path = REPO / "recipes" / f"{method}.toml"
    checked, raw = read_recipe(path, "learn", learn_sections(method)), load_recipe(path)
    assert set(checked) == set(raw)
    for section, values in raw.items():
        assert {key: checked[section][key] for key in values} == values
    assert checked["learn"]["method"] == method


def test_defaults_fill_in_what_a_recipe_leaves_out(tmp_path):
    from fontgen.recipe import LEARN_SECTIONS, read_recipe

    short = tmp_path / "short.toml"
    short.write_text('[learn]\nmethod = "ti"\n[early_stop]\n[ti]\nsteps = 5\n')
    checked = read_recipe(short, "learn", ("learn", "early_stop", "ti"))
    assert checked["ti"] == {"steps": 5, "learning_rate": LEARN_SECTIONS["ti"]["learning_rate"][1], "num_vectors": 1}
    assert checked["learn"]["train_loss"] == "sampler-steps" and checked["early_stop"]["metric"] == "iou"


@pytest.mark.parametrize("override, match", [
    ({"lora": {"rnak": 4}}, r"\[lora\] rnak is not a recipe key"),
    ({"lora": {"steps": "many"}}, r"\[lora\] steps = 'many': must be an integer"),
    ({"lora": {"steps": True}}, r"\[lora\] steps = True: must be an integer"),
    ({"lora": {"learning_rate": "fast"}}, r"\[lora\] learning_rate = 'fast': must be a number"),
    ({"lora": {"target_modules": ["to_q", 3]}}, r"target_modules = \['to_q', 3\]: must be a list, each item a string"),
    ({"dreambooth": {"steps": 3}}, r"section \[dreambooth\] is not read"),
    ({"learn": {"method": "dreambooth"}}, "is a recipe for --method dreambooth, not lora"),
    ({"learn": {"image_size": 48}}, r"\[learn\] image_size 48 is not the base model's \(32 px\)"),
])
def test_a_wrong_key_or_value_is_refused_in_one_line(tmp_path, tiny_model, learn_recipes, small_font, override, match):
    from fontgen.learn import learn

    recipe = write_recipe(learn_recipes["lora"], tmp_path / "bad.toml", **override)
    with pytest.raises(FontgenError, match=match):
        learn(small_font, tmp_path / "style", method="lora", recipe=recipe, base=tiny_model, progress=False)
    assert not (tmp_path / "style" / "manifest.json").exists()


def test_a_pretraining_recipe_without_a_required_key_names_it(tmp_path):
    from fontgen.pretrain import read_pretrain_recipe

    recipe = load_recipe(REPO / "recipes" / "tiny.toml")
    del recipe["train"]["output_dir"]
    lines = [f"[{name}]\n" + "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in values.items())
             for name, values in recipe.items()]
    (tmp_path / "r.toml").write_text("\n".join(lines).replace("True", "true").replace("False", "false"))
    with pytest.raises(FontgenError, match=r"\[train\] lacks output_dir"):
        read_pretrain_recipe(tmp_path / "r.toml")
