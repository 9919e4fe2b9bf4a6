"""The HLO FLOP counter of benchmarks/flops.py on computations with known counts."""

import numpy as np
import pytest
import tensorflow as tf

from benchmarks.flops import hlo_flops, optimized_hlo


def test_matmul_counts_two_flops_per_multiply_add():
    a, b = np.ones((4, 5), np.float32), np.ones((5, 3), np.float32)

    def multiply(a, b):
        return tf.linalg.matmul(a, b)

    assert hlo_flops(optimized_hlo(multiply, a, b)) == (2 * 4 * 3 * 5, 0, [])


@pytest.mark.parametrize("padding, positions", [("VALID", 8 * 3), ("SAME", 10 * 3 - 2)])
def test_convolution_counts_only_kernel_positions_on_real_input(padding, positions):
    # (batch 2, length 10, 3 features) through a kernel of width 3 to 4 features; with SAME
    # padding the first and last outputs each have one kernel position on padding.
    x, kernel = np.ones((2, 10, 3), np.float32), np.ones((3, 3, 4), np.float32)

    def convolve(x, kernel):
        return tf.nn.conv1d(x, kernel, stride=1, padding=padding)

    assert hlo_flops(optimized_hlo(convolve, x, kernel)) == (0, 2 * 2 * 3 * 4 * positions, [])


def test_loop_body_counts_once_per_iteration():
    a = np.ones((4, 4), np.float32)

    def repeat(a):
        return tf.while_loop(lambda i, x: i < 5, lambda i, x: (i + 1, tf.linalg.matmul(x, a)),
                             (tf.constant(0), a))[1]

    assert hlo_flops(optimized_hlo(repeat, a)) == (5 * 2 * 4**3, 0, [])
