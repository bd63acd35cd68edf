"""A bottleneck ResNet backbone whose last stage can be dilated, laid out as Keras' ResNets.

BASS's semantic branch (Liu et al., AAAI 2020, Sec. "Boundary-Attention
Semantic Segmentation") is ResNet-101 with dilated convolutions in the last
residual stage, so its output is 1/16 of the input rather than 1/32.
`keras.applications.ResNet101` has no dilation option, so `ResNetBackbone`
builds the same network itself: every layer has the name, type, shape and
order of its `keras.applications.ResNet101` counterpart (ResNet "v1": the
stride of a stage sits on the first 1x1 convolution of its first block and
on its projection shortcut, convolutions have biases, batch norm epsilon
1.001e-5), so ImageNet weights saved for that model load into it by layer
name with `load_backbone_weights`. Dilation changes no weight shape.

Keras' ResNets expect "caffe" inputs: BGR channels with values 0-255 minus
the ImageNet mean, no scaling; `ImageNetCaffePreprocessing` makes them from
RGB values in [0, 1].
"""

import numbers
import re
from pathlib import Path

import h5py
import keras
import numpy as np
from keras import layers

from keras_stn_icnn.checks import check_int
from keras_stn_icnn.layers.batch_normalization import BatchNormalization

RESNET101_DEPTHS = (3, 4, 23, 3)
"""Bottleneck blocks per stage (conv2 to conv5) of ResNet-101."""

IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)
"""The ImageNet mean (B, G, R), values 0-255, that Keras' ResNet weights were trained with."""

BATCH_NORM_EPSILON = 1.001e-5
"""Batch norm epsilon of Keras' ResNets."""

STAGE_NAMES = ("conv2", "conv3", "conv4", "conv5")
"""The backbone's outputs: the last block of each residual stage (e.g. `conv4_block23_out`)."""


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class ImageNetCaffePreprocessing(keras.layers.Layer):
    """RGB images in [0, 1] to the "caffe" inputs of Keras' ImageNet ResNets.

    The channels are reversed to BGR, scaled to 0-255 and the ImageNet mean
    `IMAGENET_BGR_MEAN` is subtracted: what
    `keras.applications.resnet.preprocess_input` does to 0-255 RGB images.

    Args:
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        images: float tensor `[..., 3]`, RGB values in [0, 1].

    Returns:
        float tensor `[..., 3]`, BGR values in 0-255 minus the ImageNet mean.

    Example:
    >>> ImageNetCaffePreprocessing()(np.array([[1.0, 0.0, 0.0]], "float32")).numpy().round(3)
    array([[-103.939, -116.779,  131.32 ]], dtype=float32)
    """

    def call(self, images):
        bgr = keras.ops.flip(images, axis=-1) * 255.0
        return bgr - keras.ops.convert_to_tensor(IMAGENET_BGR_MEAN, dtype=bgr.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


def _conv_norm(x, filters, kernel_size, name, strides=1, dilation_rate=1):
    # Keras' ResNet unit: a biased convolution and batch norm, named
    # `{name}_conv`/`_bn`. The 3x3 convolutions pad "same"; the stem's 7x7
    # follows an explicit zero padding.
    x = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same" if kernel_size == 3 else "valid",
        dilation_rate=dilation_rate,
        name=f"{name}_conv",
    )(x)
    return BatchNormalization(epsilon=BATCH_NORM_EPSILON, name=f"{name}_bn")(x)


def _bottleneck_block(x, filters, name, strides=1, dilation_rate=1, projection=False):
    # 1x1 (stride) -> 3x3 (dilation) -> 1x1 (4 * filters), plus the identity
    # or a strided 1x1 projection (`_0_`), then ReLU. The projection is built
    # first, as in Keras' ResNets, so the layers come in the same order.
    if projection:
        shortcut = _conv_norm(x, 4 * filters, 1, f"{name}_0", strides=strides)
    else:
        shortcut = x
    x = _conv_norm(x, filters, 1, f"{name}_1", strides=strides)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = _conv_norm(x, filters, 3, f"{name}_2", dilation_rate=dilation_rate)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = _conv_norm(x, 4 * filters, 1, f"{name}_3")
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class ResNetBackbone(keras.Model):
    """Bottleneck ResNet ("v1") returning its four stage features, last stage optionally dilated.

    The stem (7x7 convolution with stride 2, 3x3 max pooling with stride 2)
    is followed by four stages `conv2`..`conv5` of `depths` bottleneck
    blocks with `base_filters * (1, 2, 4, 8)` inner and four times as many
    output channels. `conv3` and `conv4` halve the resolution (stride 2 on
    the first block's 1x1 convolutions). With `output_stride=16`, `conv5`
    keeps the resolution of `conv4` and its 3x3 convolutions are dilated by
    2 (BASS, "dilation convolution is adopted in the fifth residual block");
    with `output_stride=32` it is the plain ResNet. The defaults give
    ResNet-101 with `keras.applications.ResNet101`'s layer names, so its
    ImageNet weights load with `load_backbone_weights`.

    Feature sides for an input side `s`: `ceil(s / 4)` for `conv2`, then
    halved (rounding up) per stride-2 stage; for 473: 119, 60, 30, 30.

    Args:
        depths: tuple of four ints >= 1, blocks per stage. Defaults to
            `(3, 4, 23, 3)` (ResNet-101).
        base_filters: int, channels of the stem and of `conv2`'s inner
            convolutions. Defaults to 64 (ResNet-101).
        output_stride: int, 16 (dilated `conv5`) or 32. Defaults to 16.
        **kwargs: standard `keras.Model` arguments (e.g. `name`).

    Call arguments:
        images: float tensor `[B, H, W, 3]`, "caffe" inputs (see
            `ImageNetCaffePreprocessing`).

    Returns:
        dict `"conv2"`..`"conv5"` -> the output of each stage's last block,
        `[B, h, w, 4 * base_filters * (1, 2, 4, 8)[k]]`.

    Example:
    >>> backbone = ResNetBackbone(depths=(1, 1, 1, 1), base_filters=4)
    >>> {k: tuple(v.shape[1:]) for k, v in backbone(np.zeros((1, 64, 64, 3))).items()}
    {'conv2': (16, 16, 16), 'conv3': (8, 8, 32), 'conv4': (4, 4, 64), 'conv5': (4, 4, 128)}
    """

    def __init__(self, depths=RESNET101_DEPTHS, base_filters=64, output_stride=16, **kwargs):
        if not _is_sequence_of_positive_ints(depths, length=4):
            raise ValueError(f"depths must be four ints >= 1, got {depths!r}")
        check_int(base_filters, "base_filters")
        if output_stride not in (16, 32) or isinstance(output_stride, bool):
            raise ValueError(f"output_stride must be 16 or 32, got {output_stride!r}")
        depths = tuple(int(depth) for depth in depths)
        base_filters = int(base_filters)
        output_stride = int(output_stride)
        last_stride, last_dilation = (1, 2) if output_stride == 16 else (2, 1)

        # === Functional model ===
        images = keras.Input(shape=(None, None, 3), name="images")
        x = layers.ZeroPadding2D(3, name="conv1_pad")(images)
        x = _conv_norm(x, base_filters, 7, "conv1", strides=2)
        x = layers.Activation("relu", name="conv1_relu")(x)
        x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
        x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
        features = {}
        stage_plans = zip(STAGE_NAMES, depths, (1, 2, 2, last_stride), (1, 1, 1, last_dilation))
        for k, (stage, depth, strides, dilation_rate) in enumerate(stage_plans):
            for block in range(1, depth + 1):
                x = _bottleneck_block(
                    x,
                    base_filters * 2**k,
                    f"{stage}_block{block}",
                    strides=strides if block == 1 else 1,
                    dilation_rate=dilation_rate,
                    projection=block == 1,
                )
            features[stage] = x
        super().__init__(inputs=images, outputs=features, **kwargs)

        # === Config ===
        self.depths = depths
        self.base_filters = base_filters
        self.output_stride = output_stride

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "depths": self.depths,
            "base_filters": self.base_filters,
            "output_stride": self.output_stride,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_sequence_of_positive_ints(values, length):
    if isinstance(values, str) or not hasattr(values, "__iter__"):
        return False
    values = tuple(values)
    return len(values) == length and all(_is_int(value) and value >= 1 for value in values)


def _snake_case(class_name):
    # How Keras 3 names a layer's group in a `.weights.h5` file: its class
    # name in snake case, numbered per class in the model's layer order.
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _keras_weights_file_keys(model):
    # Layer name -> its group in a Keras 3 `.weights.h5` of a model with the
    # same layer order (e.g. `conv1_conv` -> `conv2d`).
    used = {}
    keys = {}
    for layer in model.layers:
        base = _snake_case(type(layer).__name__)
        used[base] = used.get(base, -1) + 1
        keys[layer.name] = base if used[base] == 0 else f"{base}_{used[base]}"
    return keys


def _read_weights_file(path, backbone):
    # Layer name -> list of arrays, from a legacy Keras `.h5` (per layer name,
    # as keras.applications ships its ImageNet weights) or a Keras 3
    # `.weights.h5` (per layer position, as `save_weights` writes it).
    try:
        file = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"backbone weights file {path} is not an HDF5 file") from error
    with file:
        group = file["model_weights"] if "model_weights" in file else file
        if "layer_names" in group.attrs:
            return _read_legacy_weights(group)
        if "layers" in group:
            return _read_keras3_weights(group["layers"], backbone, path)
    raise ValueError(
        f"backbone weights file {path} is not a Keras weights file: it has neither legacy "
        "'layer_names' nor Keras 3 'layers'"
    )


def _read_legacy_weights(group):
    stored = {}
    for layer_name in group.attrs["layer_names"]:
        layer_group = group[_text(layer_name)]
        stored[_text(layer_name)] = [
            np.array(layer_group[_text(weight_name)]) for weight_name in layer_group.attrs["weight_names"]
        ]
    return stored


def _read_keras3_weights(layers_group, backbone, path):
    # Layers are found by position, so the file must not hold more layers of
    # a kind than the backbone (a deeper ResNet); fewer shows as a missing
    # layer later. Layers of other kinds (a classifier top) are ignored.
    keys = _keras_weights_file_keys(backbone)
    stored = {}
    for layer in backbone.layers:
        key = keys[layer.name]
        if layer.weights and f"{key}/vars" in layers_group:
            variables = layers_group[key]["vars"]
            stored[layer.name] = [np.array(variables[i]) for i in sorted(variables, key=int)]
    kinds = [_snake_case(type(layer).__name__) for layer in backbone.layers if layer.weights]
    for kind in dict.fromkeys(kinds):  # in order of appearance: conv2d first
        in_backbone = sum(_snake_case(type(layer).__name__) == kind for layer in backbone.layers)
        in_file = sum(re.fullmatch(rf"{kind}(_\d+)?", key) is not None for key in layers_group)
        if in_file > in_backbone:
            raise ValueError(
                f"backbone weights file {path} does not fit the backbone: it holds {in_file} "
                f"'{kind}' layers, the backbone {in_backbone} (Keras 3 weights files store "
                "layers by position, so the file must come from a ResNet of the same depths)"
            )
    return stored


def _text(value):
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def load_backbone_weights(model_or_backbone, path):
    """Loads ImageNet ResNet weights saved by Keras into a `ResNetBackbone`, by layer name.

    Reads either the legacy `.h5` layout of the files keras.applications
    ships (`resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5`, layers
    stored under their names) or a Keras 3 `.weights.h5` written by
    `keras.applications.ResNet101(...).save_weights` (layers stored in
    model order, which `ResNetBackbone` shares). Layers of the file the
    backbone lacks (a classifier top) are ignored. Every weight is checked
    before any is assigned, so a file that does not fit changes nothing.

    Args:
        model_or_backbone: a `ResNetBackbone`, or a model with one as its
            layer `"backbone"` (e.g. `BASS`).
        path: str or path-like, the weights file.

    Returns:
        the `ResNetBackbone` that was loaded.

    Raises:
        FileNotFoundError: if `path` does not exist.
        ValueError: naming the file and the first layer of the backbone
            that the file lacks or whose weight shapes differ.

    Example:
    >>> backbone = ResNetBackbone(depths=(1, 1, 1, 1), base_filters=4)
    >>> load_backbone_weights(backbone, "missing.h5")
    Traceback (most recent call last):
    ...
    FileNotFoundError: backbone weights file missing.h5 does not exist
    """
    backbone = _backbone_of(model_or_backbone)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"backbone weights file {path} does not exist")
    stored = _read_weights_file(path, backbone)
    assignments = []
    for layer in backbone.layers:
        if not layer.weights:
            continue
        if layer.name not in stored:
            raise ValueError(
                f"backbone weights file {path} does not fit the backbone: it has no weights for layer {layer.name!r}"
            )
        expected = [tuple(weight.shape) for weight in layer.weights]
        found = [tuple(array.shape) for array in stored[layer.name]]
        if expected != found:
            raise ValueError(
                f"backbone weights file {path} does not fit the backbone: layer {layer.name!r} "
                f"has weight shapes {expected}, the file {found}"
            )
        assignments.append((layer, stored[layer.name]))
    for layer, arrays in assignments:
        layer.set_weights(arrays)
    return backbone


def _backbone_of(model):
    if isinstance(model, ResNetBackbone):
        return model
    try:
        backbone = model.get_layer("backbone")
    except (AttributeError, ValueError):
        backbone = None
    if not isinstance(backbone, ResNetBackbone):
        raise ValueError(
            "load_backbone_weights needs a ResNetBackbone or a model with one as its layer "
            f"'backbone', got {type(model).__name__}"
        )
    return backbone
