"""TOML recipes: the settings of every training run (recipes/*.toml), read and, for experiments, varied."""
from __future__ import annotations

import tomllib
from pathlib import Path

from fontgen.errors import FontgenError
from fontgen.files import write_text_atomic


def load_recipe(path: str | Path) -> dict:
    """A TOML recipe as a dict; a clear error when it is missing or malformed."""
    path = Path(path)
    if not path.exists():
        raise FontgenError(f"{path}: no such recipe")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise FontgenError(f"{path}: not a valid TOML recipe ({error})") from None


REQUIRED = object()  # a key every recipe of its kind must set
# Every key a recipe may hold, by kind and section: (type, default) or (type, default, the values allowed).
# The defaults live here and nowhere else; a key not listed is refused, so a misspelt one never passes silently.
EARLY_STOP_METRICS = ("iou", "ssim", "ssim+iou", "loss")
TRAIN_LOSSES = ("sampler-steps", "diffusion")
HYPERNETWORK_ACTIVATIONS = ("linear", "relu", "leakyrelu", "elu", "swish", "tanh", "sigmoid")  # hypernetwork.py
LEARN_SECTIONS = {
    "learn": {"method": (str, REQUIRED), "image_size": (int, 64), "holdout_fraction": (float, 0.05),
              "holdout_min": (int, 16), "ink_level_train_glyphs": (int, 256), "min_glyphs": (int, 30),
              "batch_size": (int, 16), "seed": (int, 0), "train_loss": (str, "sampler-steps", TRAIN_LOSSES),
              "sampler_loss_weight": (float, 0.0)},
    "early_stop": {"eval_every": (int, 25), "patience": (int, 10), "sample_glyphs": (int, 16),
                   "metric": (str, "iou", EARLY_STOP_METRICS)},
    "ti": {"steps": (int, 100), "learning_rate": (float, 0.05), "num_vectors": (int, 1)},
    "lora": {"steps": (int, 300), "learning_rate": (float, 0.002), "rank": (int, 8), "alpha": (float, 8),
             "target_modules": (list[str], ["to_q", "to_k", "to_v", "to_out.0", "conv1", "conv2"])},
    "dreambooth": {"steps": (int, 300), "learning_rate": (float, 0.0002), "prior_loss_weight": (float, 0.5),
                   "prior_fonts": (int, 16)},
    "hypernetwork": {"steps": (int, 300), "learning_rate": (float, 0.001), "layer_structure": (list[float], [1, 2, 1]),
                     "activation": (str, "relu", HYPERNETWORK_ACTIVATIONS), "dropout": (float, 0.0)},
}
LEARN_STAGE_TWO = ("lora", "dreambooth", "hypernetwork")  # the methods with a section of their own
PRETRAIN_SECTIONS = {
    "data": {"split": (str, "train"), "fonts": (list[str], None), "max_fonts": (int, None),
             "charset": (str, "ksx1001"), "max_chars": (int, None), "image_size": (int, REQUIRED),
             "cache_dir": (str, "cache")},
    # The model's shape; what a recipe leaves out takes model.ModelConfig's default.
    "model": {"block_out_channels": (list[int], None), "layers_per_block": (int, None),
              "attention_heads": (int, None), "prompt_dim": (int, None), "prompt_layers": (int, None),
              "num_train_timesteps": (int, None), "beta_schedule": (str, None)},
    "train": {"output_dir": (str, REQUIRED), "steps": (int, REQUIRED), "batch_size": (int, REQUIRED),
              "learning_rate": (float, REQUIRED), "warmup_steps": (int, 0), "weight_decay": (float, 0.0),
              "ema_decay": (float, 0.999), "style_dropout": (float, 0.1), "seed": (int, 0), "log_every": (int, 25),
              "sample_every": (int, 250), "checkpoint_every": (int, 100)},
}


def learn_sections(method: str) -> tuple[str, ...]:
    """The sections a learn recipe for `method` holds: the shared ones, and the method's own."""
    return ("learn", "early_stop", "ti") + ((method,) if method in LEARN_STAGE_TWO else ())


def read_recipe(path: str | Path, kind: str, sections: tuple[str, ...]) -> dict:
    """A recipe of one kind ("learn" or "pretraining") read, checked and completed: every section it needs
    present, no other section and no unknown key, each value of its type, the defaults filled in (a default
    of None: the key stays out). Anything wrong is refused in one line naming the key."""
    recipe = load_recipe(path)
    schema = LEARN_SECTIONS if kind == "learn" else PRETRAIN_SECTIONS
    missing = [f"[{name}]" for name in sections if not isinstance(recipe.get(name), dict)]
    if missing:
        wanted = ", ".join(f"[{name}]" for name in sections)
        raise FontgenError(f"{path}: not a {kind} recipe for this method (no {', '.join(missing)}; it needs {wanted})")
    extra = [name for name in recipe if name not in sections]
    if extra:
        raise FontgenError(f"{path}: section [{extra[0]}] is not read by this {kind} run (its sections: "
                           f"{', '.join(f'[{name}]' for name in sections)})")
    checked = {}
    for name in sections:
        keys = schema[name]
        unknown = [key for key in recipe[name] if key not in keys]
        if unknown:
            raise FontgenError(f"{path}: [{name}] {unknown[0]} is not a recipe key (known: {', '.join(keys)})")
        section = {}
        for key, (kind_of, default, *allowed) in keys.items():
            if key in recipe[name]:
                section[key] = _checked_value(recipe[name][key], kind_of, f"{path}: [{name}] {key}")
                if allowed and section[key] not in allowed[0]:
                    raise FontgenError(f"{path}: [{name}] {key} = {section[key]!r}: choose {', '.join(allowed[0])}")
            elif default is REQUIRED:
                raise FontgenError(f"{path}: [{name}] lacks {key}, which every {kind} recipe sets")
            elif default is not None:
                section[key] = list(default) if isinstance(default, list) else default
        checked[name] = section
    return checked


TYPE_NAMES = {int: "an integer", float: "a number", str: "a string"}


def _checked_value(value, kind_of, where: str):
    """`value` if it is of the schema's type (an int where a float goes is fine), else a one-line refusal."""
    item = kind_of.__args__[0] if hasattr(kind_of, "__args__") else None  # list[int] -> int

    def fits(v, wanted) -> bool:
        return isinstance(v, (int, float) if wanted is float else wanted) and not isinstance(v, bool)

    if item is not None:
        if not isinstance(value, list) or not all(fits(v, item) for v in value):
            raise FontgenError(f"{where} = {value!r}: must be a list, each item {TYPE_NAMES[item]}")
    elif not fits(value, kind_of):
        raise FontgenError(f"{where} = {value!r}: must be {TYPE_NAMES[kind_of]}")
    return value


def _toml_value(value) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def write_recipe(source: str | Path, path: str | Path, **overrides) -> Path:
    """Copy a recipe with some [section] keys replaced, e.g. `early_stop={"patience": 12}`; returns `path`.

    Comments are not kept: the copy is for an experiment or a test, not for reading.
    """
    recipe = load_recipe(source)
    for section, values in overrides.items():
        recipe.setdefault(section, {}).update(values)
    lines = []
    for section, values in recipe.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
        lines.append("")
    path = Path(path)
    write_text_atomic(path, "\n".join(lines))
    return path
