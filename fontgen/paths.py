"""Where the repository keeps its recipes and the shipped base checkpoint, and where caches go."""
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RECIPES = REPO_ROOT / "recipes"
DEFAULT_CHECKPOINT = REPO_ROOT / "checkpoints" / "base"


def default_cache_dir() -> Path:
    """Where rendered glyph caches and corpus tables live (FONTGEN_CACHE, else ~/.cache/fontgen)."""
    return Path(os.environ.get("FONTGEN_CACHE", Path.home() / ".cache" / "fontgen"))
