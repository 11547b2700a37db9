"""Hypernetworks: small residual MLPs on the context that feeds each cross-attention's key and value projections.

As in Stable Diffusion WebUI's hypernetworks, one pair of networks (one for keys, one for values) per context
width; the UNet's weights stay untouched. Each network maps the prompt encoding `c` to `c + strength * mlp(c)`,
its last layer starting at zero, so training starts from the base model (with the learned token) and strength
0 is textual inversion alone. Applied with forward pre-hooks on the `to_k` and `to_v` layers of every
cross-attention block, removed by `detach`.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
from diffusers.models.attention_processor import Attention
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file

from fontgen.checkpoint import save_safetensors_atomic
from fontgen.errors import FontgenError

HYPERNETWORK_FILE = "hypernetwork.safetensors"
MAX_WIDTH_MULTIPLIER = 16  # a wider layer learns nothing more from a 4-token prompt, and could exhaust memory
ACTIVATIONS = {"linear": nn.Identity, "relu": nn.ReLU, "leakyrelu": nn.LeakyReLU, "elu": nn.ELU, "swish": nn.SiLU,
               "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


@dataclass
class HypernetworkConfig:
    """The structure of a hypernetwork: what `recipes/hypernetwork.toml` sets and the saved file's metadata keeps.

    `layer_structure` multiplies the context width layer by layer (1-2-1: width 64 -> 128 -> 64); the
    activation and dropout follow every layer but the last."""

    context_dims: list[int]
    layer_structure: list[float] = field(default_factory=lambda: [1.0, 2.0, 1.0])
    activation: str = "relu"
    dropout: float = 0.0

    def __post_init__(self) -> None:
        structure = self.layer_structure
        numbers = isinstance(structure, (list, tuple)) and all(
            isinstance(m, (int, float)) and not isinstance(m, bool) for m in structure)
        if (not numbers or len(structure) < 2 or structure[0] != 1 or structure[-1] != 1
                or any(not 0 < m <= MAX_WIDTH_MULTIPLIER for m in structure)):
            raise FontgenError(f"hypernetwork layer_structure {structure!r}: it must start and end with 1 "
                               f"(the context width) and multiply it by numbers above 0 and at most "
                               f"{MAX_WIDTH_MULTIPLIER} between, e.g. [1, 2, 1]")
        if not isinstance(self.activation, str) or self.activation not in ACTIVATIONS:
            raise FontgenError(f"hypernetwork activation {self.activation!r}: choose from {', '.join(ACTIVATIONS)}")
        if not isinstance(self.dropout, (int, float)) or not 0.0 <= self.dropout < 1.0:
            raise FontgenError(f"hypernetwork dropout {self.dropout}: choose 0 up to (not including) 1")
        if not self.context_dims or any(int(d) <= 0 for d in self.context_dims):
            raise FontgenError(f"hypernetwork context widths {self.context_dims}: none, or not positive")


class ContextMLP(nn.Module):
    """One residual MLP: `c + strength * mlp(c)`, the last layer zero at the start."""

    def __init__(self, dim: int, config: HypernetworkConfig):
        super().__init__()
        widths = [max(1, int(round(dim * m))) for m in config.layer_structure]
        layers: list[nn.Module] = []
        for i, (width_in, width_out) in enumerate(zip(widths, widths[1:])):
            layers.append(nn.Linear(width_in, width_out))
            if i < len(widths) - 2:
                layers.append(ACTIVATIONS[config.activation]())
                if config.dropout > 0:
                    layers.append(nn.Dropout(config.dropout))
        nn.init.zeros_(layers[-1].weight)
        nn.init.zeros_(layers[-1].bias)
        self.mlp = nn.Sequential(*layers)
        self.strength = 1.0

    def forward(self, context: torch.Tensor) -> torch.Tensor:
        if self.strength == 0.0:
            return context
        return context + self.strength * self.mlp(context)


class Hypernetwork(nn.Module):
    """A (keys, values) pair of `ContextMLP`s per context width."""

    def __init__(self, config: HypernetworkConfig):
        super().__init__()
        self.config = config
        self.by_width = nn.ModuleDict({str(dim): nn.ModuleDict({"k": ContextMLP(dim, config),
                                                                "v": ContextMLP(dim, config)})
                                       for dim in config.context_dims})
        self._hooks: list = []

    @classmethod
    def for_unet(cls, unet: nn.Module, **structure) -> "Hypernetwork":
        """A new hypernetwork for every context width the UNet's cross-attention layers take."""
        return cls(HypernetworkConfig(context_dims=sorted({a.to_k.in_features for a in cross_attentions(unet)}),
                                      **structure))

    def set_strength(self, strength: float) -> None:
        """How much of the learned change applies: 0 is the base model with the token alone, 1 all of it."""
        if not 0.0 <= strength <= 1.0:
            raise FontgenError(f"--hypernetwork-strength {strength}: choose 0 to 1")
        for module in self.modules():
            if isinstance(module, ContextMLP):
                module.strength = float(strength)

    def attach(self, unet: nn.Module) -> None:
        """Transform the context of every cross-attention's key and value projections (forward pre-hooks)."""
        self.detach()
        for attention in cross_attentions(unet):
            width = str(attention.to_k.in_features)
            if width not in self.by_width:
                raise FontgenError(f"this hypernetwork has no networks for context width {attention.to_k.in_features} "
                                   "(it was made for another base model)")
            pair = self.by_width[width]
            for projection, network in ((attention.to_k, pair["k"]), (attention.to_v, pair["v"])):
                self._hooks.append(projection.register_forward_pre_hook(
                    lambda module, args, network=network: (network(args[0]),) + tuple(args[1:])))

    def detach(self) -> None:
        """Remove the hooks: the UNet is the base model again."""
        for hook in self._hooks:
            hook.remove()
        self._hooks = []


def apply_hypernetwork(model: nn.Module, hypernetwork: Hypernetwork, strength: float = 1.0) -> None:
    """Make a hypernetwork part of a glyph model: a submodule (so train/eval, `to` and `parameters` reach it),
    hooked into its UNet's cross-attention at `strength`."""
    hypernetwork.set_strength(strength)
    model.add_module("hypernetwork", hypernetwork)
    hypernetwork.attach(model.unet)


def cross_attentions(unet: nn.Module) -> list[Attention]:
    """The UNet's cross-attention layers (those whose keys and values read the prompt)."""
    return [m for m in unet.modules() if isinstance(m, Attention) and m.is_cross_attention]


def save_hypernetwork(hypernetwork: Hypernetwork, path: Path) -> None:
    """The networks' weights as safetensors, their structure in the file's metadata (atomically)."""
    save_safetensors_atomic(hypernetwork.by_width.state_dict(), path,
                            metadata={"format": "pt", "fontgen": "hypernetwork",
                                      "structure": json.dumps(asdict(hypernetwork.config))})


def load_hypernetwork(path: Path) -> Hypernetwork:
    """A hypernetwork rebuilt from its file's metadata, its weights loaded; a clear error when the file is not one."""
    try:
        with safe_open(str(path), "pt") as handle:
            metadata = handle.metadata() or {}
        structure = json.loads(metadata["structure"])
        hypernetwork = Hypernetwork(HypernetworkConfig(**structure))
        hypernetwork.by_width.load_state_dict(load_file(str(path)))
    except FontgenError:
        raise
    except (OSError, SafetensorError, KeyError, TypeError, ValueError, RuntimeError) as error:
        raise FontgenError(f"{path}: not a fontgen hypernetwork ({str(error).splitlines()[0][:120]})") from None
    return hypernetwork
