"""Drug cost: product prices per gram (integer cents, effective dates, source) and what plans cost."""
