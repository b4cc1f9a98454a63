"""Pure statistics: sequences of floats in, typed results out. No I/O, no pandas, no SQL.

>>> from daskbench.stats import compare
>>> c = compare([1.0, 1.1, 0.9, 1.0, 1.05] * 2, [1.5, 1.6, 1.4, 1.5, 1.55] * 2)
>>> c.verdict
'regressed'
"""

from daskbench.stats._attribution import explaining
from daskbench.stats._changepoint import ChangePoint, detect_change_points
from daskbench.stats._compare import Comparison, Verdict, compare, compare_many
from daskbench.stats._monitor import MonitorSettings, Shift, TailScan, declared_after, scan_tail
from daskbench.stats._noise import (
    Noise,
    benchmark_noise,
    noise_cv,
    noise_plan,
    paired_noise_cv,
)
from daskbench.stats._power import (
    min_rounds,
    minimum_detectable_effect,
    planned_mde,
    rounds_needed,
)
from daskbench.stats._sequential import (
    SequentialDesign,
    SequentialResult,
    sequential_compare_many,
    sequential_min_rounds,
)

__all__ = [
    "ChangePoint",
    "Comparison",
    "MonitorSettings",
    "Noise",
    "SequentialDesign",
    "SequentialResult",
    "Shift",
    "TailScan",
    "Verdict",
    "benchmark_noise",
    "compare",
    "compare_many",
    "declared_after",
    "detect_change_points",
    "explaining",
    "min_rounds",
    "minimum_detectable_effect",
    "noise_cv",
    "noise_plan",
    "paired_noise_cv",
    "planned_mde",
    "rounds_needed",
    "scan_tail",
    "sequential_compare_many",
    "sequential_min_rounds",
]
