"""`kill -9` in every stage of learn, in generate and in export, on real subprocesses: the next run goes on
from the last save (losing at most that much work, counted), and nothing killed halfway ever loads as a
finished style, glyph or font."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

import glyph_data
from fontgen.compose import INVENTORY_FILE, Inventory
from fontgen.fonts import open_font, subset_font
from fontgen.recipe import write_recipe
from tests.conftest import NANUM_PEN, requires_corpus
from tests.conftest import run_cli as run  # the next run, in this process: what matters is what the kill left

pytestmark = requires_corpus
STEPS = 16  # of the stage a kill lands in (held-back evaluations, and saves, every 4)


def start(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "fontgen.cli", *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})


def kill_when(process: subprocess.Popen, ready, timeout: float = 300) -> None:
    """SIGKILL the process as soon as `ready()` holds (fails if it ends or times out first)."""
    deadline = time.time() + timeout
    while not ready():
        assert process.poll() is None, f"ended before the kill: {process.stderr.read()[-500:]}"
        assert time.time() < deadline, "the moment to kill never came"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()


def assert_not_a_style(folder: Path, tmp_path: Path) -> None:
    result = run("generate", folder, "-o", tmp_path / "never", "--chars", "갃")
    assert result.returncode == 1 and "not a style folder" in result.stderr, result.stderr


def test_a_killed_jamo_labelling_goes_on_from_its_last_save(tmp_path):
    known = glyph_data.ksx1001_syllables()[::16]  # 147 drawn syllables: labels saved after 100
    font = subset_font(NANUM_PEN, 0, known, tmp_path / "Pen147.ttf")
    style = tmp_path / "pen.fontgen"
    partial = style / "jamo_labels.safetensors.partial-run"
    kill_when(start("learn", font, "--method", "compose", "-o", style), partial.exists)
    assert_not_a_style(style, tmp_path)
    result = run("learn", font, "--method", "compose", "-o", style)
    assert result.returncode == 0, result.stderr
    summary = json.loads((style / "manifest.json").read_text())["jamo_inventory"]
    assert summary["labels_resumed"] >= 100  # only what came after the last save was done again
    assert not partial.exists()


@pytest.fixture()
def slow_recipes(learn_recipes, tmp_path):
    """The tests' learn recipes with more steps and no early stop, so that a kill lands inside a stage."""
    return {method: write_recipe(path, tmp_path / f"{method}.toml", early_stop={"eval_every": 4, "patience": 100},
                                 ti={"steps": STEPS if method == "ti" else 2},
                                 **({method: {"steps": STEPS}} if method != "ti" else {}))
            for method, path in learn_recipes.items()}


# LoRA's adapter is written by diffusers into a folder, then moved; the UNet and a hypernetwork go through the one
# atomic safetensors writer, the UNet the largest file a kill can land in. Each method's save and resume after
# Ctrl-C: test_learn_generate.
@pytest.mark.parametrize("method", ["lora", "dreambooth"])
def test_a_killed_second_stage_resumes_from_its_last_checkpoint(method, small_font, tiny_model, slow_recipes,
                                                                tmp_path):
    style = tmp_path / "small.fontgen"
    progress = style / "progress.json"

    def saved_steps() -> int:
        try:
            return json.loads(progress.read_text()).get("stage2_steps", 0)
        except (OSError, ValueError):
            return 0

    args = ("learn", small_font, "--method", method, "--recipe", slow_recipes[method], "--base", tiny_model,
            "-o", style)
    kill_when(start(*args), lambda: saved_steps() >= 8)
    done = saved_steps()
    assert_not_a_style(style, tmp_path)
    result = run(*args, "--resume")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((style / "manifest.json").read_text())
    assert manifest["initialized_from"] == "(resumed)"  # textual inversion was not redone
    assert [s["steps"] for s in manifest["stages"]] == [STEPS - done]  # nor the steps saved before the kill


def test_a_relearn_killed_in_textual_inversion_leaves_no_style_and_starts_again(small_font, tiny_model,
                                                                                slow_recipes, tmp_path):
    """Killed after the jamo inventory, in textual inversion's stage (nothing of the model saved yet): the folder's
    earlier style is gone, not mixed with the new run's files, and `--resume` learns from the start."""
    style = tmp_path / "small.fontgen"
    args = ("learn", small_font, "--method", "ti", "--recipe", slow_recipes["ti"], "--base", tiny_model, "-o", style)
    style.mkdir()
    (style / "manifest.json").write_text(json.dumps({"fontgen": 1, "method": "compose"}))  # an earlier style
    (style / INVENTORY_FILE).write_text("{}")  # the earlier style's inventory, replaced by the new run's
    process = start(*args)

    def new_inventory_written() -> bool:
        try:
            return json.loads((style / INVENTORY_FILE).read_text()) != {}
        except (OSError, ValueError):
            return False

    kill_when(process, new_inventory_written)
    assert not (style / "progress.json").exists()  # textual inversion had not finished
    assert_not_a_style(style, tmp_path)
    result = run(*args, "--resume")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((style / "manifest.json").read_text())
    assert manifest["method"] == "ti" and manifest["stages"][0]["steps"] == STEPS


def test_killed_generate_and_export_leave_only_whole_files(small_font, tmp_path):
    style = tmp_path / "small.fontgen"
    assert run("learn", small_font, "--method", "compose", "-o", style).returncode == 0
    known = set(json.loads((style / "manifest.json").read_text())["source"]["hangul"])
    inventory = Inventory.from_known(sorted(known))
    wanted = [c for c in glyph_data.all_syllables()[::7] if c not in known and inventory.can_compose(c)][:160]
    chars = tmp_path / "chars.txt"
    chars.write_text("".join(map(chr, wanted)))
    glyphs = tmp_path / "glyphs"
    kill_when(start("generate", style, "-o", glyphs, "--chars", chars),
              lambda: len(list(glyphs.glob("U+*.png"))) >= 5)
    drawn = list(glyphs.glob("U+*.png"))
    assert 5 <= len(drawn) < len(wanted)
    for path in drawn:  # each one whole (written to a temporary name, then renamed)
        with Image.open(path) as image:
            image.load()
    killed_export = tmp_path / "killed.ttf"  # what was drawn before the kill exports as it is
    assert run("export", small_font, glyphs, "-o", killed_export).returncode == 0
    assert {int(path.stem[2:], 16) for path in drawn} <= set(open_font(killed_export).getBestCmap())
    result = run("generate", style, "-o", glyphs, "--chars", chars)
    assert result.returncode == 0, result.stderr
    assert f"drew {len(wanted) - len(drawn)} glyphs" in result.stdout and f"{len(drawn)} already there" in result.stdout
    out = tmp_path / "done.ttf"
    process = start("export", small_font, glyphs, "-o", out)
    time.sleep(2.5)  # into the vectorizing of its 160 glyphs
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not out.exists() or open_font(out)  # nothing, or a whole font
    assert run("export", small_font, glyphs, "-o", out).returncode == 0
    assert set(wanted) <= set(open_font(out).getBestCmap())
