"""Where the repository keeps its recipes and the shipped base checkpoint."""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RECIPES = REPO_ROOT / "recipes"
DEFAULT_CHECKPOINT = REPO_ROOT / "checkpoints" / "base"
