"""Maps the authors' PyTorch STN-iCNN state dicts onto the Keras models.

Layouts of the authors' `.pth.tar` files (github aod321/STN-iCNN):

- `model1` (end-to-end and A+B checkpoints) or `model` (stage-1 ones): the
  stage-1 `FaceModel`.
- `select_net`: the localizer, `SelectNet_resnet` (`model_res.*`) or the
  all-convolutional `SelectNet` (`localize_net.*`).
- `model2`: `Stage2Model`, four iCNNs `model.0` ... `model.3` (eyebrow, eye,
  nose, mouth).

Weights are moved, never reinterpreted: convolution kernels go from OIHW to
HWIO, dense kernels are transposed, BatchNorm maps weight/bias/running_mean/
running_var to gamma/beta/moving_mean/moving_variance. Layers the reference
builds but never runs are skipped by name; any other key that has no place in
the Keras model is an error, so a checkpoint of another architecture cannot
load silently.
"""

import re

import numpy as np

from keras_stn_icnn.convert.pytorch_checkpoint import read_pytorch_checkpoint
from keras_stn_icnn.models.stn_icnn.stn_icnn import STNiCNN


class WeightMappingError(ValueError):
    """A state dict does not fit the Keras model (missing, extra or misshaped keys)."""


# Modules of the reference iCNN that exist in its state dict but never run:
# output convs of all interlink layers but the last, the last layer's
# coarsest-scale output conv, and the BatchNorms after last_conv2/last_conv3.
_ICNN_UNUSED = re.compile(
    r"^(interlink_layers\.[01]\.iCNN_Nodelist\.\d+\.output_conv_node(_batchnorm)?\."
    r"|interlink_layers\.\d+\.iCNN_Nodelist\.3\.output_conv_node(_batchnorm)?\."
    r"|last_con2_bnm\.|last_conv3_bnm\.)"
)
_ALWAYS_IGNORED = re.compile(r"(^|\.)num_batches_tracked$")

# Checkpoint key of each part model of a shared-parts STNiCNN in `model2`.
_PART_MODEL_PREFIXES = {
    "eyebrow_model": "model.0.",
    "eye_model": "model.1.",
    "nose_model": "model.2.",
    "mouth_model": "model.3.",
}


def _conv_weights(state, prefix, layer):
    keys = [prefix + "weight"] + ([prefix + "bias"] if layer.use_bias else [])
    return [(keys[0], np.transpose(state[keys[0]], (2, 3, 1, 0)))] + [(key, state[key]) for key in keys[1:]]


def _batch_norm_weights(state, prefix, layer):
    names = ("weight", "bias", "running_mean", "running_var")
    return [(prefix + name, state[prefix + name]) for name in names]


def _dense_weights(state, prefix, layer):
    key = prefix + "weight"
    return [(key, np.transpose(state[key])), (prefix + "bias", state[prefix + "bias"])]


def _conv_or_norm(layer):
    return _batch_norm_weights if "BatchNormalization" in type(layer).__name__ else _conv_weights


def _icnn_plan(model):
    """(torch prefix, Keras layer, weight function) for every layer of an ICNN."""
    plan = []
    for i in range(len(model.filters)):
        plan.append((f"input_conv.{i}.", model.get_layer(f"input_conv_{i}"), _conv_weights))
        plan.append((f"input_bnm.{i}.", model.get_layer(f"input_norm_{i}"), _batch_norm_weights))
    for k in range(model.num_interlink_layers):
        block = model.get_layer(f"interlink_{k}")
        for i in range(len(model.filters)):
            node = f"interlink_layers.{k}.iCNN_Nodelist.{i}."
            plan += [
                (node + "inter_conv_node.", block.inter_convs[i], _conv_weights),
                (node + "inter_conv_node_batchnorm.", block.inter_norms[i], _batch_norm_weights),
                (node + "conv_node.", block.convs[i], _conv_weights),
                (node + "conv_node_batchnorm.", block.norms[i], _batch_norm_weights),
            ]
    integration = model.get_layer("output_integration")
    last = model.num_interlink_layers - 1
    for j in range(len(model.filters) - 1):
        node = f"interlink_layers.{last}.iCNN_Nodelist.{j}."
        plan += [
            (node + "output_conv_node.", integration.convs[j], _conv_weights),
            (node + "output_conv_node_batchnorm.", integration.norms[j], _batch_norm_weights),
        ]
    plan += [
        ("last_conv1.", model.get_layer("head_conv_1"), _conv_weights),
        ("last_con1_bnm.", model.get_layer("head_norm_1"), _batch_norm_weights),
        ("last_conv2.", model.get_layer("head_conv_2"), _conv_weights),
        ("last_conv3.", model.get_layer("head_conv_3"), _conv_weights),
    ]
    return plan


def _resnet18_plan(model):
    plan = []
    for layer in model.layers:
        if not layer.weights or layer.name == "theta":
            continue
        prefix = "model_res." + layer.name.replace("_", ".") + "."
        weights = _dense_weights if layer.name == "fc" else _conv_or_norm(layer)
        plan.append((prefix, layer, weights))
    return plan


def _fcn_plan(model):
    plan = []
    for layer in model.layers:
        if layer.weights:
            index = layer.name.rsplit("_", 1)[1]
            plan.append((f"localize_net.{index}.", layer, _conv_or_norm(layer)))
    return plan


def _strip_wrappers(state, expected_prefix):
    """Drops `module.` (DataParallel) and a `model.` wrapper prefix if present."""
    if state and all(key.startswith("module.") for key in state):
        state = {key[len("module.") :]: value for key, value in state.items()}
    if (
        state
        and not any(key.startswith(expected_prefix) for key in state)
        and all(key.startswith("model.") for key in state)
    ):
        state = {key[len("model.") :]: value for key, value in state.items()}
    return state


def load_state_dict(plan, state, where, unused=None):
    """Assigns a PyTorch state dict to Keras layers following a plan.

    Args:
        plan: list of `(torch key prefix, Keras layer, weight function)`.
        state: dict of numpy arrays (a PyTorch state dict).
        where: str naming the state dict in error messages.
        unused: optional compiled regex of keys the reference never uses.

    Raises:
        WeightMappingError: on a missing key, a key without a place in the
            model, or a shape mismatch; the message names the key.
    """
    used = set()
    for prefix, layer, weight_function in plan:
        try:
            weights = weight_function(state, prefix, layer)
        except KeyError as error:
            raise WeightMappingError(
                f"{where}: key {error.args[0]!r} is missing (needed by Keras layer {layer.path!r})"
            ) from None
        for (key, value), variable in zip(weights, layer.weights):
            if tuple(value.shape) != tuple(variable.shape):
                raise WeightMappingError(
                    f"{where}: key {key!r} of shape {np.shape(state[key])} does not fit "
                    f"Keras weight {variable.path!r} of shape {tuple(variable.shape)}"
                )
        layer.set_weights([np.asarray(value, dtype=np.float32) for _, value in weights])
        used.update(key for key, _ in weights)
    extra = sorted(
        key
        for key in state
        if key not in used and not _ALWAYS_IGNORED.search(key) and not (unused is not None and unused.search(key))
    )
    if extra:
        raise WeightMappingError(
            f"{where}: {len(extra)} key(s) have no place in the Keras model, e.g. "
            f"{extra[:5]}; is this checkpoint of another architecture?"
        )


def load_icnn_state_dict(model, state, where="state dict"):
    """Loads a reference `FaceModel`/`Stage2FaceModel` state dict into an ICNN.

    Args:
        model: a `keras_stn_icnn.ICNN`.
        state: dict of numpy arrays, keys as in the reference
            (`input_conv.0.weight`, ...; a `model.` or `module.` prefix is
            dropped).
        where: str naming the state dict in error messages.

    Example:
    >>> checkpoint = read_pytorch_checkpoint("stage1.pth.tar")  # doctest: +SKIP
    >>> load_icnn_state_dict(ICNN(9), checkpoint["model"])  # doctest: +SKIP
    """
    state = _strip_wrappers(state, "input_conv.")
    load_state_dict(_icnn_plan(model), state, where, unused=_ICNN_UNUSED)


def load_localizer_state_dict(model, state, where="select_net"):
    """Loads a reference localizer state dict (`SelectNet_resnet` or `SelectNet`).

    Args:
        model: a `ResNet18Localizer` or `FCNLocalizer`.
        state: dict of numpy arrays.
        where: str naming the state dict in error messages.

    Example:
    >>> load_localizer_state_dict(ResNet18Localizer(), checkpoint["select_net"])  # doctest: +SKIP
    """
    name = type(model).__name__
    if name == "ResNet18Localizer":
        plan = _resnet18_plan(model)
    elif name == "FCNLocalizer":
        plan = _fcn_plan(model)
    else:
        raise WeightMappingError(
            f"{where}: the authors released no weights for a {name}; use the 'resnet18' or 'fcn' localizer"
        )
    load_state_dict(plan, _strip_wrappers(state, "model_res."), where)


def load_stn_icnn_checkpoint(model, checkpoint):
    """Loads every part an authors' checkpoint holds into an STNiCNN.

    Args:
        model: an `STNiCNN` with shared part models.
        checkpoint: the dict `read_pytorch_checkpoint` returns.

    Returns:
        Tuple of the loaded components among `"stage1"`, `"localizer"` and
        `"part_models"`.

    Raises:
        WeightMappingError: if the checkpoint holds none of them or a state
            dict does not fit.

    Example:
    >>> model = STNiCNN()
    >>> load_stn_icnn_checkpoint(model, read_pytorch_checkpoint(path))  # doctest: +SKIP
    ('stage1', 'localizer', 'part_models')
    """
    if not isinstance(checkpoint, dict):
        raise WeightMappingError(f"expected a checkpoint dict, got {type(checkpoint).__name__}")
    loaded = []
    stage1_key = "model1" if "model1" in checkpoint else "model" if "model" in checkpoint else None
    if stage1_key is not None:
        load_icnn_state_dict(model.get_layer("stage1"), checkpoint[stage1_key], stage1_key)
        loaded.append("stage1")
    if "select_net" in checkpoint:
        load_localizer_state_dict(model.get_layer("localizer"), checkpoint["select_net"])
        loaded.append("localizer")
    if "model2" in checkpoint:
        if not model.shared_part_models:
            raise WeightMappingError(
                "model2 holds shared eyebrow/eye models; build the STNiCNN with shared_part_models=True to load it"
            )
        state = _strip_wrappers(checkpoint["model2"], "model.0.")
        for model_name, prefix in _PART_MODEL_PREFIXES.items():
            part_state = {key[len(prefix) :]: value for key, value in state.items() if key.startswith(prefix)}
            load_icnn_state_dict(model.get_layer(model_name), part_state, f"model2.{prefix[:-1]}")
        extra = [key for key in state if not key.startswith(tuple(_PART_MODEL_PREFIXES.values()))]
        if extra:
            raise WeightMappingError(f"model2: unexpected keys {extra[:5]}")
        loaded.append("part_models")
    if not loaded:
        raise WeightMappingError(
            "the checkpoint holds none of 'model1', 'model', 'select_net', 'model2'; "
            f"its keys are {sorted(checkpoint)[:10]}"
        )
    return tuple(loaded)


def stn_icnn_from_pytorch_checkpoint(path, localizer="resnet18", **kwargs):
    """Builds an STNiCNN and loads an authors' `.pth.tar` checkpoint into it.

    The file is read without torch and without unpickling arbitrary objects
    (see `read_pytorch_checkpoint`).

    Args:
        path: str or path-like.
        localizer: `"resnet18"` (`SelectNet_resnet`) or `"fcn"` (`SelectNet`).
        **kwargs: further `STNiCNN` arguments.

    Returns:
        An `STNiCNN` whose `loaded_parts` attribute lists what was loaded.

    Example:
    >>> model = stn_icnn_from_pytorch_checkpoint("after_end2_end_10mean.pth.tar")  # doctest: +SKIP
    """
    checkpoint = read_pytorch_checkpoint(path)
    model = STNiCNN(localizer=localizer, **kwargs)
    try:
        model.loaded_parts = load_stn_icnn_checkpoint(model, checkpoint)
    except WeightMappingError as error:
        raise WeightMappingError(f"{path}: {error}") from None
    return model
