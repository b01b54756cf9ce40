"""The worker's collector settings (streams/worker/gc_tuning.py), in a process of their own."""

from __future__ import annotations

import subprocess
import sys

from streams.worker.gc_tuning import GEN0_THRESHOLD, GEN1_THRESHOLD, GEN2_THRESHOLD

PROBE = """
import gc
from streams.worker.gc_tuning import tune_gc
before = gc.get_threshold()
tune_gc()
print(before, gc.get_threshold(), gc.get_freeze_count() > 1000)
"""


def test_tune_gc_freezes_what_is_loaded_and_spaces_the_passes_out() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], check=True, capture_output=True, text=True
    ).stdout.strip()
    thresholds = (GEN0_THRESHOLD, GEN1_THRESHOLD, GEN2_THRESHOLD)
    assert out == f"(700, 10, 10) {thresholds} True"
