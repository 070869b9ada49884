"""Ready-made models: the architecture registry behind ``kerasrnn fit --arch``."""

from kerasrnn.models.architectures import ARCHITECTURES
from kerasrnn.models.architectures import TASKS
from kerasrnn.models.architectures import build_model

__all__ = ["ARCHITECTURES", "TASKS", "build_model"]
