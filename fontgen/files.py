"""Small file helpers every stage shares: writes that never leave a half-written file behind."""
from __future__ import annotations

import json
import os
from pathlib import Path


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON through a temp file and a rename."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=1, ensure_ascii=False))
    os.replace(partial, path)
