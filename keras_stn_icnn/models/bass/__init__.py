"""BASS: boundary-attention semantic segmentation (Liu et al., AAAI 2020, the LaPa paper)."""
