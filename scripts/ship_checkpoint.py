"""Copy a trained model folder into checkpoints/base/ as fp16 safetensors (what fontgen loads by default).

    python scripts/ship_checkpoint.py runs/base/model
"""
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fontgen.model import load_model, save_model  # noqa: E402
from fontgen.paths import DEFAULT_CHECKPOINT  # noqa: E402


def main() -> None:
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/base/model")
    meta = json.loads((source / "model.json").read_text())
    extra = {k: v for k, v in meta.items() if k != "config"}
    save_model(load_model(source), DEFAULT_CHECKPOINT, dtype=torch.float16, extra=extra)
    size = (DEFAULT_CHECKPOINT / "model.safetensors").stat().st_size
    print(f"shipped {source} (step {extra.get('steps')}) -> {DEFAULT_CHECKPOINT} ({size / 1e6:.1f} MB, fp16)")


if __name__ == "__main__":
    main()
