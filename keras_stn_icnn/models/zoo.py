"""The zoo by name: which class each model name builds, for command lines and comparisons."""

from keras_stn_icnn.models.bass import BASS
from keras_stn_icnn.models.icnn import ICNNBaseline, ICNNParser
from keras_stn_icnn.models.red_net import RedNet
from keras_stn_icnn.models.rnn_g import RNNG, RNNGTwoStage
from keras_stn_icnn.models.stn_icnn import STNiCNN

TWO_STAGE_MODELS = {"stn_icnn": STNiCNN, "icnn_baseline": ICNNBaseline}
"""The two-stage parsers (rough mask, part crops, part models), trained stage by stage (`StageTrainer`)."""

SINGLE_PASS_MODELS = {
    "icnn": ICNNParser,
    "rnn_g": RNNG,
    "rnn_g_two_stage": RNNGTwoStage,
    "bass": BASS,
    "red_net": RedNet,
}
"""The single-pass parsers (`DenseParsingMixin`), trained in one stage (`DenseTrainer`)."""


def single_pass_model(name, **arguments):
    """Builds a single-pass zoo parser by name.

    Args:
        name: str, a key of `SINGLE_PASS_MODELS`.
        **arguments: the class's constructor arguments (e.g. `class_names`,
            `input_size`).

    Returns:
        The model.

    Raises:
        ValueError naming the unknown name and the known ones.

    Example:
    >>> single_pass_model("icnn", input_size=64).input_size
    64
    """
    if name not in SINGLE_PASS_MODELS:
        raise ValueError(f"unknown single-pass model {name!r}; the zoo has {sorted(SINGLE_PASS_MODELS)}")
    return SINGLE_PASS_MODELS[name](**arguments)
