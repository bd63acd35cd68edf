"""The authors' pipeline's figures as measured for this project, for runs without torch.

They come from `../shared/docs/REFERENCE_SPEC.md` ("The authors' PyTorch pipeline on this
machine"): the authors' code with torch 2.13 (CPU build, 2 threads), eval mode, on the project's
2-core AMD EPYC machine, one 512x512 photograph on the 1024 canvas. They were measured there, not
by this package; a benchmark run elsewhere compares against them only roughly.
"""

STORED_MACHINE = "2-core AMD EPYC (the project's CI machine), torch 2.13 CPU, 2 threads"
"""Where the stored figures were measured."""

STORED_PARSE_MS_PER_FACE = {1: 373.0, 4: 646.0}
"""Whole pipeline, milliseconds per face, by batch size."""

STORED_STAGE_MS_PER_FACE = {"stage1_localizer_crop": 54.0, "part_models": 110.0, "paste_back": 210.0}
"""The batch-1 pipeline split into its steps, milliseconds per face."""

STORED_TRAINING_IMAGES_PER_SECOND = {"joint": 8 / 3.05, "stage1": 8 / 0.77}
"""Batch-8 Adam steps on random data: the end-to-end step (~3.05 s) and a stage-1-only step (~0.77 s)."""
