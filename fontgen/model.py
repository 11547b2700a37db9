"""The glyph diffusion model: a small diffusers UNet conditioned on a content glyph and a prompt.

Read it in one sitting:
- the prompt is four tokens, [style, initial, medial, final], from a vocabulary of our own: one style
  token per corpus font, the class token `font`, a null token used for classifier-free guidance, and
  one token per jamo; a tiny transformer encodes it for the UNet's cross-attention, and the encoded
  style token also modulates every ResNet block (diffusers' projection class embedding); a style
  learned by textual inversion may take several vectors (`token`, `token_1`, ...), which then fill
  several style positions in front of the jamo, all at the style position's embedding;
- the content is the target syllable in the reference font, fitted to the target's layout, given to
  the UNet as a second input channel;
- the UNet predicts the clean glyph as the content plus a correction (its output convolution starts at
  zero), so an untrained model already draws the fitted reference glyph, and training only has to
  learn how a style departs from it.
Images are in [-1, 1] with paper -1 and ink +1.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DConditionModel
from safetensors.torch import load_file, save_file

import glyph_data
from fontgen.errors import FontgenError
from fontgen.files import atomic_path, write_json_atomic
from fontgen.paths import DEFAULT_CHECKPOINT

NULL_TOKEN = "<null>"
CLASS_TOKEN = "font"
JAMO_POSITIONS = 3  # initial, medial, final: always the last three prompt positions


def jamo_tokens(codepoint: int) -> list[str]:
    """The three jamo tokens of a syllable, e.g. ['i:ㄱ', 'm:ㅏ', 'f:-']."""
    jamo = glyph_data.decompose(codepoint)
    final = glyph_data.FINALS[jamo.final] or "-"
    return [f"i:{glyph_data.INITIALS[jamo.initial]}", f"m:{glyph_data.MEDIALS[jamo.medial]}", f"f:{final}"]


def base_vocabulary(style_tokens: list[str]) -> list[str]:
    """Null and class tokens, every jamo token, then one token per style."""
    jamo = [f"i:{c}" for c in glyph_data.INITIALS] + [f"m:{c}" for c in glyph_data.MEDIALS]
    jamo += [f"f:{c or '-'}" for c in glyph_data.FINALS]
    return [NULL_TOKEN, CLASS_TOKEN, *jamo, *style_tokens]


def style_token(font_name: str) -> str:
    """The style token of a corpus font, e.g. '<NanumGothic>'."""
    return f"<{font_name}>"


class PromptTokenizer:
    """Maps prompts [style, initial, medial, final] to ids; new tokens can be added (textual inversion).

    A multi-vector style token stands for several ids, as in diffusers' textual inversion:
    `<myfont>` -> `<myfont>`, `<myfont>_1`, ...
    """

    def __init__(self, vocabulary: list[str]):
        self.vocabulary = list(vocabulary)
        self.ids = {token: i for i, token in enumerate(self.vocabulary)}
        self.vectors: dict[str, list[str]] = {}

    def __len__(self) -> int:
        return len(self.vocabulary)

    def add_tokens(self, tokens: list[str]) -> int:
        """Append tokens not yet known; returns how many were added."""
        added = 0
        for token in tokens:
            if token not in self.ids:
                self.ids[token] = len(self.vocabulary)
                self.vocabulary.append(token)
                added += 1
        return added

    def add_style(self, token: str, num_vectors: int = 1) -> list[str]:
        """Add a style token of one or more vectors; returns the tokens it stands for."""
        tokens = [token] + [f"{token}_{i}" for i in range(1, num_vectors)]
        self.add_tokens(tokens)
        if num_vectors > 1:
            self.vectors[token] = tokens
        return tokens

    def style_ids(self, style: str) -> list[int]:
        """The ids a style token stands for (one, or several for a multi-vector token)."""
        if style not in self.ids:
            raise FontgenError(f"unknown style token {style}")
        return [self.ids[t] for t in self.vectors.get(style, [style])]

    def encode(self, style: str, codepoints) -> torch.Tensor:
        """(n, k + 3) prompt ids for one style of k vectors and many syllables."""
        style_ids = self.style_ids(style)
        rows = [style_ids + [self.ids[t] for t in jamo_tokens(c)] for c in codepoints]
        return torch.tensor(rows, dtype=torch.long)

    def encode_many(self, styles: list[str], codepoints) -> torch.Tensor:
        """(n, 4) prompt ids, one single-vector style per syllable."""
        rows = [[self.ids[s]] + [self.ids[t] for t in jamo_tokens(c)] for s, c in zip(styles, codepoints)]
        return torch.tensor(rows, dtype=torch.long)


class PromptEncoder(nn.Module):
    """Token embeddings + positions through a tiny transformer: the model's own 'text encoder'."""

    def __init__(self, vocab_size: int, dim: int = 64, layers: int = 1, heads: int = 4, length: int = 4):
        super().__init__()
        self.config = {"vocab_size": vocab_size, "dim": dim, "layers": layers, "heads": heads, "length": length}
        self.token_embedding = nn.Embedding(vocab_size, dim)
        self.position_embedding = nn.Parameter(torch.zeros(length, dim))
        layer = nn.TransformerEncoderLayer(dim, heads, dim * 2, dropout=0.0, batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.final_norm = nn.LayerNorm(dim)
        nn.init.normal_(self.token_embedding.weight, std=0.5)

    def resize_token_embeddings(self, vocab_size: int) -> None:
        """Grow the vocabulary (new rows start as the class token's embedding)."""
        old = self.token_embedding
        if vocab_size <= old.num_embeddings:
            return
        new = nn.Embedding(vocab_size, old.embedding_dim).to(old.weight.device, old.weight.dtype)
        with torch.no_grad():
            new.weight[: old.num_embeddings] = old.weight
            new.weight[old.num_embeddings:] = old.weight[1]
        self.token_embedding = new
        self.config["vocab_size"] = vocab_size

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        style_positions = input_ids.shape[1] - JAMO_POSITIONS
        positions = torch.cat([self.position_embedding[:1].expand(style_positions, -1),
                               self.position_embedding[1:]])
        hidden = self.token_embedding(input_ids) + positions
        return self.final_norm(self.transformer(hidden))


@dataclass
class ModelConfig:
    """Everything needed to rebuild the model (stored as JSON beside the weights)."""

    image_size: int = 64
    block_out_channels: list[int] = field(default_factory=lambda: [32, 64, 96])
    layers_per_block: int = 1
    attention_heads: int = 4
    prompt_dim: int = 64
    prompt_layers: int = 1
    num_train_timesteps: int = 1000
    beta_schedule: str = "squaredcos_cap_v2"
    vocabulary: list[str] = field(default_factory=list)

    def unet_config(self) -> dict:
        levels = len(self.block_out_channels)
        return dict(
            sample_size=self.image_size, in_channels=2, out_channels=1,
            down_block_types=["DownBlock2D"] + ["CrossAttnDownBlock2D"] * (levels - 1),
            up_block_types=["CrossAttnUpBlock2D"] * (levels - 1) + ["UpBlock2D"],
            block_out_channels=list(self.block_out_channels), layers_per_block=self.layers_per_block,
            cross_attention_dim=self.prompt_dim, attention_head_dim=self.attention_heads,
            norm_num_groups=8, class_embed_type="projection",
            projection_class_embeddings_input_dim=self.prompt_dim,
        )


class GlyphDiffusion(nn.Module):
    """UNet + prompt encoder + tokenizer; forward() predicts the clean glyph."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.tokenizer = PromptTokenizer(config.vocabulary)
        self.prompt_encoder = PromptEncoder(len(self.tokenizer), config.prompt_dim, config.prompt_layers)
        self.unet = UNet2DConditionModel(**config.unet_config())
        nn.init.zeros_(self.unet.conv_out.weight)
        nn.init.zeros_(self.unet.conv_out.bias)

    def encode_prompt(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.prompt_encoder(input_ids)

    def forward(self, noisy: torch.Tensor, timesteps: torch.Tensor, content: torch.Tensor,
                input_ids: torch.Tensor | None = None, prompt: torch.Tensor | None = None) -> torch.Tensor:
        """Clean-glyph prediction (n, 1, s, s) from noisy glyphs, timesteps, content glyphs and prompts."""
        if prompt is None:
            prompt = self.encode_prompt(input_ids)
        correction = self.unet(
            torch.cat([noisy, content], dim=1), timesteps,
            encoder_hidden_states=prompt, class_labels=prompt[:, :-JAMO_POSITIONS].mean(dim=1),
        ).sample
        return content + correction

    def training_scheduler(self) -> DDPMScheduler:
        return DDPMScheduler(num_train_timesteps=self.config.num_train_timesteps,
                             beta_schedule=self.config.beta_schedule, prediction_type="sample",
                             clip_sample=True)

    def sampling_scheduler(self) -> DDIMScheduler:
        """The few-step DDIM scheduler generate samples with, sharing the training noise schedule."""
        return DDIMScheduler(num_train_timesteps=self.config.num_train_timesteps,
                             beta_schedule=self.config.beta_schedule, prediction_type="sample", clip_sample=True,
                             set_alpha_to_one=True, timestep_spacing="trailing")


def save_model(model: GlyphDiffusion, folder: str | Path, dtype: torch.dtype = torch.float32,
               extra: dict | None = None) -> Path:
    """Write model.safetensors and model.json into a folder (atomically)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = dict(model.config.__dict__)
    config["vocabulary"] = model.tokenizer.vocabulary
    tensors = {f"prompt_encoder.{k}": v for k, v in model.prompt_encoder.state_dict().items()}
    tensors.update({f"unet.{k}": v for k, v in model.unet.state_dict().items()})
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in tensors.items()}
    weights = folder / "model.safetensors"
    with atomic_path(weights) as partial:
        save_file(tensors, str(partial), metadata={"format": "pt", "fontgen": "glyph-diffusion"})
    write_json_atomic(folder / "model.json", {"config": config, **(extra or {})})
    return weights


def load_model(folder: str | Path = DEFAULT_CHECKPOINT, device: str | torch.device = "cpu") -> GlyphDiffusion:
    """Rebuild a model from model.json and load model.safetensors into it (fp32)."""
    folder = Path(folder)
    if not (folder / "model.json").exists() or not (folder / "model.safetensors").exists():
        raise FontgenError(f"{folder}: no model here (expected model.json and model.safetensors)")
    meta = json.loads((folder / "model.json").read_text())
    model = GlyphDiffusion(ModelConfig(**meta["config"]))
    state = load_file(str(folder / "model.safetensors"))
    model.prompt_encoder.load_state_dict({k[15:]: v.float() for k, v in state.items()
                                          if k.startswith("prompt_encoder.")})
    model.unet.load_state_dict({k[5:]: v.float() for k, v in state.items() if k.startswith("unet.")})
    return model.to(device).eval()


def model_image_size(folder: str | Path = DEFAULT_CHECKPOINT) -> int | None:
    """The image size a model folder draws at, from its model.json (None: no readable model there)."""
    try:
        return int(json.loads((Path(folder) / "model.json").read_text())["config"]["image_size"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def model_hash(folder: str | Path = DEFAULT_CHECKPOINT) -> str:
    """SHA-256 of a model's weights file: what style folders record to refuse another base."""
    return hashlib.sha256((Path(folder) / "model.safetensors").read_bytes()).hexdigest()


@torch.no_grad()
def sample(model: GlyphDiffusion, content: torch.Tensor, input_ids: torch.Tensor, *, steps: int = 2,
           guidance: float = 1.0, generator: torch.Generator | None = None,
           noise: torch.Tensor | None = None, draft: torch.Tensor | None = None,
           strength: float = 1.0) -> torch.Tensor:
    """Draw glyphs (n, 1, s, s) in [-1, 1] from content glyphs and prompts with a few-step scheduler.

    With guidance > 1 the prompt is also run with its style (all its vectors) replaced by one null token,
    and the two predictions are pushed apart (classifier-free guidance). A `draft` is refined (`denoise`).
    """
    if noise is None:
        noise = torch.randn(content.shape, generator=generator, device="cpu")
    return denoise(model, content, input_ids, noise, steps=steps, guidance=guidance, draft=draft, strength=strength)


def denoise(model: GlyphDiffusion, content: torch.Tensor, input_ids: torch.Tensor, noise: torch.Tensor, *,
            steps: int = 2, guidance: float = 1.0, draft: torch.Tensor | None = None,
            strength: float = 1.0) -> torch.Tensor:
    """The sampler's loop from given noise, with gradients if enabled (`sample` is this under no_grad).

    With a `draft` (glyphs in model space) and a `strength` below 1, the loop refines the draft instead (SDEdit,
    as diffusers' img2img does): the draft noised to the `strength` share of a schedule `steps / strength` long,
    then that schedule's last `steps` steps. Near 0 the draft comes back almost as it was; at 1 it is ignored.
    """
    if not 0.0 < strength <= 1.0:
        raise ValueError(f"strength {strength}: choose above 0, at most 1")
    noise_scheduler = model.sampling_scheduler()
    device = content.device
    if draft is not None and strength < 1.0:
        noise_scheduler.set_timesteps(min(max(steps, round(steps / strength)), model.config.num_train_timesteps))
        timesteps = noise_scheduler.timesteps[-steps:]
        start = timesteps[:1].repeat(content.shape[0])
        latents = noise_scheduler.add_noise(draft.to(device), noise.to(device), start.to(device))
    else:
        noise_scheduler.set_timesteps(steps)
        timesteps = noise_scheduler.timesteps
        latents = noise.to(device) * noise_scheduler.init_noise_sigma
    prompt = model.encode_prompt(input_ids)
    if guidance != 1.0:
        null_style = torch.full((input_ids.shape[0], 1), model.tokenizer.ids[NULL_TOKEN], dtype=torch.long)
        null_ids = torch.cat([null_style.to(input_ids.device), input_ids[:, -JAMO_POSITIONS:]], dim=1)
        null_prompt = model.encode_prompt(null_ids)
    for t in timesteps:
        timestep = torch.full((content.shape[0],), int(t), device=device, dtype=torch.long)
        predicted = model(latents, timestep, content, prompt=prompt)
        if guidance != 1.0:
            unconditional = model(latents, timestep, content, prompt=null_prompt)
            predicted = unconditional + guidance * (predicted - unconditional)
        latents = noise_scheduler.step(predicted, t, latents).prev_sample
    return latents.clamp(-1, 1)


def to_model_space(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 ink-positive images -> float in [-1, 1] (paper -1, ink +1)."""
    return images_uint8.float() / 127.5 - 1.0


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Model-space images -> uint8 ink-positive."""
    return ((images.clamp(-1, 1) + 1.0) * 127.5 + 0.5).to(torch.uint8)
