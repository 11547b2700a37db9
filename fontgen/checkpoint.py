"""Training state in safetensors: weights, EMA weights, optimizer moments and the step, never pickled."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from fontgen.files import atomic_path


def save_safetensors_atomic(tensors: dict[str, torch.Tensor], path: Path, metadata: dict | None = None) -> None:
    """safetensors.save_file through a temp file and a rename."""
    with atomic_path(path) as partial:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(partial), metadata=metadata)


def save_training_state(path: str | Path, tensors: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer,
                        step: int, extra: dict | None = None) -> None:
    """Write named tensors plus the optimizer's state to one safetensors file, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    state = optimizer.state_dict()
    for param_id, param_state in state["state"].items():
        for key, value in param_state.items():
            out[f"optimizer.{param_id}.{key}"] = torch.as_tensor(value).detach().to("cpu").contiguous()
    metadata = {"step": str(step), "param_groups": json.dumps(state["param_groups"]), "extra": json.dumps(extra or {})}
    with atomic_path(path) as partial:
        save_file(out, str(partial), metadata=metadata)


def load_training_state(path: str | Path, optimizer: torch.optim.Optimizer | None = None):
    """Read a training state: returns (tensors without optimizer entries, step, extra); fills the optimizer."""
    from safetensors import safe_open

    path = Path(path)
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
    tensors = load_file(str(path))
    optimizer_entries: dict[int, dict[str, torch.Tensor]] = {}
    plain = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, param_id, name = key.split(".", 2)
            optimizer_entries.setdefault(int(param_id), {})[name] = value
        else:
            plain[key] = value
    if optimizer is not None and optimizer_entries:
        groups = json.loads(metadata["param_groups"])
        optimizer.load_state_dict({"state": optimizer_entries, "param_groups": groups})
    return plain, int(metadata["step"]), json.loads(metadata.get("extra", "{}"))
