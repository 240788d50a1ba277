"""Sweeps: search an experiment's settings with Optuna (``kerasdl sweep``).

:mod:`kerasdl.sweep.space` parses ``--param KEY=SPEC`` (no TensorFlow, no Optuna);
:mod:`kerasdl.sweep.study` runs the trials as kerasdl runs and keeps the study.
"""
from kerasdl.sweep.space import Param, parse_param, parse_space
from kerasdl.sweep.study import SweepError, SweepPlan, SweepResult, plan_sweep, run_sweep

__all__ = ["Param", "parse_param", "parse_space", "SweepError", "SweepPlan", "SweepResult",
           "plan_sweep", "run_sweep"]
