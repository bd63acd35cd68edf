"""Floating-point operations of a model, counted from its traced graph.

Only the operations that carry the arithmetic are counted, as the reference
figures count them: convolutions (2 per multiply-add of every output value)
and matrix products. Element-wise work (normalisation, activations, the
crop's interpolation, the paste-back's copies) is left out; it is small next
to them and bound by memory, not arithmetic.
"""

import collections
import dataclasses
import re

import numpy as np
import tensorflow as tf

_CONVOLUTIONS = ("Conv2D", "DepthwiseConv2dNative", "Conv2DBackpropInput")
_MATRIX_PRODUCTS = ("MatMul", "BatchMatMulV2", "BatchMatMulV3")
_CALL_SUFFIX = re.compile(r"_\d+$")


@dataclasses.dataclass(frozen=True)
class FlopCount:
    """FLOPs of one traced call, in total and by the model's top-level layers.

    Attributes:
        total: int, floating-point operations of the call.
        by_layer: dict, top-level layer name (e.g. `"stage1"`,
            `"localizer"`, `"eye_model"`) -> FLOPs of the operations inside
            it; operations outside any layer are under `"(model)"`.

    Example:
    >>> count = FlopCount(total=10, by_layer={"stage1": 10})
    >>> count.gflop
    1e-08
    """

    total: int
    by_layer: dict

    @property
    def gflop(self):
        return self.total / 1e9


def _static_shape(tensor, operation):
    shape = tensor.shape
    if not shape.is_fully_defined():
        raise ValueError(
            f"cannot count the FLOPs of {operation.name} ({operation.type}): its shape "
            f"{shape} is not fully known; trace with a fully defined input shape"
        )
    return shape.as_list()


def operation_flops(operation):
    """FLOPs of one graph operation: convolutions and matrix products, else 0.

    Args:
        operation: a `tf.Operation` of a traced graph with static shapes.

    Returns:
        int.

    Example:
    >>> graph = tf.function(lambda x: tf.matmul(x, x)).get_concrete_function(
    ...     tf.TensorSpec([4, 4])).graph
    >>> [operation_flops(op) for op in graph.get_operations() if op.type == "MatMul"]
    [128]
    """
    if operation.type in ("Conv2D", "DepthwiseConv2dNative"):
        output = _static_shape(operation.outputs[0], operation)
        kernel_h, kernel_w, in_channels, multiplier = _static_shape(operation.inputs[1], operation)
        per_output = kernel_h * kernel_w * (in_channels if operation.type == "Conv2D" else 1)
        return 2 * int(np.prod(output)) * per_output
    if operation.type == "Conv2DBackpropInput":  # transposed convolution
        kernel_h, kernel_w, out_channels, in_channels = _static_shape(operation.inputs[1], operation)
        inputs = _static_shape(operation.inputs[2], operation)
        return 2 * int(np.prod(inputs[:-1])) * kernel_h * kernel_w * out_channels * in_channels
    if operation.type in _MATRIX_PRODUCTS:
        left = _static_shape(operation.inputs[0], operation)
        output = _static_shape(operation.outputs[0], operation)
        transposed = operation.get_attr("transpose_a" if operation.type == "MatMul" else "adj_x")
        inner = left[-2] if transposed else left[-1]
        return 2 * int(np.prod(output)) * inner
    return 0


def _top_layer(operation_name):
    scopes = operation_name.split("/")
    if len(scopes) < 3:
        return "(model)"
    return _CALL_SUFFIX.sub("", scopes[1])


def count_flops(function, input_signature):
    """Counts the FLOPs of one call of `function` on inputs of a fixed shape.

    Traces `function` as a `tf.function` (nothing runs) and adds up
    `operation_flops` over its graph.

    Args:
        function: a callable of tensors, e.g. `lambda x: model(x)`.
        input_signature: list of `tf.TensorSpec` with fully defined shapes.

    Returns:
        A `FlopCount`.

    Example:
    >>> import keras
    >>> conv = keras.layers.Conv2D(8, 3, padding="same")
    >>> count_flops(conv, [tf.TensorSpec([1, 16, 16, 4])]).total  # 2*16*16*8 * 3*3*4
    147456
    """
    concrete = tf.function(function).get_concrete_function(*input_signature)
    by_layer = collections.Counter()
    for operation in concrete.graph.get_operations():
        flops = operation_flops(operation)
        if flops:
            by_layer[_top_layer(operation.name)] += flops
    return FlopCount(total=sum(by_layer.values()), by_layer=dict(by_layer))
