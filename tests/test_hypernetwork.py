"""Hypernetworks on the tiny base model: structure, hooks, files, refusals (learning them: test_learn_generate)."""
import pytest
import torch

from fontgen.errors import FontgenError
from fontgen.hypernetwork import (Hypernetwork, HypernetworkConfig, apply_hypernetwork, load_hypernetwork,
                                  save_hypernetwork)
from fontgen.model import load_model


def _predict(model, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    size = model.config.image_size
    noisy, content = torch.randn((2, 1, size, size), generator=generator), torch.randn((2, 1, size, size),
                                                                                       generator=generator)
    ids = model.tokenizer.encode("font", [0xAC00, 0xD7A3])
    with torch.no_grad():
        return model(noisy, torch.tensor([500, 100]), content, ids)


def test_hooks_change_only_the_cross_attention_context_and_come_off(tiny_model):
    model = load_model(tiny_model)
    before = _predict(model)
    hypernetwork = Hypernetwork.for_unet(model.unet, layer_structure=[1, 1.5, 1], activation="swish")
    assert hypernetwork.config.context_dims == [model.config.prompt_dim]
    apply_hypernetwork(model, hypernetwork)
    assert torch.equal(_predict(model), before)  # last layers start at zero: the base model
    seen = []
    for pair in hypernetwork.by_width.values():
        for network in pair.values():
            torch.nn.init.normal_(network.mlp[-1].weight, std=0.5)
            network.register_forward_hook(lambda module, args, output: seen.append(args[0].shape))
    changed = _predict(model)
    assert not torch.allclose(changed, before)
    # Every cross-attention reads keys and values through the networks: the prompt, 4 tokens of width 32.
    cross = sum(1 for m in model.unet.modules() if getattr(m, "is_cross_attention", False))
    assert cross > 0 and len(seen) == 2 * cross and all(shape[-2:] == (4, 32) for shape in seen)
    hypernetwork.set_strength(0.0)
    assert torch.equal(_predict(model), before)
    hypernetwork.set_strength(1.0)
    hypernetwork.detach()
    assert torch.equal(_predict(model), before)


def test_saved_file_rebuilds_the_same_networks(tiny_model, tmp_path):
    model = load_model(tiny_model)
    hypernetwork = Hypernetwork.for_unet(model.unet, layer_structure=[1, 3, 2, 1], activation="elu", dropout=0.1)
    for parameter in hypernetwork.parameters():
        torch.nn.init.normal_(parameter, std=0.1)
    path = tmp_path / "hypernetwork.safetensors"
    save_hypernetwork(hypernetwork, path)
    assert [p.name for p in tmp_path.iterdir()] == ["hypernetwork.safetensors"]  # no temporary file left
    loaded = load_hypernetwork(path)
    assert loaded.config == hypernetwork.config
    for (name, a), (_, b) in zip(hypernetwork.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    apply_hypernetwork(model, hypernetwork)
    hypernetwork.eval()
    expected = _predict(model)
    hypernetwork.detach()
    fresh = load_model(tiny_model)
    apply_hypernetwork(fresh, loaded)
    fresh.eval()
    assert torch.equal(_predict(fresh), expected)


@pytest.mark.parametrize("structure, match", [
    ({"layer_structure": [2, 1]}, "start and end with 1"),
    ({"layer_structure": [1, 0, 1]}, "above 0"),
    ({"layer_structure": [1, 1e6, 1]}, "at most 16"),
    ({"layer_structure": "1-2-1"}, "layer_structure"),
    ({"activation": "gelu2"}, "activation"),
    ({"dropout": 1.0}, "dropout"),
])
def test_bad_structure_is_refused_in_one_line(structure, match):
    with pytest.raises(FontgenError, match=match):
        HypernetworkConfig(context_dims=[64], **structure)


def test_the_recipe_schema_allows_exactly_the_activations_there_are():
    from fontgen.hypernetwork import ACTIVATIONS
    from fontgen.recipe import HYPERNETWORK_ACTIVATIONS

    assert set(HYPERNETWORK_ACTIVATIONS) == set(ACTIVATIONS)


def test_damaged_or_foreign_file_is_refused(tiny_model, tmp_path):
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}garbage")
    with pytest.raises(FontgenError, match="not a fontgen hypernetwork"):
        load_hypernetwork(damaged)
    # A hypernetwork for another base model's context width is refused when applied.
    other = Hypernetwork(HypernetworkConfig(context_dims=[64]))
    with pytest.raises(FontgenError, match="context width 32"):
        apply_hypernetwork(load_model(tiny_model), other)
