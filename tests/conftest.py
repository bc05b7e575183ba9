"""Settings every test process needs before any framework is imported."""

import os

# TensorFlow's oneDNN graph rewrites depend on the CPU: on CPUs with AVX-512 and AMX, tf.keras's
# LayerNormalization followed by Add fails inside TensorFlow ("offset must be 1D tensor"), and
# the rewrites reorder float sums, so the framework's reference outputs would vary by machine.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
