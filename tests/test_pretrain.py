"""The tiny recipe trains end to end, resumes, and the model starts from the content glyph."""
import json
from pathlib import Path

import pytest
import torch

from fontgen.checkpoint import load_training_state
from fontgen.model import GlyphDiffusion, ModelConfig, base_vocabulary, load_model, sample, to_model_space
from fontgen.pretrain import pretrain
from fontgen.recipe import write_recipe
from tests.conftest import REPO, requires_corpus

pytestmark = requires_corpus


def test_untrained_model_draws_the_content_glyph():
    model = GlyphDiffusion(ModelConfig(image_size=32, block_out_channels=[16, 32], prompt_dim=32,
                                       vocabulary=base_vocabulary(["<a>"])))
    content = to_model_space(torch.randint(0, 256, (2, 1, 32, 32), dtype=torch.uint8))
    ids = model.tokenizer.encode("<a>", [0xAC00, 0xD7A3])
    drawn = sample(model.eval(), content, ids, steps=4, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(drawn, content.clamp(-1, 1), atol=1e-4)


def test_tiny_recipe_loss_goes_down_and_samples(tiny_model):
    log = [json.loads(line) for line in (tiny_model.parent / "log.jsonl").read_text().splitlines()]
    assert log[-1]["loss"] < 0.8 * log[0]["loss"]
    assert log[-1]["loss"] < log[-1]["content_loss"]
    model = load_model(tiny_model)
    assert model.config.image_size == 32 and "<NanumGothic>" in model.tokenizer.ids
    grids = sorted(tiny_model.parent.glob("samples_*.png"))
    assert grids
    from PIL import Image

    grid = Image.open(grids[-1])
    assert grid.size[0] == 32 * 8 and min(grid.getextrema()) == 0  # there is ink in the samples


def test_resume_continues_from_the_checkpoint(tmp_path, tiny_model):
    recipe = write_recipe(REPO / "recipes" / "tiny.toml", tmp_path / "r.toml",
                          data={"cache_dir": str(tiny_model.parent.parent / "cache")},
                          train={"output_dir": str(tmp_path / "run"), "steps": 12, "checkpoint_every": 4,
                                 "sample_every": 1000})
    pretrain(recipe, device="cpu", max_steps=4, progress=False)
    _, step, _ = load_training_state(tmp_path / "run" / "train_state.safetensors")
    assert step == 4
    pretrain(recipe, device="cpu", progress=False)
    tensors, step, _ = load_training_state(tmp_path / "run" / "train_state.safetensors")
    assert step == 12
    log_steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert log_steps == sorted(log_steps)
    # The resumed run is the uninterrupted one: weights, EMA, optimizer moments and random streams alike.
    whole = write_recipe(recipe, tmp_path / "whole.toml", train={"output_dir": str(tmp_path / "whole")})
    pretrain(whole, device="cpu", progress=False)
    from safetensors.torch import load_file

    resumed = load_file(str(tmp_path / "run" / "train_state.safetensors"))
    uninterrupted = load_file(str(tmp_path / "whole" / "train_state.safetensors"))
    assert set(resumed) == set(uninterrupted)
    assert {k.split(".")[0] for k in resumed} >= {"model", "ema", "optimizer", "rng"}
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in resumed)


def test_shipped_checkpoint_loads_by_default_and_draws():
    from fontgen.model import DEFAULT_CHECKPOINT
    from fontgen.reference import LayoutFit, fitted_reference_glyphs
    from safetensors import safe_open

    weights = DEFAULT_CHECKPOINT / "model.safetensors"
    assert weights.stat().st_size < 25_000_000
    with safe_open(str(weights), "pt") as handle:
        assert handle.get_tensor(next(iter(handle.keys()))).dtype == torch.float16
    model = load_model()
    size = model.config.image_size
    chars = [0xAC00, 0xD7A3]
    content = to_model_space(torch.from_numpy(fitted_reference_glyphs(chars, LayoutFit.identity(), size))[:, None])
    style = next(t for t in model.tokenizer.vocabulary if t.startswith("<Nanum"))
    drawn = sample(model, content, model.tokenizer.encode(style, chars), steps=2,
                   generator=torch.Generator().manual_seed(0))
    ink = (drawn > 0).float().mean().item()
    assert 0.02 < ink < 0.6  # a glyph, neither blank paper nor a blot


def test_a_new_run_can_start_from_shipped_weights(tmp_path, tiny_model):
    recipe = write_recipe(REPO / "recipes" / "tiny.toml", tmp_path / "r.toml",
                          data={"cache_dir": str(tiny_model.parent.parent / "cache")},
                          train={"output_dir": str(tmp_path / "run"), "steps": 64, "checkpoint_every": 4,
                                 "sample_every": 1000})
    pretrain(recipe, device="cpu", max_steps=2, progress=False, init_from=tiny_model)
    _, step, _ = load_training_state(tmp_path / "run" / "train_state.safetensors")
    assert step == 62  # the tiny model's 60 steps, then 2 more


def test_a_data_pack_trains_the_same_model_without_fonts(tmp_path, tiny_model, monkeypatch):
    from safetensors.torch import load_file

    from fontgen.datapack import write_pack
    from fontgen.pretrain import read_pretrain_recipe, training_caches

    def recipe_for(run: str, cache: str) -> Path:
        return write_recipe(REPO / "recipes" / "tiny.toml", tmp_path / f"{run}.toml",
                            data={"cache_dir": str(tmp_path / cache)},
                            train={"output_dir": str(tmp_path / run), "steps": 3, "sample_every": 3})

    from_fonts = recipe_for("from-fonts", "cache")
    pack = write_pack(training_caches(read_pretrain_recipe(from_fonts), progress=False), tmp_path / "tiny-pack.tar.xz",
                      read_pretrain_recipe(from_fonts))
    pretrain(from_fonts, device="cpu", progress=False)

    def no_fonts(*args, **kwargs):
        raise AssertionError("a run from a data pack must not open fonts")

    monkeypatch.setattr("fontgen.dataset.GlyphRenderer", no_fonts)
    pretrain(recipe_for("from-pack", "empty-cache"), device="cpu", progress=False, data_pack=pack)
    a = load_file(str(tmp_path / "from-fonts" / "model" / "model.safetensors"))
    b = load_file(str(tmp_path / "from-pack" / "model" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "from-pack" / "samples_000003.png").exists()


def test_a_pack_for_another_recipe_is_refused(tmp_path, tiny_model):
    from fontgen.datapack import write_pack
    from fontgen.errors import FontgenError
    from fontgen.pretrain import read_pretrain_recipe, training_caches

    recipe = write_recipe(REPO / "recipes" / "tiny.toml", tmp_path / "r.toml",
                          data={"cache_dir": str(tmp_path / "cache"), "max_chars": 64},
                          train={"output_dir": str(tmp_path / "run")})
    pack = write_pack(training_caches(read_pretrain_recipe(recipe), progress=False), tmp_path / "p.tar.xz",
                      read_pretrain_recipe(recipe))
    other = write_recipe(REPO / "recipes" / "tiny.toml", tmp_path / "o.toml", data={"cache_dir": str(tmp_path / "c2")},
                         train={"output_dir": str(tmp_path / "run2")})
    with pytest.raises(FontgenError, match="another recipe"):
        pretrain(other, device="cpu", progress=False, data_pack=pack)
    (tmp_path / "junk.tar.xz").write_bytes(b"not a pack")
    with pytest.raises(FontgenError, match="not a fontgen data pack"):
        pretrain(other, device="cpu", progress=False, data_pack=tmp_path / "junk.tar.xz")
