"""kerasrnn: recurrent networks for Keras 3 on TensorFlow, JAX and PyTorch.

Importing kerasrnn registers its layers with Keras' serialization, so a
``.keras`` file holding them loads with plain ``keras.saving.load_model``.
It imports keras (and so the chosen backend) but never tensorflow itself.
"""

__version__ = "0.1.0"

from kerasrnn import layers  # noqa: E402,F401  (registers the layers)
from kerasrnn.models import ARCHITECTURES  # noqa: E402
from kerasrnn.models import build_model  # noqa: E402

__all__ = ["ARCHITECTURES", "build_model", "layers"]
