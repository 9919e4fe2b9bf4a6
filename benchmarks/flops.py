"""Dot and convolution FLOPs of an XLA HLO module, counted with XLA's `HloCostAnalysis` rules.

dot: 2 x output elements x contracted size; convolution: 2 x batch x output features x
input features per group x valid kernel positions (those that read a real, not padded,
input element). Element-wise ops, reductions and optimizer updates are not counted, the
usual convention for MFU. TensorFlow exposes no Python API for XLA's cost analysis, so
`hlo_flops` walks the `HloModuleProto` itself; `optimized_hlo` gets that module for any
function and `compiler_ir_module` for a Keras model's train step.

    from flops import compiler_ir_module, hlo_flops
    dots, convolutions, notes = hlo_flops(compiler_ir_module(model, batch))
"""

import json
import math

import tensorflow as tf
from tensorflow.compiler.xla.service import hlo_pb2


def _product(values):
    return math.prod(int(v) for v in values)


def _dot_flops(instruction, operand_shape):
    contracted = _product(operand_shape(0).dimensions[d]
                          for d in instruction.dot_dimension_numbers.lhs_contracting_dimensions)
    return 2 * _product(instruction.shape.dimensions) * contracted


def _valid_positions(input_size, kernel_size, output_size, window):
    """(output, kernel) position pairs that read a real (not padded) input element."""
    stride = window.stride or 1
    base_dilation = window.base_dilation or 1
    window_dilation = window.window_dilation or 1
    count = 0
    for kernel_index in range(kernel_size):
        for output_index in range(output_size):
            undilated = output_index * stride - window.padding_low + kernel_index * window_dilation
            if undilated % base_dilation == 0 and 0 <= undilated // base_dilation < input_size:
                count += 1
    return count


def _convolution_flops(instruction, operand_shape):
    lhs, rhs = operand_shape(0).dimensions, operand_shape(1).dimensions
    out = instruction.shape.dimensions
    numbers = instruction.convolution_dimension_numbers
    positions = 1
    for index, window in enumerate(instruction.window.dimensions):
        positions *= _valid_positions(
            lhs[numbers.input_spatial_dimensions[index]],
            rhs[numbers.kernel_spatial_dimensions[index]],
            out[numbers.output_spatial_dimensions[index]],
            window,
        )
    feature_groups = instruction.feature_group_count or 1
    batch_groups = instruction.batch_group_count or 1
    return (2 * (lhs[numbers.input_feature_dimension] // feature_groups)
            * out[numbers.output_feature_dimension]
            * (lhs[numbers.input_batch_dimension] // batch_groups) * positions)


def _trip_count(instruction):
    try:
        config = json.loads(instruction.backend_config or b"{}")
        return int(config["known_trip_count"]["n"])
    except (ValueError, KeyError, TypeError):
        return None


def hlo_flops(module):
    """`(dot_flops, convolution_flops, notes)` of one execution of an `HloModuleProto`.

    Walks the call graph from the entry computation (fusions, calls, while bodies times
    their known trip count, conditional branches); `notes` lists what could not be
    counted exactly.
    """
    computations = {c.id: c for c in module.computations}
    notes, cache = set(), {}

    def visit(computation_id):
        if computation_id in cache:
            return cache[computation_id]
        computation = computations[computation_id]
        by_id = {i.id: i for i in computation.instructions}
        dots = convolutions = 0
        for instruction in computation.instructions:
            def operand_shape(k, instruction=instruction):
                return by_id[instruction.operand_ids[k]].shape

            if instruction.opcode == "dot":
                dots += _dot_flops(instruction, operand_shape)
            elif instruction.opcode == "convolution":
                convolutions += _convolution_flops(instruction, operand_shape)
            elif instruction.opcode == "custom-call" and any(
                word in instruction.custom_call_target.lower() for word in ("matmul", "conv", "gemm")
            ):
                notes.add(f"custom-call {instruction.custom_call_target} not counted")
            times = 1
            if instruction.opcode == "while":
                times = _trip_count(instruction)
                if times is None:
                    notes.add("a while loop of unknown trip count is counted once")
                    times = 1
            elif instruction.opcode == "conditional":
                notes.add("every branch of a conditional is counted")
            for called in instruction.called_computation_ids:
                called_dots, called_convolutions = visit(called)
                dots += times * called_dots
                convolutions += times * called_convolutions
        cache[computation_id] = dots, convolutions
        return cache[computation_id]

    dots, convolutions = visit(module.entry_computation_id)
    return dots, convolutions, sorted(notes)


def optimized_hlo(function, *args):
    """The `HloModuleProto` that XLA compiles for `function(*args)` (one XLA compile).

    `stage="optimized_hlo_serialized"` is the module after XLA's passes; in TF 2.21
    `"optimized_hlo_proto_serialized"` returns the module before them (no fusions, dead
    ops kept), so it is not used.
    """
    lowered = tf.function(function, jit_compile=True).experimental_get_compiler_ir(*args)
    module = hlo_pb2.HloModuleProto()
    module.ParseFromString(lowered(stage="optimized_hlo_serialized"))
    return module


def compiler_ir_module(model, batch):
    """The optimized HLO of a compiled Keras `model.train_step` on `batch`, lowered again by XLA."""
    return optimized_hlo(model.train_step, batch)
