"""Ready-made models: the architecture registry behind ``kerasrnn fit --arch``."""

from kerasrnn.models.architectures import ARCHITECTURES, TASKS, build_model

__all__ = ["ARCHITECTURES", "TASKS", "build_model"]
