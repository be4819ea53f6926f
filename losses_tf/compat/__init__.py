"""The peers' loss APIs in TensorFlow: ``losses_torch.compat.keras``, ``.torch``, ``.monai``, ``.smp``.

Each class keeps its peer's name, constructor arguments (order and defaults),
call convention and layout; ``docs/compat.md`` lists them with the spec loss
and parameters each maps to.
"""
