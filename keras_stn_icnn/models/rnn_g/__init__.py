"""RNN-G: face parsing by spatially variant recurrent propagation (Liu et al., BMVC 2017)."""
