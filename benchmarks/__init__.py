"""lossbridge's benchmark harness: every registered loss, timed forward+backward
with its peak memory against the native framework loss, MONAI, smp and a
read-the-inputs floor, in PyTorch and TensorFlow, eager and compiled.

Run it with ``python -m benchmarks`` (or ``lossbridge bench``); see
``benchmarks/README.md`` for the method and ``benchmarks/cli.py`` for the
options.  ``benchmarks/run.py`` is the older, focused comparison of
cross-entropy, Dice and CTC with fixed targets.
"""
