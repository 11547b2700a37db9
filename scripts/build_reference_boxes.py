"""Write glyph_data/jamo_reference_boxes.npz: the ink box of every jamo of every syllable in each composite
reference font (`fontgen.jamo.build_reference_boxes`), which composition places moved jamo by. Run again when
the reference fonts change."""
import numpy as np

import glyph_data
from fontgen.jamo import SHIPPED_REFERENCE_BOXES, available_references, build_reference_boxes

if __name__ == "__main__":
    names = available_references()
    path = glyph_data.DATA_DIR / SHIPPED_REFERENCE_BOXES
    partial = path.with_name("partial-" + path.name)
    with open(partial, "wb") as handle:
        np.savez_compressed(handle, **{name: build_reference_boxes(name) for name in names})
    partial.replace(path)
    print(f"{len(names)} reference fonts -> glyph_data/{SHIPPED_REFERENCE_BOXES} ({path.stat().st_size:,} bytes)")
