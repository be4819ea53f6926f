"""Drop-in compatibility with the peers' loss APIs, written once for both frameworks.

``spec.compat.<peer>`` defines, for each loss class of a peer library, its
constructor and call exactly as the peer spells them and the mapping onto a
registered spec loss (:class:`PeerLoss`).  ``losses_torch.compat.<peer>`` and
``losses_tf.compat.<peer>`` generate the classes from these definitions, so
moving code between frameworks is an import change; ``docs/compat.md`` is
generated from them too (``lossbridge compat --write docs/compat.md``).
"""

# importing the peer modules registers their definitions
from spec.compat import keras as keras
from spec.compat import monai as monai
from spec.compat import smp as smp
from spec.compat import torch as torch
from spec.compat._core import (
    PEER_MODULES,
    PEER_VERSIONS,
    Arg,
    Inputs,
    Mapped,
    PeerLoss,
    bind_function,
    definitions,
    evaluate,
    get_definition,
)
from spec.compat._docs import docstring, markdown

PEERS = tuple(PEER_MODULES)

__all__ = [
    "PEERS",
    "PEER_MODULES",
    "PEER_VERSIONS",
    "Arg",
    "Inputs",
    "Mapped",
    "PeerLoss",
    "bind_function",
    "definitions",
    "docstring",
    "markdown",
    "evaluate",
    "get_definition",
]
