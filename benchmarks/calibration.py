"""Measured calibration of the "A beats B" verdict row (tests/test_calibration.py's setting): the share of
100 seeds that say ``reproduced`` for two identical conditions and for a +0.1 accuracy change.

Run: ``PYTHONPATH=src:. python benchmarks/calibration.py``.
"""

from __future__ import annotations

import logging
import time

from tests.test_calibration import N_PROBLEMS, N_SAMPLES, SEEDS, reproduced_rate

log = logging.getLogger("calibration")

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for shift in (0.0, 0.05, 0.1):
        t0 = time.perf_counter()
        rate = reproduced_rate(shift, n_boot=2000)
        log.info("shift %+.2f on %d problems x %d samples: reproduced in %.0f%% of %d seeds (%.1f s)",
                 shift, N_PROBLEMS, N_SAMPLES, 100 * rate, SEEDS, time.perf_counter() - t0)
