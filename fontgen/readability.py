"""Does a drawn syllable read as the intended one? A jamo recognizer: initial, medial and final heads.

A glyph with a wrong jamo is worse than one in the wrong style: the reader reads another syllable. The
recognizer is a small convolutional network trained on the train fonts' syllables (every font, its own
em frame, randomly moved and scaled a little, most of them also given another hand by `distort`) and checked on
the val fonts' real glyphs. Trained on mostly printed fonts, it reads a hand-drawn or a heavy display style
poorly (a quarter to two thirds of their glyphs); `adapt_recognizer` teaches it a font's style from that font's
known syllables alone (one to two minutes on this CPU), after which it reads most of the font's other real
glyphs. Eval reports the share of drawn syllables the adapted recognizer reads as intended, beside the real
glyphs' own share.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import glyph_data
from fontgen.paths import REPO_ROOT

RECOGNIZER_DIR = REPO_ROOT / "checkpoints" / "recognizer"
RECOGNIZER_SIZE = 64
HEADS = {"initial": len(glyph_data.INITIALS), "medial": len(glyph_data.MEDIALS), "final": len(glyph_data.FINALS)}


class JamoRecognizer(nn.Module):
    """Glyph image (1 x 64 x 64, ink 1) -> logits of its initial, medial and final."""

    def __init__(self, width: int = 32):
        super().__init__()
        layers, channels = [], 1
        for out in (width, 2 * width, 4 * width, 4 * width):
            layers += [nn.Conv2d(channels, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU(),
                       nn.Conv2d(out, out, 3, padding=1, stride=2), nn.BatchNorm2d(out), nn.ReLU()]
            channels = out
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.hidden = nn.Sequential(nn.Linear(channels * 4 * 4, 256), nn.ReLU(), nn.Dropout(0.2))
        self.heads = nn.ModuleDict({name: nn.Linear(256, count) for name, count in HEADS.items()})

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        hidden = self.hidden(self.features(images))
        return {name: head(hidden) for name, head in self.heads.items()}


def jamo_targets(codepoints) -> dict[str, torch.Tensor]:
    """The intended initial, medial and final indices of syllables."""
    jamo = [glyph_data.decompose(int(c)) for c in codepoints]
    return {"initial": torch.tensor([j.initial for j in jamo]), "medial": torch.tensor([j.medial for j in jamo]),
            "final": torch.tensor([j.final for j in jamo])}


def to_input(images: np.ndarray) -> torch.Tensor:
    """uint8 glyphs of any size that is a multiple of 64 -> (n, 1, 64, 64) floats in 0..1 (area average)."""
    k = images.shape[-1] // RECOGNIZER_SIZE
    x = images.reshape(len(images), RECOGNIZER_SIZE, k, RECOGNIZER_SIZE, k).astype(np.float32).mean(axis=(2, 4))
    return torch.from_numpy(x / 255.0)[:, None]


def load_recognizer(folder: Path = RECOGNIZER_DIR) -> JamoRecognizer | None:
    """The shipped recognizer (None when the checkpoint is absent)."""
    from safetensors.torch import load_file

    weights = Path(folder) / "model.safetensors"
    if not weights.exists():
        return None
    config = json.loads((Path(folder) / "config.json").read_text())
    model = JamoRecognizer(config["width"])
    model.load_state_dict(load_file(str(weights)))
    return model.eval()


def recognizer_sha256(folder: Path = RECOGNIZER_DIR) -> str | None:
    """Hex SHA-256 of a recognizer's weights (None when absent): what learn's readings were made with."""
    import hashlib

    weights = Path(folder) / "model.safetensors"
    return hashlib.sha256(weights.read_bytes()).hexdigest() if weights.exists() else None


def read_syllables(model: JamoRecognizer, images: np.ndarray) -> list[int]:
    """The syllable each glyph reads as: the most likely initial, medial and final together."""
    return read_with_likelihood(model, images, None)[0]


def read_with_likelihood(model: JamoRecognizer, images: np.ndarray,
                         codepoints: list[int] | None) -> tuple[list[int], np.ndarray | None]:
    """The syllable each glyph reads as, and (given the intended `codepoints`) the log-likelihood the
    recognizer gives the intended one (its three jamo's log-probabilities summed; None without them)."""
    with torch.inference_mode():
        logits = model(to_input(images))
    jamo = [logits[name].argmax(dim=1).tolist() for name in HEADS]
    read = [glyph_data.compose(initial, medial, final) for initial, medial, final in zip(*jamo)]
    if codepoints is None:
        return read, None
    targets = jamo_targets(codepoints)
    likelihood = sum(F.log_softmax(logits[name], dim=1).gather(1, targets[name][:, None])[:, 0] for name in HEADS)
    return read, likelihood.numpy()


def read_as_intended(model: JamoRecognizer, images: np.ndarray, codepoints: list[int]) -> np.ndarray:
    """Per glyph, True when all three heads read the intended jamo."""
    return np.array(read_syllables(model, images)) == np.array([int(c) for c in codepoints])


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each glyph (n, 1, 64, 64) moved (up to 4 px) and scaled (0.88-1.12) at random: a drawn glyph is not
    always where its font would put it."""
    n = len(images)
    scale = 1 + (torch.rand(n, generator=generator) - 0.5) * 0.24
    shift = (torch.rand(n, 2, generator=generator) - 0.5) * (8 / RECOGNIZER_SIZE) * 2
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1] = 1 / scale, 1 / scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, align_corners=False)


def distort(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each glyph (n, 1, 64, 64) given a hand of its own at random: sheared and rotated a little, squeezed or
    stretched on each axis, bent by a smooth random field (up to about 2 px), its strokes thickened or thinned.
    Printed train fonts varied this way stand in for the hand-drawn and display styles no train font has."""
    n, size = len(images), images.shape[-1]
    if n == 0:
        return images
    theta = torch.zeros(n, 2, 3)
    squeeze = 1 + (torch.rand(n, 2, generator=generator) - 0.5) * 0.3
    angle = (torch.rand(n, generator=generator) - 0.5) * 0.14
    shear = (torch.rand(n, generator=generator) - 0.5) * 0.3
    theta[:, 0, 0] = torch.cos(angle) / squeeze[:, 0]
    theta[:, 0, 1] = -torch.sin(angle) + shear
    theta[:, 1, 0] = torch.sin(angle)
    theta[:, 1, 1] = torch.cos(angle) / squeeze[:, 1]
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    bend = (torch.rand(n, 2, 5, 5, generator=generator) - 0.5) * (4.0 / size) * 2
    grid = grid + F.interpolate(bend, size=(size, size), mode="bicubic", align_corners=True).permute(0, 2, 3, 1)
    images = F.grid_sample(images, grid, align_corners=False)
    # Stroke weight: blurred, then cut at a random ink level (a high cut thins, a low one thickens).
    kernel = torch.tensor([0.25, 0.5, 0.25])
    kernel = (kernel[:, None] * kernel[None, :])[None, None]
    blurred = F.conv2d(F.pad(images, (1, 1, 1, 1)), kernel)
    cut = 0.25 + torch.rand(n, 1, 1, 1, generator=generator) * 0.5
    return ((blurred - cut) / 0.2 + 0.5).clamp(0, 1)


ADAPT_BATCH = 64
ADAPT_LR = 1e-3


def adapt_steps(known: int) -> int:
    """Fine-tuning steps for a font with `known` syllables: on a few hundred the font's other glyphs read
    best after about 100 steps (later ones learn the known glyphs by heart), on 2,350 after about 600."""
    return min(600, max(50, int(known / 2.5)))


def adapt_recognizer(model: JamoRecognizer, images: np.ndarray, codepoints: list[int], steps: int | None = None,
                     seed: int = 0) -> JamoRecognizer:
    """A copy of the recognizer fine-tuned on a font's own known glyphs (uint8, any multiple of 64 px, in the
    font's em frame), each batch moved and scaled at random: it then reads the font's style. The original is
    left as it is."""
    adapted = copy.deepcopy(model).train()
    inputs, targets = to_input(images), jamo_targets(codepoints)
    optimizer = torch.optim.AdamW(adapted.parameters(), lr=ADAPT_LR, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(seed)
    # Dropout draws from torch's global generator: seeded here, and restored after, so that the adapted
    # recognizer (and what learn re-plans with it) depends on the seed alone, not on what ran before.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for _ in range(adapt_steps(len(codepoints)) if steps is None else steps):
            rows = torch.randint(0, len(inputs), (ADAPT_BATCH,), generator=generator)
            logits = adapted(augment(inputs[rows], generator))
            loss = sum(F.cross_entropy(logits[name], targets[name][rows]) for name in HEADS)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return adapted.eval()


def recognizer_for_font(images: np.ndarray, codepoints: list[int], seed: int = 0,
                        folder: Path = RECOGNIZER_DIR) -> JamoRecognizer | None:
    """The recognizer in `folder` (the shipped one by default) adapted to a font on its known glyphs (see
    `adapt_recognizer`; None when there is none)."""
    shipped = load_recognizer(folder)
    return None if shipped is None else adapt_recognizer(shipped, images, codepoints, seed=seed)
