"""TOML recipes: the settings of every training run (recipes/*.toml), read and, for experiments, varied."""
from __future__ import annotations

import tomllib
from pathlib import Path

from fontgen.errors import FontgenError


def load_recipe(path: str | Path) -> dict:
    """A TOML recipe as a dict; a clear error when it is missing or malformed."""
    path = Path(path)
    if not path.exists():
        raise FontgenError(f"{path}: no such recipe")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise FontgenError(f"{path}: not a valid TOML recipe ({error})") from None


def require_sections(recipe: dict, path: str | Path, kind: str, sections: tuple[str, ...]) -> None:
    """Refuse a recipe of another kind, or one without a section this run reads, in one line."""
    missing = [f"[{name}]" for name in sections if not isinstance(recipe.get(name), dict)]
    if missing:
        wanted = ", ".join(f"[{name}]" for name in sections)
        raise FontgenError(f"{path}: not a {kind} recipe for this method (no {', '.join(missing)}; it needs {wanted})")


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
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
