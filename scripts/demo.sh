#!/usr/bin/env bash
# The main job on a built-in default: a corpus font never trained on (NanumSquareRound Regular), cut down
# to its 2,350 KS X 1001 syllables, completed to all 11,172 (composed from its own jamo) and the
# compatibility letters, plus a specimen.
# Results land in out/: the font, its style folder, the drawn glyphs and specimen.html / specimen.png.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
.venv/bin/python - <<'PY'
from pathlib import Path
import glyph_data
from fontgen.fonts import subset_font
source = glyph_data.corpus_font("NanumSquareRoundR")
subset_font(source.path, source.face, glyph_data.ksx1001_syllables(), Path("out/NanumSquareRoundR-KSX1001.ttf"))
PY
.venv/bin/fontgen info out/NanumSquareRoundR-KSX1001.ttf
.venv/bin/fontgen complete out/NanumSquareRoundR-KSX1001.ttf -o out/NanumSquareRoundR-complete.ttf \
  --family-name "NanumSquareRound fontgen"
.venv/bin/fontgen info out/NanumSquareRoundR-complete.ttf
.venv/bin/fontgen specimen out/NanumSquareRoundR-complete.ttf -o out/specimen.html --png out/specimen.png \
  --original out/NanumSquareRoundR-KSX1001.ttf
echo "Done: out/NanumSquareRoundR-complete.ttf, out/specimen.html, out/specimen.png"
