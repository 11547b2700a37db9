"""The style folder that `learn` writes and `generate` reads.

myfont.fontgen/
  learned_embeds.safetensors        {token: embedding}, diffusers' textual inversion format
  pytorch_lora_weights.safetensors  LoRA adapter (method lora), diffusers' format, config in metadata
  unet.safetensors                  the fine-tuned UNet (method dreambooth)
  hypernetwork.safetensors          the context networks (method hypernetwork), their structure in metadata
  manifest.json                     source font and base model hashes, recipe, steps, metrics, layout fit, ink level
  preview.png                       real vs generated held-back glyphs
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from fontgen.checkpoint import save_safetensors_atomic
from fontgen.errors import FontgenError
from fontgen.hypernetwork import HYPERNETWORK_FILE, apply_hypernetwork, load_hypernetwork
from fontgen.model import DEFAULT_CHECKPOINT, GlyphDiffusion, load_model, model_hash
from fontgen.reference import LayoutFit
from fontgen.render import INK_LEVEL

EMBEDDINGS_FILE = "learned_embeds.safetensors"
LORA_FILE = "pytorch_lora_weights.safetensors"
UNET_FILE = "unet.safetensors"
MANIFEST_FILE = "manifest.json"
ADAPTER_NAME = "style"


def add_style_token(model: GlyphDiffusion, token: str, initial: torch.Tensor, num_vectors: int = 1) -> list[int]:
    """Add a style token of `num_vectors` vectors to the tokenizer and embedding table.

    `initial` is one row (every vector starts from it) or one row per vector; returns the token's ids.
    """
    model.tokenizer.add_style(token, num_vectors)
    model.prompt_encoder.resize_token_embeddings(len(model.tokenizer))
    token_ids = model.tokenizer.style_ids(token)
    with torch.no_grad():
        model.prompt_encoder.token_embedding.weight[token_ids] = initial.reshape(-1, initial.shape[-1])
    return token_ids


def save_embedding(model: GlyphDiffusion, token: str, folder: Path) -> Path:
    """learned_embeds.safetensors in diffusers' format: {token: (dim,)}, or {token: (k, dim)} for k vectors."""
    rows = model.prompt_encoder.token_embedding.weight[model.tokenizer.style_ids(token)]
    path = folder / EMBEDDINGS_FILE
    save_safetensors_atomic({token: (rows[0] if len(rows) == 1 else rows).float()}, path)
    return path


def load_embedding(model: GlyphDiffusion, path: Path) -> str:
    """Add the tokens of a learned_embeds.safetensors file to the model; returns the (first) token."""
    embeds = load_file(str(path))
    if not embeds:
        raise FontgenError(f"{path}: no embedding in the file")
    dim = model.prompt_encoder.token_embedding.embedding_dim
    for token, vectors in embeds.items():
        if vectors.shape[-1] != dim or vectors.dim() > 2:
            raise FontgenError(f"{path}: embedding of shape {tuple(vectors.shape)} does not fit this base model")
        rows = vectors.reshape(-1, dim).to(model.prompt_encoder.token_embedding.weight)
        add_style_token(model, token, rows, num_vectors=len(rows))
    return next(iter(embeds))


@dataclass
class Style:
    """A base model with a learned style applied, and what generate needs to use it."""

    model: GlyphDiffusion
    token: str
    fit: LayoutFit
    manifest: dict
    folder: Path

    @property
    def known(self) -> list[int]:
        return self.manifest["source"]["hangul"]

    @property
    def ink_level(self) -> float:
        """The gray level generate takes as the ink edge (the font's stroke weight; 0.5 in older folders)."""
        return self.manifest.get("ink_level", INK_LEVEL)


def read_manifest(folder: str | Path) -> dict:
    """The manifest of a style folder; a clear error when the folder is not one."""
    folder = Path(folder)
    path = folder / MANIFEST_FILE
    if not path.exists():
        raise FontgenError(f"{folder}: not a style folder (no {MANIFEST_FILE}; make one with `fontgen learn`)")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise FontgenError(f"{path}: damaged manifest (not JSON); run `fontgen learn` again") from None
    problem = _manifest_problem(manifest)
    if problem:
        raise FontgenError(f"{path}: damaged manifest ({problem}); run `fontgen learn` again")
    return manifest


STYLE_METHODS = ("compose", "ti", "lora", "dreambooth", "hypernetwork")  # what a style folder can hold


def _manifest_problem(manifest) -> str | None:
    """What is wrong with a manifest's fields that generate and complete read (an edited or foreign file),
    or None."""
    if not isinstance(manifest, dict):
        return "not a JSON object"
    if manifest.get("method") not in STYLE_METHODS:
        return f"'method' is {manifest.get('method')!r}, not one of {', '.join(STYLE_METHODS)}"
    source = manifest.get("source")
    if not isinstance(source, dict):
        return "no 'source'"
    for key in ("hangul", "compat_jamo"):
        values = source.get(key, [])
        if not isinstance(values, list) or not all(type(c) is int and 0 <= c <= 0x10FFFF for c in values):
            return f"'source.{key}' is not a list of characters"
    if not all(0xAC00 <= c <= 0xD7A3 for c in source.get("hangul", [])):
        return "'source.hangul' holds a character that is not a Hangul syllable"
    ink_level = manifest.get("ink_level", INK_LEVEL)
    if type(ink_level) not in (int, float) or not 0.0 < ink_level < 1.0:
        return f"'ink_level' is {ink_level!r}"
    drawing = manifest.get("drawing", {})
    if not isinstance(drawing, dict) or drawing.get("chosen", "compose") not in ("compose", "model", "refine"):
        return "'drawing' is not what learn writes"
    if drawing.get("chosen") == "model" and not all(
            type(drawing.get("iou", {}).get(way)) in (int, float) for way in ("model", "compose")):
        return "'drawing.iou' lacks the scores of the two ways"
    if drawing.get("chosen") == "refine" and (type(drawing.get("refine")) not in (int, float)
                                              or not 0.0 <= drawing["refine"] <= 1.0):
        return "'drawing.refine' is not a strength from 0 to 1"
    if manifest["method"] != "compose":
        if not isinstance(manifest.get("token"), str):
            return "no 'token'"
        try:
            fit = np.array(manifest.get("layout_fit"), dtype=np.float64)
        except (TypeError, ValueError):
            fit = None
        if fit is None or fit.shape != LayoutFit.identity().affines.shape or not np.isfinite(fit).all():
            return "'layout_fit' is not a table of numbers"
    return None


def load_style(folder: str | Path, base: str | Path = DEFAULT_CHECKPOINT, device: str = "cpu",
               lora_scale: float = 1.0, hypernetwork_strength: float = 1.0) -> Style:
    """Load the base model and apply a style folder's embedding and adapter (UNet, hypernetwork) to it;
    `lora_scale` and `hypernetwork_strength` say how much of a LoRA or a hypernetwork applies."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest.get("base_model_sha256") != model_hash(base):
        raise FontgenError(f"{folder} was learned on another base model than {base}; run `fontgen learn` again")
    model = load_model(base)
    method = manifest["method"]
    try:
        token = load_embedding(model, folder / EMBEDDINGS_FILE)
        if method == "lora":
            model.unet.load_lora_adapter(str(folder / LORA_FILE), prefix=None, adapter_name=ADAPTER_NAME)
            model.unet.set_adapters([ADAPTER_NAME], weights=[lora_scale])
        elif method == "dreambooth":
            state = load_file(str(folder / UNET_FILE))
            model.unet.load_state_dict({k: v.float() for k, v in state.items()})
        elif method == "hypernetwork":
            apply_hypernetwork(model, load_hypernetwork(folder / HYPERNETWORK_FILE), hypernetwork_strength)
    except (OSError, SafetensorError, KeyError, ValueError, RuntimeError) as error:
        # A file cut short or replaced: the folder is no style any more, whatever the library says.
        raise FontgenError(f"{folder}: a damaged or missing style file ({str(error).splitlines()[0][:120]}); "
                           "run `fontgen learn` again") from None
    fit = LayoutFit(np.array(manifest["layout_fit"], dtype=np.float64))
    return Style(model.to(device).eval(), token, fit, manifest, folder)
