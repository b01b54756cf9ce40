"""`nurture erasure verify`: what is still readable of an erased candidate (docs/privacy.md)."""
