"""The zoo by name: one entry per model, read by the command line, the jobs, the loader and the benchmarks.

Adding a model to the zoo is its module plus one `ZooEntry` in `ZOO`: the
entry names the class, how it trains (`"stages"`: a two-stage parser trained
stage by stage by `train.StageTrainer`, through the stages the entry lists;
`"single_pass"`: trained in one fit by `train.SinglePassTrainer`) and a
one-line description for `--help`. The command line, the training job, the
loader and the benchmarks read nothing else.

A variant is an entry of an existing class with other constructor
arguments: `bass_cpu` and `red_net_cpu` are BASS and RED-Net narrowed to what
a 2-core CPU trains in minutes, while `bass` and `red_net` keep the papers'
networks for GPUs; `rnn_g_context` is RNN-G widened and given a context
pyramid to parse whole photos, where the paper's shallow network sees ~20
pixels of a face that can be anywhere; `rnn_g_two_stage_context` and
`rnn_g_two_stage_face_box` are RNN-G's two-stage parser with that network,
or RNN-G on a found face box (`RNNGFaceBox`), as its first stage; and
`red_net_cpu_face_box` is `red_net_cpu`'s network on a found face box
(`RedNetFaceBox`, whose own entry `red_net_face_box` keeps the paper's),
its classifier also given each pixel's place in the box
(`coordinate_channels`).
"""

import dataclasses
from typing import Callable

from keras_stn_icnn.checks import check_choice
from keras_stn_icnn.choices import STN_ICNN_STAGES
from keras_stn_icnn.models.bass import BASS
from keras_stn_icnn.models.icnn import ICNNBaseline, ICNNParser
from keras_stn_icnn.models.red_net import RedNet, RedNetFaceBox
from keras_stn_icnn.models.rnn_g import RNNG, RNNGFaceBox, RNNGTwoStage
from keras_stn_icnn.models.stn_icnn import STNiCNN

TRAINING_KINDS = ("stages", "single_pass")
"""How a zoo model trains: stage by stage (two-stage parsers) or in one fit (single-pass parsers)."""


@dataclasses.dataclass(frozen=True)
class StageResult:
    """A model a two-stage run saves and evaluates on its way, once a stage is done.

    STN-iCNN's run gives the paper's Table 1 this way: after the part
    models, the iCNN baseline (same weights, the centroid cropper) and
    STN-iCNN before end-to-end training (STN-iCNN*).

    Args:
        after: str, the stage (`choices.STN_ICNN_STAGES`) after which it is
            taken.
        name: str, its name in the run's results and its `.keras` file's.
        from_parser: callable, the parser being trained -> the model to save
            (a copy, or the parser itself as it is at that point).

    Example:
    >>> [(result.after, result.name) for result in ZOO["stn_icnn"].stage_results]
    [('parts', 'icnn_baseline'), ('parts', 'stn_icnn_pretrained')]
    """

    after: str
    name: str
    from_parser: Callable


def _as_trained(parser):
    return parser


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    """One model of the zoo.

    Args:
        name: str, the model's name on the command line, in run folders and
            as its export's name.
        model_class: the Keras model class.
        training: str, one of `TRAINING_KINDS`.
        description: str, one line for `--help` and tables.
        arguments: dict, the constructor arguments that make this entry
            (a variant of a class another entry builds with its defaults).
        label_schema: str, the `labels.SCHEMAS` name of the classes it
            trains on (`"stn_icnn"`; `"helen"` for a model whose parts
            are HELEN's, such as RNN-G's two-stage parser).
        stages: tuple of str, for a two-stage parser the training stages
            (`choices.STN_ICNN_STAGES` names) it goes through, in order;
            empty for a single-pass one. A model with a `"localizer"` stage
            is built with the recipe's (or the user's) localizer.
        stage_results: tuple of `StageResult`, models a two-stage run also
            saves and evaluates on its way.

    Example:
    >>> ZOO["rnn_g"].model_class.__name__, ZOO["rnn_g"].training
    ('RNNG', 'single_pass')
    """

    name: str
    model_class: type
    training: str
    description: str
    arguments: dict = dataclasses.field(default_factory=dict)
    label_schema: str = "stn_icnn"
    stages: tuple = ()
    stage_results: tuple = ()

    def __post_init__(self):
        check_choice(self.training, TRAINING_KINDS, "training")
        if (self.training == "stages") != bool(self.stages):
            raise ValueError(
                f"{self.name}: a two-stage parser lists its stages, a single-pass one none; "
                f"got training={self.training!r} and stages={self.stages!r}"
            )
        if list(self.stages) != [stage for stage in STN_ICNN_STAGES if stage in self.stages]:
            raise ValueError(
                f"{self.name}: stages must be some of {STN_ICNN_STAGES} in that order, got {self.stages!r}"
            )
        strays = [result.after for result in self.stage_results if result.after not in self.stages]
        if strays:
            raise ValueError(f"{self.name}: stage_results come after stages {strays} it does not train {self.stages}")

    def results_after(self, stage):
        """The `stage_results` a two-stage run takes once `stage` is done, in order.

        Args:
            stage: str, one of the entry's `stages`.

        Returns:
            tuple of `StageResult`.

        Example:
        >>> [result.name for result in ZOO["stn_icnn"].results_after("parts")]
        ['icnn_baseline', 'stn_icnn_pretrained']
        """
        return tuple(result for result in self.stage_results if result.after == stage)

    def describes(self, model):
        """Whether `model` is this entry's class built with this entry's arguments."""
        return type(model) is self.model_class and all(
            _comparable(getattr(model, key, None)) == _comparable(value) for key, value in self.arguments.items()
        )


BASS_CPU_ARGUMENTS = {"depths": (2, 2, 2, 2), "base_filters": 16}
"""`bass_cpu`: a ResNet-26-sized backbone (two bottleneck blocks a stage) a quarter as wide as ResNet-101:
2.7M parameters against 71.5M (`docs/zoo_learning.md`)."""

RED_NET_CPU_ARGUMENTS = {"encoder_filters": (16, 32, 64, 128, 128), "blocks_per_unit": 1}
"""`red_net_cpu`: RED-Net's five encoder and decoder units, a quarter as wide and one residual block a unit."""

RED_NET_CPU_FACE_BOX_ARGUMENTS = {**RED_NET_CPU_ARGUMENTS, "coordinate_channels": True}
"""`red_net_cpu_face_box`: `red_net_cpu`'s network whose classifier also reads the pixel's position in the face box."""

RNN_G_CONTEXT_NETWORK = {
    "filters": (32, 64, 64),
    "rnn_channels": 16,
    "rnn_stride": 4,
    "context_filters": (64, 128, 128),
    "kernel_initializer": "he_normal",
}
"""RNN-G for whole photos: twice as wide, a context pyramid down to `s/32` after Conv5, its RNN on the `s/4` grid,
its ReLU convolutions He-initialised (under Keras' Glorot default their activations shrink layer by layer and the
RNN's kernels start with gradients under 1e-6: `docs/zoo_learning.md`)."""

RNN_G_NO_GATE_LOSS = {"coarse": 1.0, "gate": 0.0, "final": 1.0}
"""RNN-G's loss weights with its gate learnt through the final labels' loss alone (no boundary loss)."""

RNN_G_CONTEXT_ARGUMENTS = {**RNN_G_CONTEXT_NETWORK, "loss_weights": RNN_G_NO_GATE_LOSS}
"""`rnn_g_context`: `RNN_G_CONTEXT_NETWORK` trained with `RNN_G_NO_GATE_LOSS` (`docs/zoo_learning.md`)."""

RNN_G_TWO_STAGE_CONTEXT_ARGUMENTS = {
    "first_stage_arguments": RNN_G_CONTEXT_NETWORK,
    "loss_weights": RNN_G_NO_GATE_LOSS,
    "component_kernel_initializer": RNN_G_CONTEXT_NETWORK["kernel_initializer"],
    "crop_placement": "probabilities",
}
"""`rnn_g_two_stage_context`: the two-stage parser whose first stage is `rnn_g_context`'s network, for whole photos;
its component networks' ReLU layers He-initialised as that network's are, its crops placed from that network's
probabilities (from its argmax, which loses an eye on some faces, 0.722 against 0.783 on the same weights)."""

RNN_G_TWO_STAGE_FACE_BOX_ARGUMENTS = {"first_stage": "rnn_g_face_box"}
"""`rnn_g_two_stage_face_box`: the two-stage parser with `RNNGFaceBox` as its first stage, for whole photos."""


ZOO = {
    entry.name: entry
    for entry in (
        ZooEntry(
            "stn_icnn",
            STNiCNN,
            "stages",
            "STN-iCNN (Yin et al. 2020): interlinked CNNs with a differentiable crop",
            stages=STN_ICNN_STAGES,
            stage_results=(
                StageResult("parts", "icnn_baseline", ICNNBaseline.from_stn_icnn),
                StageResult("parts", "stn_icnn_pretrained", _as_trained),
            ),
        ),
        ZooEntry(
            "icnn_baseline",
            ICNNBaseline,
            "stages",
            "two-stage iCNN (Zhou et al. 2015) with the centroid cropper",
            stages=("stage1", "parts"),
        ),
        ZooEntry("icnn", ICNNParser, "single_pass", "one-stage iCNN at one working size"),
        ZooEntry(
            "rnn_g",
            RNNG,
            "single_pass",
            "RNN-G (Liu et al. 2017): a shallow CNN with a spatially variant gated RNN, for aligned face crops "
            "(on whole photos rnn_g_face_box or rnn_g_context)",
        ),
        ZooEntry(
            "rnn_g_context",
            RNNG,
            "single_pass",
            "RNN-G for whole photos: wider, with a context pyramid, its RNN on a quarter-size grid",
            RNN_G_CONTEXT_ARGUMENTS,
        ),
        ZooEntry(
            "rnn_g_face_box",
            RNNGFaceBox,
            "single_pass",
            "RNN-G on the face box a small network finds, in place of the paper's face detector",
        ),
        ZooEntry(
            "rnn_g_two_stage",
            RNNGTwoStage,
            "single_pass",
            "RNN-G on the whole face, then its component networks on part crops, for aligned face crops "
            "(on whole photos rnn_g_two_stage_face_box or rnn_g_two_stage_context)",
            label_schema="helen",
        ),
        ZooEntry(
            "rnn_g_two_stage_context",
            RNNGTwoStage,
            "single_pass",
            "RNN-G's two-stage parser whose first stage is rnn_g_context's network",
            RNN_G_TWO_STAGE_CONTEXT_ARGUMENTS,
            label_schema="helen",
        ),
        ZooEntry(
            "rnn_g_two_stage_face_box",
            RNNGTwoStage,
            "single_pass",
            "RNN-G's two-stage parser whose first stage runs on a found face box",
            RNN_G_TWO_STAGE_FACE_BOX_ARGUMENTS,
            label_schema="helen",
        ),
        ZooEntry("bass", BASS, "single_pass", "BASS (Liu et al. 2020, LaPa): boundary-attention semantic segmentation"),
        ZooEntry(
            "bass_cpu", BASS, "single_pass", "BASS with a small ResNet for CPUs (2.7M parameters)", BASS_CPU_ARGUMENTS
        ),
        ZooEntry(
            "red_net",
            RedNet,
            "single_pass",
            "RED-Net (Guo et al. 2018): residual encoder-decoder with an adaptive prior",
        ),
        ZooEntry(
            "red_net_cpu",
            RedNet,
            "single_pass",
            "RED-Net a quarter as wide, one residual block a unit, for CPUs",
            RED_NET_CPU_ARGUMENTS,
        ),
        ZooEntry(
            "red_net_face_box",
            RedNetFaceBox,
            "single_pass",
            "RED-Net on the face box a small network finds, in place of the paper's face detector",
        ),
        ZooEntry(
            "red_net_cpu_face_box",
            RedNetFaceBox,
            "single_pass",
            "red_net_cpu's RED-Net on a found face box, told each pixel's place in it, for CPUs",
            RED_NET_CPU_FACE_BOX_ARGUMENTS,
        ),
    )
}
"""Every zoo model by name."""


def zoo_entry(name):
    """The zoo's entry for `name`.

    Args:
        name: str, a key of `ZOO`.

    Returns:
        A `ZooEntry`.

    Raises:
        ValueError naming the unknown name and the known ones.

    Example:
    >>> zoo_entry("bass").model_class.__name__
    'BASS'
    """
    if name not in ZOO:
        raise ValueError(f"unknown zoo model {name!r}; the zoo has {sorted(ZOO)}")
    return ZOO[name]


def zoo_names(training=None):
    """Names of the zoo's models, in registry order, optionally only those trained one way.

    Args:
        training: str, one of `TRAINING_KINDS`, or None for all.

    Returns:
        tuple of str.

    Example:
    >>> zoo_names("stages")
    ('stn_icnn', 'icnn_baseline')
    """
    check_choice(training, (*TRAINING_KINDS, None), "training")
    return tuple(name for name, entry in ZOO.items() if training in (None, entry.training))


def zoo_name_of(model):
    """The zoo name of a model (its export name), from its class and arguments; None for a model outside the zoo.

    A model that a variant's arguments describe gets the variant's name
    (`bass_cpu`); any other model of the class the class's own entry (`bass`).

    Args:
        model: a Keras model.

    Returns:
        str (e.g. `"stn_icnn"` for an `STNiCNN`) or None.

    Example:
    >>> zoo_name_of(ICNNParser(input_size=64))
    'icnn'
    >>> zoo_name_of(build_zoo_model("bass_cpu", input_size=64))
    'bass_cpu'
    """
    matches = [entry for entry in ZOO.values() if entry.describes(model)]
    return max(matches, key=lambda entry: len(entry.arguments)).name if matches else None


def build_zoo_model(name, **arguments):
    """Builds a zoo model by name.

    Args:
        name: str, a key of `ZOO`.
        **arguments: the class's constructor arguments (e.g. `class_names`,
            `input_size`), on top of the entry's own.

    Returns:
        The model.

    Example:
    >>> build_zoo_model("icnn", input_size=64).input_size
    64
    """
    entry = zoo_entry(name)
    return entry.model_class(**{**entry.arguments, **arguments})


def _comparable(value):
    if isinstance(value, dict):
        return {key: _comparable(item) for key, item in value.items()}
    return tuple(_comparable(item) for item in value) if isinstance(value, (list, tuple)) else value
