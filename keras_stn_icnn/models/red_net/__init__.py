"""RED-Net: residual encoder-decoder with an adaptive prior (Guo et al., AAAI 2018)."""
