"""Activation smoothing before dynamic int8 quantization (SmoothQuant, Xiao et al., 2023).

ONNX Runtime's dynamic int8 quantizes a MatMul's input activations with one scale per call,
so the few channels with large values that BERT-style models have leave the other channels few
levels. Dividing input channel j by s_j and multiplying row j of the weights by s_j computes
the same product, and moves that range into the weights, which are quantized per output
channel. s_j = max|X_j|^alpha / max|W_j|^(1 - alpha), with max|X_j| measured on calibration
windows. This module rewrites an fp32 ONNX graph that way; qa-export quantizes the result.
How much F1 it keeps, and how ALPHA was chosen (on other questions than the benchmark's):
docs/benchmarks.md, "CPU inference".
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

ALPHA = 0.9


def smooth_for_int8(model, calibration: Iterable[dict[str, np.ndarray]],
                    alpha: float = ALPHA) -> int:
    """Rewrite `model` (an fp32 onnx.ModelProto, in place) so that every MatMul with a weight
    reads its input divided per channel; `calibration`: model feeds, one window each.
    Returns how many activations were smoothed."""
    consumers = _weighted_matmuls(model)
    ranges = _activation_ranges(model, list(consumers), calibration)
    weights = {tensor.name: tensor for tensor in model.graph.initializer}
    for activation, nodes in consumers.items():
        _smooth(model, activation, nodes, weights, ranges[activation], alpha)
    _order_scalings(model)
    return len(consumers)


def _weighted_matmuls(model) -> dict[str, list]:
    """Activation name -> the MatMul nodes that multiply it by a 2-D weight of their own."""
    weights = {t.name for t in model.graph.initializer if len(t.dims) == 2}
    uses: dict[str, int] = {}
    for node in model.graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    consumers: dict[str, list] = {}
    for node in model.graph.node:
        if node.op_type == "MatMul" and node.input[1] in weights and uses[node.input[1]] == 1:
            consumers.setdefault(node.input[0], []).append(node)
    return consumers


def _activation_ranges(model, activations: list[str],
                       calibration: Iterable[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per-channel max |value| of each activation over the calibration windows."""
    import onnx
    import onnxruntime

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.extend(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT,
                                                                 None) for name in activations)
    options = onnxruntime.SessionOptions()  # no fusions: they could hide the activations
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = onnxruntime.InferenceSession(probe.SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    ranges: dict[str, np.ndarray] = {}
    for feeds in calibration:
        for name, value in zip(activations, session.run(activations, feeds)):
            window_max = np.abs(value.reshape(-1, value.shape[-1])).max(axis=0)
            ranges[name] = np.maximum(ranges.get(name, window_max), window_max)
    if len(ranges) != len(activations):
        raise ValueError("smoothing needs at least one calibration window")
    return ranges


def _smooth(model, activation: str, nodes: list, weights: dict, activation_max: np.ndarray,
            alpha: float) -> None:
    from onnx import helper, numpy_helper

    matrices = [numpy_helper.to_array(weights[node.input[1]]) for node in nodes]
    weight_max = np.max([np.abs(matrix).max(axis=1) for matrix in matrices], axis=0)
    scale = activation_max ** alpha / np.maximum(weight_max, 1e-8) ** (1 - alpha)
    scale = np.clip(scale, 1e-5, None).astype(np.float32)  # a channel that is always 0
    smoothed = f"{activation}/smoothed"
    model.graph.initializer.append(numpy_helper.from_array(1 / scale, f"{activation}/smoothing"))
    model.graph.node.append(helper.make_node("Mul", [activation, f"{activation}/smoothing"],
                                             [smoothed], name=f"{activation}/smooth"))
    for node, matrix in zip(nodes, matrices):
        node.input[0] = smoothed
        weights[node.input[1]].CopyFrom(
            numpy_helper.from_array(matrix * scale[:, None], node.input[1]))


def _order_scalings(model) -> None:
    """Move each appended scaling node just before the first node that reads its output (the
    graph must stay topologically sorted)."""
    scalings = {node.output[0]: node for node in model.graph.node
                if node.name.endswith("/smooth")}
    ordered = []
    for node in model.graph.node:
        if node.name.endswith("/smooth"):
            continue
        for name in node.input:
            if name in scalings:
                ordered.append(scalings.pop(name))
        ordered.append(node)
    del model.graph.node[:]
    model.graph.node.extend(ordered)
