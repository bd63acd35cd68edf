"""The names callers choose from: training stages, export formats, benchmark runtimes, the default preset.

They live here, away from the modules that act on them, because those modules load
TensorFlow: the command line offers and checks these names (`--format`, `--runtimes`,
`--training-stages`) before any command needs TensorFlow. This module imports nothing.

Example:
>>> from keras_stn_icnn.choices import FORMATS, STN_ICNN_STAGES
>>> STN_ICNN_STAGES.index("parts"), FORMATS[0]
(2, 'saved_model')
"""

STN_ICNN_STAGES = ("stage1", "localizer", "parts", "joint")
"""The training stages of a two-stage parser, in order (`train.stages.STAGES`); STN-iCNN goes through all four,
a zoo entry lists those its model needs (`models.zoo.ZooEntry.stages`)."""

FORMATS = ("saved_model", "tflite", "onnx")
"""Formats `export_model` writes (`"all"` on the command line means all three)."""

RUNTIMES = ("keras", "saved_model", "litert", "litert_dynamic_range", "litert_float16", "onnx")
"""Runtimes the latency table can hold (LiteRT in float32 and its two quantised files)."""

LEARNING_RATE_SCHEDULES = ("warmup_cosine", "halving")
"""`train.SinglePassSchedule.rate_schedule` choices: a warm-up then a cosine decay over the run's steps (the
default), or the papers' halving every `halve_every_epochs`."""

CROP_PLACEMENTS = ("argmax", "probabilities")
"""What RNN-G's two-stage parser places its component crops from (`layers.ComponentThetas`): the first stage's
argmax (the default) or its softmax probabilities (the whole-photo entry, `rnn_g_two_stage_context`)."""

DEFAULT_PRESET = "stn_icnn_synthetic"
"""The preset (`models.presets`) that `FaceParser()` and `keras-stn-icnn parse` use when given no model."""
