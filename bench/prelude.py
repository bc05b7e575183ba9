"""What a benchmark sets before TensorFlow is imported, so import it first: tf.keras for QKeras,
quiet logs, no build cache, and the tests' model builders on the import path (the bench folder is
there already, as the running script's own)."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # QKeras builds tf.keras models
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# As in the tests (tests/conftest.py): no CPU-dependent oneDNN rewrites of the frameworks' float sums.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
# compile() figures are g++'s: no build comes from the C simulation's cache (nnhls/csim.py).
os.environ.setdefault("NNHLS_CACHE_DIR", "")
sys.path.insert(0, str(ROOT / "tests"))
