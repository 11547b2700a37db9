"""learn (ti, lora, dreambooth, hypernetwork) on a small font, artifacts reloaded into a fresh model, generate
resumes."""
import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import glyph_data
from fontgen.cli import main
from fontgen.errors import FontgenError
from fontgen.evaluate import draw
from fontgen.generate import generate
from fontgen.ink_level import choose_ink_level, ink_level_score
from fontgen.learn import learn, learn_report, token_for_font
from fontgen.model import load_model
from fontgen.render import GlyphRenderer, crisp, finish_glyphs, similarity
from fontgen.hypernetwork import HYPERNETWORK_FILE
from fontgen.style import EMBEDDINGS_FILE, LORA_FILE, UNET_FILE, load_style
from tests.conftest import NANUM_GOTHIC, build_hangul_font, requires_corpus

pytestmark = requires_corpus
CHARS = [0xAC01, 0xB1FD, 0xD7A3, 0xC2A4]
NANUM_BRUSH = NANUM_GOTHIC.with_name("NanumBrush.ttf")
SMALL_PEN_TOKEN = token_for_font(Path("SmallPen.ttf"))  # the small_font fixture's


@pytest.fixture(scope="module", params=["ti", "lora", "dreambooth", "hypernetwork"])
def learned(request, tmp_path_factory, small_font, tiny_model, learn_recipes):
    folder = tmp_path_factory.mktemp(f"style-{request.param}") / "small.fontgen"
    learn(small_font, folder, method=request.param, recipe=learn_recipes[request.param], base=tiny_model,
          progress=False)
    return request.param, folder


def test_style_folder_holds_the_artifacts(learned):
    method, folder = learned
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["method"] == method and manifest["token"] == SMALL_PEN_TOKEN
    assert len(manifest["source"]["hangul"]) == 120 and len(manifest["held_back"]) >= 8
    embeds = load_file(str(folder / "learned_embeds.safetensors"))
    assert list(embeds) == [SMALL_PEN_TOKEN] and embeds[SMALL_PEN_TOKEN].shape == (32,)
    assert (folder / "preview.png").exists()
    if method == "lora":
        from safetensors import safe_open

        with safe_open(str(folder / "pytorch_lora_weights.safetensors"), "pt") as handle:
            assert "lora_adapter_metadata" in handle.metadata()
            assert any("lora_A" in key for key in handle.keys())
    if method == "dreambooth":
        assert (folder / "unet.safetensors").stat().st_size > 100_000
    if method == "hypernetwork":
        from safetensors import safe_open

        with safe_open(str(folder / "hypernetwork.safetensors"), "pt") as handle:
            structure = json.loads(handle.metadata()["structure"])
        assert structure["layer_structure"] == [1, 2, 1] and structure["context_dims"] == [32]  # the tiny base's
    assert all(stage["history"] for stage in manifest["stages"])  # each stage scored on the held-back glyphs
    report = learn_report(folder)  # what learn prints: a line per stage, its time and what it bought
    first = next(i for i, line in enumerate(report) if not line.startswith("jamo"))  # after the inventory's lines
    stage_lines = report[first:first + len(manifest["stages"])]
    assert [line.split(":")[0] for line in stage_lines] == [s["name"] for s in manifest["stages"]]
    assert all(f"{s['held_back_score']:.3f} (best at step {s['best_step']})" in line
               for s, line in zip(manifest["stages"], stage_lines))
    # Which way generate draws by default: composed, the model, or the composition refined by the model at one
    # of three strengths, whichever came closest on syllables of their own (neither trained on nor held back:
    # those the font's other syllables compose); a tie keeps composition, refinement must beat both others.
    drawing = manifest["drawing"]
    assert 0 < drawing["glyphs"] <= len(manifest["choice_glyphs"])
    assert set(drawing["iou"]) == {"compose", "model", "refine 0.35", "refine 0.5", "refine 0.7"}
    ways = sorted(drawing["iou"], key=lambda way: (drawing["iou"][way], way == "compose", way == "model"))
    assert drawing["chosen"] == ways[-1].split()[0]
    assert drawing["refine"] == (float(ways[-1].split()[1]) if drawing["chosen"] == "refine" else 0.0)
    assert report[-2].startswith("generate draws with: ")
    # The composed side is scored as generate composes: donors chosen with the corpus variant table.
    from fontgen.compose import downsize, load_composer
    from fontgen.jamo import VariantTable

    composer = load_composer(folder, manifest["source"]["hangul"], VariantTable.shipped())
    composed = composer.composed_from_others(manifest["choice_glyphs"])
    codepoints = [c for c in manifest["choice_glyphs"] if c in composed]
    real = GlyphRenderer(manifest["source"]["path"], 128).render_many(codepoints)
    expected = similarity(real, downsize(np.stack([composed[c] for c in codepoints]), 128))["iou"]
    assert drawing["iou"]["compose"] == pytest.approx(expected, abs=1e-4)
    # The last stage's ink level is measured (generate uses it); textual inversion's own only where it is the
    # last stage: the others do not spend time drawing 256 more glyphs for a level nothing reads.
    stage = {"ti": "textual inversion", "lora": "LoRA", "dreambooth": "DreamBooth",
             "hypernetwork": "hypernetwork"}[method]
    assert list(manifest["ink_levels"]) == [stage]
    assert manifest["ink_level"] == manifest["ink_levels"][stage]
    assert 0.25 <= manifest["ink_level"] <= 0.8
    # Textual inversion's level is chosen on training glyphs too (one token cannot memorize them); a
    # specialized UNet's only on the held-back ones.
    held, known = len(manifest["held_back"]), len(manifest["source"]["hangul"])
    trained = known - held - len(manifest["choice_glyphs"])
    train_glyphs = manifest["recipe"]["learn"]["ink_level_train_glyphs"]
    assert manifest["ink_level_glyphs"] == {stage: held + min(train_glyphs, trained) if method == "ti" else held}


def test_no_held_back_glyph_is_trained_on(tmp_path, small_font, tiny_model, learn_recipes, monkeypatch):
    """Every batch both stages train on is recorded: none holds a glyph the manifest says was held back, or
    one of those the choice between composing and the model is made on (a set of its own)."""
    from fontgen.dataset import StyledGlyphs

    trained, original = set(), StyledGlyphs.batch

    def recording(self, indices):
        batch = original(self, indices)
        trained.update(int(c) for c in batch[3])
        return batch

    monkeypatch.setattr(StyledGlyphs, "batch", recording)
    folder = learn(small_font, tmp_path / "s.fontgen", method="lora", recipe=learn_recipes["lora"], base=tiny_model,
                   progress=False)
    manifest = json.loads((folder / "manifest.json").read_text())
    held, choice = set(manifest["held_back"]), set(manifest["choice_glyphs"])
    assert held and len(choice) == len(held) and not held & choice and len(trained) > 30
    assert not trained & (held | choice)


def test_reloaded_style_reproduces_the_same_glyphs(learned, tiny_model, tmp_path):
    _, folder = learned
    generate(folder, tmp_path / "a", CHARS, base=tiny_model, progress=False, method="model", batch_size=3)
    generate(folder, tmp_path / "b", CHARS, base=tiny_model, progress=False, method="model", batch_size=4)
    for codepoint in CHARS:
        a = np.asarray(Image.open(tmp_path / "a" / f"U+{codepoint:04X}.png"))
        b = np.asarray(Image.open(tmp_path / "b" / f"U+{codepoint:04X}.png"))
        assert a.shape == (128, 128) and np.array_equal(a, b)
    # The saved token is textual inversion's best state: the row it started from (the nearest train font's)
    # when nothing beat the start, a trained one otherwise.
    style = load_style(folder, tiny_model)
    manifest = json.loads((folder / "manifest.json").read_text())
    rows = style.model.prompt_encoder.token_embedding.weight
    learned_row = rows[style.model.tokenizer.ids[style.token]]
    start_row = rows[style.model.tokenizer.ids[manifest["initialized_from"]]]
    trained = manifest["stages"][0]["best_step"] > 0
    assert torch.equal(learned_row, start_row) != trained


@pytest.mark.parametrize("learned", ["hypernetwork"], indirect=True)
def test_hypernetwork_reloads_and_strength_zero_is_textual_inversion(learned, tiny_model, tmp_path):
    """The saved hypernetwork, reloaded into a fresh model, draws what the trained one drew; at strength 0 the
    style is the learned token alone; the UNet's own weights are never touched."""
    from fontgen.hypernetwork import load_hypernetwork
    from fontgen.style import EMBEDDINGS_FILE, load_embedding

    _, folder = learned
    saved = load_hypernetwork(folder / "hypernetwork.safetensors")
    last_layers = [m.mlp[-1].weight for m in saved.modules() if hasattr(m, "mlp")]
    assert len(last_layers) == 2 and all(w.abs().sum() > 0 for w in last_layers)  # trained away from zero

    def drawn(model, token, fit):
        return draw(model, token, fit, CHARS, steps=2)

    full, again = load_style(folder, tiny_model), load_style(folder, tiny_model)
    assert np.array_equal(drawn(full.model, full.token, full.fit), drawn(again.model, again.token, again.fit))
    token_only = load_model(tiny_model)
    token = load_embedding(token_only, folder / EMBEDDINGS_FILE)
    alone = drawn(token_only, token, full.fit)
    zero = load_style(folder, tiny_model, hypernetwork_strength=0.0)
    assert np.array_equal(drawn(zero.model, zero.token, zero.fit), alone)
    assert not np.array_equal(drawn(full.model, full.token, full.fit), alone)
    base = load_model(tiny_model).unet.state_dict()
    assert all(torch.equal(value, base[key]) for key, value in full.model.unet.state_dict().items())
    with pytest.raises(FontgenError, match="--hypernetwork-strength"):
        load_style(folder, tiny_model, hypernetwork_strength=1.5)
    damaged = shutil.copytree(folder, tmp_path / "damaged.fontgen")
    (damaged / "hypernetwork.safetensors").write_bytes((folder / "hypernetwork.safetensors").read_bytes()[:500])
    with pytest.raises(FontgenError, match="hypernetwork.safetensors: not a fontgen hypernetwork"):
        load_style(damaged, tiny_model)


def test_a_damaged_style_folder_is_refused_in_one_line(learned, tiny_model, tmp_path):
    """Each style file cut short, and manifests edited by hand, end `fontgen generate` in one line and exit 1:
    no traceback, and no glyph drawn from half a style."""
    method, folder = learned
    glyphs = tmp_path / "glyphs"

    def generate_through_cli(style: Path) -> tuple[int, str]:
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = main(["generate", str(style), "-o", str(glyphs), "--chars", chr(CHARS[0]), "--method", "model",
                         "--base", str(tiny_model)])
        return code, err.getvalue()

    model_files = sorted(p.name for p in folder.glob("*.safetensors") if p.name != "jamo_labels.safetensors")
    assert EMBEDDINGS_FILE in model_files and len(model_files) == (1 if method == "ti" else 2)
    for name in model_files:
        damaged = shutil.copytree(folder, tmp_path / f"cut {name}")
        data = (folder / name).read_bytes()
        (damaged / name).write_bytes(data[:len(data) // 2])
        code, err = generate_through_cli(damaged)
        assert code == 1 and err.startswith("fontgen: error:") and len(err.splitlines()) == 1, (name, err)
    manifest = json.loads((folder / "manifest.json").read_text())
    edits = {"method": "gan", "source": {"hangul": "가각"}, "layout_fit": [[1, 2]], "token": None,
             "drawing": {"chosen": "model"}, "ink_level": "heavy"}
    for key, value in edits.items():
        edited = shutil.copytree(folder, tmp_path / f"edited {key}")
        (edited / "manifest.json").write_text(json.dumps({**manifest, key: value}))
        code, err = generate_through_cli(edited)
        assert code == 1 and "damaged manifest" in err and len(err.splitlines()) == 1, (key, err)
    (edited / "manifest.json").write_text("[]")
    assert "damaged manifest (not a JSON object)" in generate_through_cli(edited)[1]
    assert not list(glyphs.glob("U+*.png"))


def test_generate_resumes_and_draws_only_missing(learned, tiny_model, tmp_path):
    _, folder = learned
    out = tmp_path / "glyphs"
    first = generate(folder, out, CHARS[:2], base=tiny_model, progress=False)
    stamp = (out / f"U+{CHARS[0]:04X}.png").stat().st_mtime_ns
    second = generate(folder, out, CHARS, base=tiny_model, progress=False)
    assert (first.drawn, second.drawn, second.kept) == (2, 2, 2)
    assert (out / f"U+{CHARS[0]:04X}.png").stat().st_mtime_ns == stamp
    assert (out / "contact_sheet.png").exists()


def test_missing_means_what_the_font_lacks(learned, tiny_model, tmp_path):
    _, folder = learned
    style = load_style(folder, tiny_model)
    from fontgen.fonts import resolve_chars

    missing = resolve_chars("missing", style.known)
    assert len(missing) == 11172 - 120 and not set(missing) & set(style.known)


def test_too_few_syllables_is_refused_with_the_count(tmp_path, tiny_model, learn_recipes):
    font = build_hangul_font(tmp_path / "tiny.ttf", glyph_data.ksx1001_syllables()[:12])
    with pytest.raises(FontgenError, match="12 Hangul syllables; at least 30"):
        learn(font, tmp_path / "x.fontgen", method="ti", recipe=learn_recipes["ti"], base=tiny_model, progress=False)


def test_style_from_another_base_is_refused(learned, tmp_path, small_font, learn_recipes):
    _, folder = learned
    from fontgen.model import GlyphDiffusion, ModelConfig, base_vocabulary, save_model

    other = tmp_path / "other-base"
    save_model(GlyphDiffusion(ModelConfig(image_size=32, block_out_channels=[16, 32], prompt_dim=32,
                                          vocabulary=base_vocabulary(["<x>"]))), other)
    with pytest.raises(FontgenError, match="another base model"):
        load_style(folder, other)


def test_resume_reuses_a_finished_textual_inversion(tmp_path, small_font, tiny_model, learn_recipes):
    import shutil

    from fontgen.fonts import file_sha256
    from fontgen.model import model_hash
    from fontgen.files import write_json_atomic

    first = learn(small_font, tmp_path / "a.fontgen", method="ti", recipe=learn_recipes["ti"], base=tiny_model,
                  progress=False)
    resumed = tmp_path / "b.fontgen"
    resumed.mkdir()
    shutil.copy(first / "learned_embeds.safetensors", resumed)
    write_json_atomic(resumed / "progress.json", {"source_sha256": file_sha256(small_font),
                                                  "base_model_sha256": model_hash(tiny_model), "num_vectors": 1,
                                                  "stage1": "done"})
    learn(small_font, resumed, method="lora", recipe=learn_recipes["lora"], base=tiny_model, progress=False,
          resume=True)
    manifest = json.loads((resumed / "manifest.json").read_text())
    assert [stage["name"] for stage in manifest["stages"]] == ["LoRA"]
    assert not (resumed / "progress.json").exists()
    assert torch.equal(load_file(str(first / "learned_embeds.safetensors"))[SMALL_PEN_TOKEN],
                       load_file(str(resumed / "learned_embeds.safetensors"))[SMALL_PEN_TOKEN])


@pytest.mark.parametrize("method", ["lora", "dreambooth", "hypernetwork"])
def test_ctrl_c_in_stage_two_saves_and_resume_goes_on(tmp_path, small_font, tiny_model, learn_recipes, monkeypatch,
                                                     method):
    import fontgen.finetune

    stage_two_calls = []

    def then_ctrl_c(real_loss):
        def loss_then_ctrl_c(model, *args, **kwargs):
            # Stage 2 is under way once more than the token trains (an adapter, the whole UNet, a hypernetwork).
            if model.training and any(p.requires_grad for name, p in model.named_parameters()
                                      if not name.startswith("prompt_encoder.")):
                stage_two_calls.append(1)
                if len(stage_two_calls) == 3:
                    raise KeyboardInterrupt
            return real_loss(model, *args, **kwargs)
        return loss_then_ctrl_c

    for loss_name in ("diffusion_loss", "sampler_steps_loss"):  # whichever the recipe trains on, and the prior's
        monkeypatch.setattr(fontgen.finetune, loss_name, then_ctrl_c(getattr(fontgen.finetune, loss_name)))
    folder = tmp_path / "small.fontgen"
    with pytest.raises(FontgenError, match="--resume"):
        learn(small_font, folder, method=method, recipe=learn_recipes[method], base=tiny_model, progress=False)
    progress = json.loads((folder / "progress.json").read_text())
    # DreamBooth's steps take two losses (its own and the prior's)
    done = {"lora": 2, "dreambooth": 1, "hypernetwork": 2}[method]
    assert progress["stage1"] == "done" and progress["stage2_method"] == method and progress["stage2_steps"] == done
    stage_two_name = {"lora": LORA_FILE, "dreambooth": UNET_FILE, "hypernetwork": HYPERNETWORK_FILE}[method]
    assert (folder / stage_two_name).exists()
    assert not (folder / "manifest.json").exists()
    damaged = shutil.copytree(folder, tmp_path / "damaged.fontgen")  # a saved file cut short: named, not resumed
    stage_two_file = damaged / stage_two_name
    stage_two_file.write_bytes(stage_two_file.read_bytes()[:100])
    with pytest.raises(FontgenError, match="saved progress is damaged"):
        learn(small_font, damaged, method=method, recipe=learn_recipes[method], base=tiny_model, progress=False,
              resume=True)

    learn(small_font, folder, method=method, recipe=learn_recipes[method], base=tiny_model, progress=False,
          resume=True)
    manifest = json.loads((folder / "manifest.json").read_text())
    [stage] = manifest["stages"]
    recipe_steps = {"lora": 8, "dreambooth": 6, "hypernetwork": 8}[method]
    assert stage["steps"] <= recipe_steps - done  # only what was left
    assert not (folder / "progress.json").exists()
    load_style(folder, tiny_model)


def test_early_stop_metric_comes_from_the_recipe(tmp_path, small_font, tiny_model, learn_recipes):
    from fontgen.recipe import write_recipe

    # SSIM, not the shipped recipes' IoU: the recipe's own choice is what early stopping keeps the best of.
    recipe = write_recipe(learn_recipes["ti"], tmp_path / "ti-ssim.toml", early_stop={"metric": "ssim"})
    folder = learn(small_font, tmp_path / "ssim.fontgen", method="ti", recipe=recipe, base=tiny_model, progress=False)
    [stage] = json.loads((folder / "manifest.json").read_text())["stages"]
    best = next(h for h in stage["history"] if h["step"] == stage["best_step"])
    assert stage["held_back_score"] == pytest.approx(best["ssim"])
    assert stage["held_back_score"] >= max(h["ssim"] for h in stage["history"]) - 1e-4
    assert all(0.0 <= h["iou"] <= 1.0 and -1.0 <= h["ssim"] <= 1.0 for h in stage["history"])
    recipe = write_recipe(learn_recipes["ti"], tmp_path / "ti-loss.toml", early_stop={"metric": "loss"})
    folder = learn(small_font, tmp_path / "loss.fontgen", method="ti", recipe=recipe, base=tiny_model, progress=False)
    [stage] = json.loads((folder / "manifest.json").read_text())["stages"]
    assert stage["held_back_loss"] <= min(h["loss"] for h in stage["history"]) + 1e-4
    assert stage["held_back_score"] == -stage["held_back_loss"]
    wrong = write_recipe(learn_recipes["ti"], tmp_path / "ti-bad.toml", early_stop={"metric": "psnr"})
    with pytest.raises(FontgenError, match=r"\[early_stop\] metric = 'psnr': choose iou, ssim, ssim\+iou, loss"):
        learn(small_font, tmp_path / "bad.fontgen", method="ti", recipe=wrong, base=tiny_model, progress=False)
    assert not (tmp_path / "bad.fontgen").exists()  # refused before any work


def test_textual_inversion_with_several_vectors(tmp_path, small_font, tiny_model, learn_recipes):
    folder = learn(small_font, tmp_path / "multi.fontgen", method="ti", recipe=learn_recipes["ti"], base=tiny_model,
                   progress=False, num_vectors=3)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["num_vectors"] == 3 and len(manifest["initialized_from"].split(", ")) == 3
    vectors = load_file(str(folder / "learned_embeds.safetensors"))[SMALL_PEN_TOKEN]
    assert vectors.shape == (3, 32)
    assert not torch.equal(vectors[0], vectors[1]) and not torch.equal(vectors[1], vectors[2])
    # Reloaded, the token stands for its three vectors, and the prompt grows by two positions.
    style = load_style(folder, tiny_model)
    ids = style.model.tokenizer.encode(style.token, CHARS)
    assert ids.shape == (len(CHARS), 6)
    assert torch.equal(style.model.prompt_encoder.token_embedding.weight[ids[0, :3]], vectors)
    for guidance in (1.0, 2.0):
        generate(folder, tmp_path / f"a{guidance}", CHARS, base=tiny_model, progress=False, method="model",
                 guidance=guidance)
        generate(folder, tmp_path / f"b{guidance}", CHARS, base=tiny_model, progress=False, method="model",
                 guidance=guidance, batch_size=2)
        for codepoint in CHARS:
            a = np.asarray(Image.open(tmp_path / f"a{guidance}" / f"U+{codepoint:04X}.png"))
            b = np.asarray(Image.open(tmp_path / f"b{guidance}" / f"U+{codepoint:04X}.png"))
            assert np.array_equal(a, b)
    with pytest.raises(FontgenError, match="num-vectors"):
        learn(small_font, tmp_path / "bad.fontgen", method="ti", recipe=learn_recipes["ti"], base=tiny_model,
              progress=False, num_vectors=0)


def test_sampler_loss_trains_what_generate_runs(tmp_path, small_font, tiny_model, learn_recipes, monkeypatch):
    import fontgen.finetune
    from fontgen.model import load_model
    from fontgen.recipe import write_recipe

    model = load_model(tiny_model)
    model.requires_grad_(False)
    model.prompt_encoder.token_embedding.weight.requires_grad_(True)
    content = torch.rand(3, 1, 32, 32) * 2 - 1
    ids = model.tokenizer.encode("font", CHARS[:3])
    loss = fontgen.finetune.sampler_loss(model, -torch.ones(3, 1, 32, 32), content, ids)
    loss.backward()
    gradient = model.prompt_encoder.token_embedding.weight.grad
    assert loss.item() > 0 and gradient[ids[0, 0]].abs().sum() > 0
    # With a weight in the recipe, every training step of both stages adds it.
    calls = []
    original = fontgen.finetune.sampler_loss
    monkeypatch.setattr(fontgen.finetune, "sampler_loss", lambda *args: calls.append(1) or original(*args))
    recipe = write_recipe(learn_recipes["lora"], tmp_path / "lora-sampler.toml", learn={"sampler_loss_weight": 0.5})
    folder = learn(small_font, tmp_path / "sampler.fontgen", method="lora", recipe=recipe, base=tiny_model,
                   progress=False)
    stages = json.loads((folder / "manifest.json").read_text())["stages"]
    assert len(calls) == sum(stage["steps"] for stage in stages) > 0


def test_sampler_steps_loss_trains_each_step_on_the_samplers_own_guess(tmp_path, small_font, tiny_model,
                                                                      learn_recipes, monkeypatch):
    import fontgen.finetune
    from fontgen.model import load_model
    from fontgen.recipe import write_recipe

    model = load_model(tiny_model)
    model.requires_grad_(False)
    model.prompt_encoder.token_embedding.weight.requires_grad_(True)
    content = torch.rand(3, 1, 32, 32) * 2 - 1
    ids = model.tokenizer.encode("font", CHARS[:3])
    passes = []  # (timesteps, noisy input, prediction) of each forward pass
    original_forward = type(model).forward

    def recording_forward(self, noisy, timesteps, *args, **kwargs):
        predicted = original_forward(self, noisy, timesteps, *args, **kwargs)
        passes.append((sorted(set(timesteps.tolist())), noisy.detach(), predicted.detach()))
        return predicted

    monkeypatch.setattr(type(model), "forward", recording_forward)
    loss = fontgen.finetune.sampler_steps_loss(model, -torch.ones(3, 1, 32, 32), content, ids)
    monkeypatch.setattr(type(model), "forward", original_forward)
    loss.backward()
    # One pass per sampler step, at the sampler's noise levels, the second fed the sampler's step from the first.
    scheduler = model.sampling_scheduler()
    scheduler.set_timesteps(2)
    assert [p[0] for p in passes] == [[int(t)] for t in scheduler.timesteps]
    first_step = scheduler.step(passes[0][2], scheduler.timesteps[0], passes[0][1]).prev_sample
    assert torch.allclose(passes[1][1], first_step, atol=1e-5)
    assert loss.item() > 0 and model.prompt_encoder.token_embedding.weight.grad[ids[0, 0]].abs().sum() > 0
    # The recipe's train_loss picks it for every training step of both stages; an unknown one is refused.
    calls = []
    original = fontgen.finetune.sampler_steps_loss
    monkeypatch.setattr(fontgen.finetune, "sampler_steps_loss",
                        lambda *args, **kwargs: calls.append(1) or original(*args, **kwargs))
    recipe = write_recipe(learn_recipes["lora"], tmp_path / "lora-steps.toml", learn={"train_loss": "sampler-steps"})
    folder = learn(small_font, tmp_path / "steps.fontgen", method="lora", recipe=recipe, base=tiny_model,
                   progress=False)
    stages = json.loads((folder / "manifest.json").read_text())["stages"]
    assert len(calls) == sum(stage["steps"] for stage in stages) > 0
    wrong = write_recipe(learn_recipes["ti"], tmp_path / "ti-bad-loss.toml", learn={"train_loss": "l1"})
    with pytest.raises(FontgenError, match=r"\[learn\] train_loss = 'l1': choose sampler-steps, diffusion"):
        learn(small_font, tmp_path / "bad.fontgen", method="ti", recipe=wrong, base=tiny_model, progress=False)
    assert not (tmp_path / "bad.fontgen").exists()


def test_style_pick_draws_the_users_glyphs_best(small_font, tiny_model):
    """The starting token is picked by how well it draws the user's glyphs, not by the loss alone."""
    from fontgen.dataset import StyledGlyphs, build_cache
    from fontgen.fonts import FontSource, reference_source
    from fontgen.learn import nearest_style_tokens
    from fontgen.paths import default_cache_dir
    from fontgen.model import load_model, sample, to_model_space, to_uint8
    from fontgen.render import ink_iou

    model = load_model(tiny_model)
    chars = glyph_data.ksx1001_syllables()[::19][:120]
    targets = build_cache([FontSource("user", small_font)], chars, 32, default_cache_dir(), progress=False)
    reference = build_cache([reference_source()], chars, 32, default_cache_dir(), progress=False)
    pairs = StyledGlyphs(targets, reference, ["<user>"])

    def drawn_iou(token, rows):
        real, content, _, codepoints = pairs.batch(rows)
        drawn = sample(model, to_model_space(content), model.tokenizer.encode(token, codepoints), steps=2,
                       generator=torch.Generator().manual_seed(0))
        return np.mean([ink_iou(a, b) for a, b in zip(real[:, 0].numpy(), to_uint8(drawn[:, 0]).numpy())])

    by_loss = nearest_style_tokens(model, pairs, count=3, drawn_rows=0)
    picked = nearest_style_tokens(model, pairs, count=3, shortlist=3)
    assert sorted(picked) == sorted(by_loss)  # the same finalists, reordered by the drawings
    rows = np.random.default_rng(1).choice(len(pairs), 32, replace=False)  # the rows the pick draws
    ious = [drawn_iou(token, rows) for token in picked]
    assert ious == sorted(ious, reverse=True)


def test_generate_draws_at_the_styles_ink_level(learned, tiny_model, tmp_path):
    """A higher ink level in the style folder makes the same drawings thinner (never heavier)."""
    _, folder = learned
    manifest = json.loads((folder / "manifest.json").read_text())
    ink = {}
    for level in (0.3, 0.7):
        style = tmp_path / f"at-{level}.fontgen"
        shutil.copytree(folder, style)
        (style / "manifest.json").write_text(json.dumps({**manifest, "ink_level": level}))
        generate(style, tmp_path / f"glyphs-{level}", CHARS, base=tiny_model, progress=False, method="model")
        ink[level] = np.stack([np.asarray(Image.open(tmp_path / f"glyphs-{level}" / f"U+{c:04X}.png")) < 128
                               for c in CHARS])
    assert ink[0.7].sum() < ink[0.3].sum()
    assert not (ink[0.7] & ~ink[0.3]).any()
    # --ink-level overrides the style's, and the folder is redrawn at it.
    report = generate(tmp_path / "at-0.3.fontgen", tmp_path / "glyphs-0.3", CHARS, base=tiny_model, progress=False,
                      method="model", ink_level=0.7)
    assert report.drawn == len(CHARS)
    redrawn = np.stack([np.asarray(Image.open(tmp_path / "glyphs-0.3" / f"U+{c:04X}.png")) < 128 for c in CHARS])
    assert np.array_equal(redrawn, ink[0.7])
    with pytest.raises(FontgenError, match="ink-level"):
        generate(folder, tmp_path / "never", CHARS, base=tiny_model, progress=False, method="model", ink_level=1.5)


@pytest.mark.parametrize("learned", ["lora"], indirect=True)
def test_generate_auto_draws_the_way_learn_measured_closer(learned, tiny_model, tmp_path):
    """`generate` (method auto) composes or has the model draw, as the style's manifest chose; sources.json
    says why the model drew; the compatibility letters are composed either way."""
    _, folder = learned
    manifest = json.loads((folder / "manifest.json").read_text())
    for chosen in ("compose", "model"):
        style = tmp_path / f"{chosen}.fontgen"
        shutil.copytree(folder, style)
        drawing = {**manifest["drawing"], "chosen": chosen, "iou": {"compose": 0.5, "model": 0.6}}
        (style / "manifest.json").write_text(json.dumps({**manifest, "drawing": drawing}))
        out = tmp_path / f"glyphs-{chosen}"
        report = generate(style, out, CHARS, base=tiny_model, progress=False, compat_jamo=True)
        sources = json.loads((out / "sources.json").read_text())
        froms = {sources["glyphs"][f"U+{c:04X}"]["from"] for c in CHARS}
        assert froms == {"composed" if chosen == "compose" else "model"}
        assert (report.composed, report.by_model) == ((len(CHARS), 0) if chosen == "compose" else (0, len(CHARS)))
        if chosen == "model":
            assert "IoU 0.600 against 0.500 composed" in sources["glyphs"][f"U+{CHARS[0]:04X}"]["why"]
        assert sources["glyphs"]["U+3131"]["from"] == "composed"  # ㄱ, a compatibility letter
        size = 256 if chosen == "compose" else 128  # composed glyphs are written larger
        assert Image.open(out / f"U+{CHARS[0]:04X}.png").size == (size, size)


@pytest.mark.parametrize("learned", ["lora"], indirect=True)
def test_refine_redraws_the_composition_with_the_model(learned, tiny_model, tmp_path):
    """`--refine S` has the model redraw each composed syllable from the composition noised to S: at 1 that is
    the model's own drawing, below it the drawing stays closer to the composition than the model's; refined
    glyphs are traced at export (no moved contours), sources.json says so, and auto refines as learn chose."""
    _, folder = learned

    def drawn(name, **options):
        report = generate(folder, tmp_path / name, CHARS, base=tiny_model, progress=False, output_size=128, **options)
        images = np.stack([np.asarray(Image.open(tmp_path / name / f"U+{c:04X}.png")) < 128 for c in CHARS])
        return report, images

    def iou(a, b):
        return (a & b).sum() / (a | b).sum()

    _, composed = drawn("composed", method="compose")
    _, by_model = drawn("model", method="model")
    report, all_the_way = drawn("refined-1", method="compose", refine=1.0)
    assert np.array_equal(all_the_way, by_model) and report.refined == len(CHARS)
    report, refined = drawn("refined", method="compose", refine=0.35)
    assert (report.composed, report.refined, report.outlined) == (len(CHARS), len(CHARS), 0)
    assert not list((tmp_path / "refined").glob("*.glif"))
    assert not np.array_equal(refined, composed) and not np.array_equal(refined, by_model)
    assert iou(refined, composed) > iou(by_model, composed)
    sources = json.loads((tmp_path / "refined" / "sources.json").read_text())
    assert sources["summary"]["refined_at"] == 0.35
    assert {g["refined"] for g in sources["glyphs"].values()} == {0.35}
    # auto refines only where learn chose it, at the strength it chose
    manifest = json.loads((folder / "manifest.json").read_text())
    style = tmp_path / "refining.fontgen"
    shutil.copytree(folder, style)
    drawing = {**manifest["drawing"], "chosen": "refine", "refine": 0.35}
    (style / "manifest.json").write_text(json.dumps({**manifest, "drawing": drawing}))
    report = generate(style, tmp_path / "auto", CHARS, base=tiny_model, progress=False, output_size=128)
    auto = np.stack([np.asarray(Image.open(tmp_path / "auto" / f"U+{c:04X}.png")) < 128 for c in CHARS])
    assert report.refined == len(CHARS) and np.array_equal(auto, refined)
    assert generate(style, tmp_path / "plain", CHARS, base=tiny_model, progress=False, method="compose").refined == 0
    for bad, message in ((1.5, "choose 0"), (0.5, "does not apply with --method model")):
        with pytest.raises(FontgenError, match=message):
            generate(folder, tmp_path / "never", CHARS, base=tiny_model, progress=False, method="model", refine=bad)


def test_generate_redraws_glyphs_of_another_style_or_setting(learned, tiny_model, tmp_path):
    """Resuming keeps only glyphs drawn with the same style and settings (e.g. after a re-learn)."""
    _, folder = learned
    out = tmp_path / "glyphs"
    generate(folder, out, CHARS, base=tiny_model, progress=False)
    assert generate(folder, out, CHARS, base=tiny_model, progress=False).drawn == 0
    assert generate(folder, out, CHARS, base=tiny_model, progress=False, seed=1).drawn == len(CHARS)
    relearned = tmp_path / "relearned.fontgen"
    shutil.copytree(folder, relearned)
    manifest = json.loads((relearned / "manifest.json").read_text())
    (relearned / "manifest.json").write_text(json.dumps({**manifest, "seconds": manifest["seconds"] + 1}))
    report = generate(relearned, out, CHARS[:2], base=tiny_model, progress=False, seed=1)
    assert (report.drawn, report.kept) == (2, 0)
    assert sorted(p.name for p in out.glob("U+*.png")) == sorted(f"U+{c:04X}.png" for c in CHARS[:2])


def test_ink_level_gives_drawings_the_real_stroke_weight():
    """Soft drawings too heavy (too faint) for the font get an ink level above (below) mid-gray, at which
    they finish closer to the real glyphs than at mid-gray; the font's own small renders keep mid-gray."""
    from skimage.filters import gaussian
    from skimage.morphology import dilation, disk

    chars = glyph_data.ksx1001_syllables()[:40:4]
    small = GlyphRenderer(NANUM_GOTHIC, 64).render_many(chars)
    real = GlyphRenderer(NANUM_GOTHIC, 128).render_many(chars)
    ink = small >= 128

    def soft(strokes: np.ndarray, strength: float) -> np.ndarray:
        return (np.stack([gaussian(glyph.astype(float), 1.0) for glyph in strokes]) * strength * 255).astype(np.uint8)

    heavy = soft(np.stack([dilation(glyph, disk(1)) for glyph in ink]), 1.0)
    faint = soft(ink, 0.75)
    for drawn, side in ((heavy, 1), (faint, -1)):
        level, level_scores = choose_ink_level(drawn, real)
        assert (level - 0.5) * side > 0.05
        assert ink_level_score(level_scores[level]) > ink_level_score(level_scores[0.5]) + 0.01
        assert similarity(real, finish_glyphs(drawn, 128, level)) == pytest.approx(level_scores[level])
    assert choose_ink_level(small, real)[0] == pytest.approx(0.5, abs=0.1)


def test_finished_glyphs_restore_the_font_from_its_small_renders():
    """A font's own 64 px renders, finished to 128 px, come out close to its 128 px renders: smooth edges of
    about a pixel's anti-aliasing; a high ink level thins soft edges but leaves solid ink and paper alone."""
    from skimage.metrics import structural_similarity

    chars = glyph_data.ksx1001_syllables()[:400:20]
    small = GlyphRenderer(NANUM_GOTHIC, 64).render_many(chars)
    real = GlyphRenderer(NANUM_GOTHIC, 128).render_many(chars)
    finished = finish_glyphs(small, 128)
    assert np.mean([structural_similarity(a, b, data_range=255) for a, b in zip(real, finished)]) > 0.95
    assert np.mean((finished >= 128) == (real >= 128)) > 0.99
    thin = finish_glyphs(small, 128, ink_level=0.8)
    assert (thin >= 128).sum() < (finished >= 128).sum()
    for level in (0.25, 0.8):
        assert crisp(small, level)[small == 255].min() == 255 and crisp(small, level)[small == 0].max() == 0
