"""Write glyph_data/jamo_variants.npz: which component glyph each composite train font draws every jamo of
every syllable with (`fontgen.jamo.VariantTable`). Run again when the corpus changes."""
import glyph_data
from fontgen.jamo import SHIPPED_VARIANTS, VariantTable, variant_fonts

if __name__ == "__main__":
    fonts = variant_fonts()
    table = VariantTable.build(fonts)
    table.save(glyph_data.DATA_DIR / SHIPPED_VARIANTS)
    print(f"{table.ids.shape[0]} composite fonts of {len(fonts)} train fonts -> glyph_data/{SHIPPED_VARIANTS}")
