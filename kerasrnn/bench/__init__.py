"""``kerasrnn bench``: training and inference speed and peak memory, side by side.

For chosen architectures and Keras backends it measures training and
``predict`` samples per second (median of repeats after warm-up) and the
process peak RSS, each row in a process of its own, beside reference rows from
the same run: ``keras.layers.LSTM`` / ``keras.layers.GRU`` on each backend and
native ``torch.nn.LSTM`` / ``torch.nn.GRU`` (pure PyTorch, no Keras).  See
``docs/bench.md``.

Nothing here imports Keras or a backend; the rows do, in their own processes.

Example::

    from kerasrnn.bench import run_bench, format_table
    result = run_bench(archs="lstm,mut1", backends="jax", out="bench.json")
    print(format_table(result))
"""

from kerasrnn.bench.report import format_table
from kerasrnn.bench.runner import BACKENDS, REFERENCES, SHAPES, BenchError, make_config, run_bench

__all__ = ["BACKENDS", "REFERENCES", "SHAPES", "BenchError", "format_table", "make_config", "run_bench"]
