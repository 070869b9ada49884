"""Measures one row of ``kerasrnn bench`` in a process of its own.

Run as a script (never imported by the parent, and never through the
``kerasrnn`` package, whose ``__init__`` imports Keras)::

    python kerasrnn/bench/worker.py SPEC.json RESULT.json

``SPEC.json`` is a fully resolved row (see ``runner.row_specs``); the result
(throughputs of every repeat, memory, device, versions, or the error) is
written to ``RESULT.json``.  A ``kind: "torch"`` row is pure PyTorch and never
imports Keras; a Keras row expects ``KERAS_BACKEND`` to be set by the parent.

Peak memory: ``resource.getrusage(...).ru_maxrss`` survives ``exec``, so a
process started from a big one (a parent that imported TensorFlow, pytest ...)
reports the parent's peak, not its own.  The script therefore starts the
measuring process itself, from this small stdlib-only process, whose peak is
what a fresh child inherits: the measured process's ru_maxrss is its own.
``/proc/self/status`` VmHWM is recorded beside it as a cross-check.

Standard library only at import time (this process's own peak is what the
measuring child inherits); the row imports its frameworks itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

INNER_FLAG = "--measure"
# Native torch row -> (torch.nn module, bidirectional).
TORCH_MODULES = {
    "torch.nn.LSTM": ("LSTM", False),
    "torch.nn.GRU": ("GRU", False),
    "torch.nn.LSTM(bidirectional)": ("LSTM", True),
}


# --------------------------------------------------------------------------- #
# Memory
# --------------------------------------------------------------------------- #


def _proc_status_mb(field: str) -> float | None:
    """``VmRSS`` / ``VmHWM`` of this process in MiB (Linux), else None."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _maxrss_mb() -> float:
    """``ru_maxrss`` of this process in MiB (kilobytes on Linux, bytes on macOS)."""
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value / 2**20 if sys.platform == "darwin" else value / 1024


def _rss_now_mb() -> float:
    current = _proc_status_mb("VmRSS")
    return current if current is not None else _maxrss_mb()


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


# --------------------------------------------------------------------------- #
# Shared pieces
# --------------------------------------------------------------------------- #


def make_data(spec: dict[str, Any]) -> tuple[Any, Any, str]:
    """The synthetic data set every row trains and predicts on (fixed seed)."""
    import numpy as np

    rng = np.random.default_rng(spec["seed"])
    samples = spec["batch_size"] * spec["batches"]
    x = rng.standard_normal((samples, spec["time_steps"], spec["features"]), dtype=np.float32)
    y = rng.integers(0, spec["num_classes"], size=samples).astype(np.int32)
    digest = hashlib.sha1(x.tobytes() + y.tobytes()).hexdigest()[:16]
    return x, y, digest


def summarize(seconds: list[float], warmup_seconds: list[float], samples: int) -> dict[str, Any]:
    """Median throughput of the timed repeats (warm-up repeats excluded)."""
    rates = [samples / s for s in seconds]
    median = statistics.median(rates)
    return {
        "samples_per_s": median,
        "repeats_samples_per_s": rates,
        "repeats_seconds": seconds,
        "warmup_seconds": warmup_seconds,
        "samples_per_repeat": samples,
        "spread": (max(rates) - min(rates)) / median if median else None,
    }


def _loadavg() -> list[float] | None:
    try:
        return list(os.getloadavg())
    except OSError:
        return None


# --------------------------------------------------------------------------- #
# Keras rows (kerasrnn architectures and keras.layers.LSTM/GRU)
# --------------------------------------------------------------------------- #


def _keras_device(backend: str, model: Any) -> dict[str, Any]:
    """Where the model's weights live, and the GPU name if any (best effort)."""
    info = {}
    variable = model.trainable_variables[0].value
    if backend == "tensorflow":
        import tensorflow as tf

        info["placement"] = str(variable.device)
        gpus = tf.config.list_physical_devices("GPU")
        info["gpus"] = len(gpus)
        info["type"] = "gpu" if "GPU" in str(variable.device).upper() else "cpu"
        if gpus:
            try:
                info["name"] = tf.config.experimental.get_device_details(gpus[0]).get("device_name")
            except Exception:  # noqa: BLE001 -- best effort
                pass
    elif backend == "jax":
        device = list(variable.devices())[0]
        info["placement"] = str(device)
        info["weight_devices"] = sorted(str(each) for each in variable.devices())  # several: replicated
        info["type"] = "cpu" if device.platform == "cpu" else "gpu"
        info["platform"] = device.platform
        info["name"] = getattr(device, "device_kind", None)
    elif backend == "torch":
        import torch

        info["placement"] = str(variable.device)
        info["type"] = "cpu" if variable.device.type == "cpu" else "gpu"
        if variable.device.type == "cuda":
            info["name"] = torch.cuda.get_device_name(variable.device)
    return info


def _reset_gpu_peak(backend: str, device: dict[str, Any]) -> None:
    if device.get("type") != "gpu":
        return
    try:
        if backend == "torch":
            import torch

            torch.cuda.reset_peak_memory_stats()
        elif backend == "tensorflow":
            import tensorflow as tf

            tf.config.experimental.reset_memory_stats("GPU:0")
    except Exception:  # noqa: BLE001 -- best effort
        pass


def _gpu_peak_mb(backend: str, device: dict[str, Any]) -> float | None:
    """Peak accelerator memory in use (allocator figures), when on a GPU."""
    if device.get("type") != "gpu":
        return None
    try:
        if backend == "torch":
            import torch

            return torch.cuda.max_memory_allocated() / 2**20
        if backend == "tensorflow":
            import tensorflow as tf

            return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
        if backend == "jax":
            import jax

            stats = jax.devices()[0].memory_stats() or {}
            peak = stats.get("peak_bytes_in_use")
            return None if peak is None else peak / 2**20
    except Exception:  # noqa: BLE001 -- best effort
        return None
    return None


def _backend_version(backend: str) -> dict[str, str]:
    if backend == "tensorflow":
        import tensorflow as tf

        return {"tensorflow": tf.__version__}
    if backend == "jax":
        import jax
        import jaxlib

        return {"jax": jax.__version__, "jaxlib": jaxlib.__version__}
    import torch

    return {"torch": torch.__version__}


def _seed_keras(backend: str, seed: int) -> None:
    """Seeds the weight initialization without ``keras.utils.set_random_seed``.

    That function imports TensorFlow whatever the backend (about 600 MB of
    RSS and seconds of import), which would inflate every JAX and torch row's
    memory baseline. Keras' default seed generator draws from Python's
    ``random``, so seeding it (and NumPy, and the backend) is enough.
    """
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    if backend == "tensorflow":
        import tensorflow as tf

        tf.random.set_seed(seed)
    elif backend == "torch":
        import torch

        torch.manual_seed(seed)


def build_keras_model(spec: dict[str, Any]) -> Any:
    """The row's Keras model: a kerasrnn architecture, or a keras.layers reference with the same head."""
    import keras

    shape = (spec["time_steps"], spec["features"])
    if spec["kind"] == "kerasrnn":
        import kerasrnn

        return kerasrnn.build_model(spec["arch"], "classification", shape, spec["num_classes"], units=spec["units"])
    units, name = spec["units"], spec["name"]
    layer = {
        "keras.layers.LSTM": lambda: keras.layers.LSTM(units, name="recurrent"),
        "keras.layers.GRU": lambda: keras.layers.GRU(units, name="recurrent"),
        "keras.layers.Bidirectional(LSTM)": lambda: keras.layers.Bidirectional(
            keras.layers.LSTM(units), name="recurrent"
        ),
    }[name]()
    inputs = keras.Input(shape, name="sequences")
    x = layer(inputs)
    # The head build_model gives a classification model.
    outputs = keras.layers.Dense(spec["num_classes"], activation="softmax", name="classifier")(x)
    model_name = name.rsplit(".", 1)[-1].lower().replace("(", "_").replace(")", "")
    return keras.Model(inputs, outputs, name=model_name)


def run_keras_row(spec: dict[str, Any], result: dict[str, Any]) -> None:
    """Measures a Keras row (``fit`` and ``predict``) into ``result``."""
    backend = spec["backend"]
    if os.environ.get("KERAS_BACKEND") != backend:
        raise RuntimeError(f"KERAS_BACKEND is {os.environ.get('KERAS_BACKEND')!r}, expected {backend!r}")
    start = time.perf_counter()
    if backend == "torch":
        import torch

        torch.set_num_threads(spec["torch_threads"])
    distribute, devices = spec.get("distribute", "none"), spec.get("devices", 1)
    if distribute != "none":
        from kerasrnn.training import distribution

        # Before Keras starts the backend: JAX's simulated CPU devices, TensorFlow's logical ones.
        distribution.prepare_environment(distribute, devices, backend)
    import keras

    if keras.backend.backend() != backend:
        raise RuntimeError(f"keras runs the {keras.backend.backend()} backend, expected {backend}")
    if spec["kind"] == "kerasrnn":
        import kerasrnn  # noqa: F401  (imported here so the baseline includes it)
    memory = result["memory"]
    memory["rss_after_imports_mb"] = _rss_now_mb()
    result["timing"]["import_s"] = time.perf_counter() - start

    start = time.perf_counter()
    x, y, digest = make_data(spec)
    result["data_sha1"] = digest
    _seed_keras(backend, spec["seed"])
    with contextlib.ExitStack() as distributed:
        if distribute != "none":
            from kerasrnn.training import distribution

            placement = distributed.enter_context(distribution.activate(distribute, devices, spec["seed"]))
            distribution.check_batch(spec["batch_size"], placement)
            if placement.replicas != devices:
                raise RuntimeError(f"{distribute} placed {placement.replicas} replicas, expected {devices}")
            result["distribution"] = placement.describe()
            distributed.enter_context(placement.scope())
        _run_keras_model(spec, result, keras, x, y, start)


def _run_keras_model(spec: dict[str, Any], result: dict[str, Any], keras: Any, x: Any, y: Any, start: float) -> None:
    """Builds, compiles, trains and predicts the row's model (under the distribution, if any)."""
    backend, memory = spec["backend"], result["memory"]
    model = build_keras_model(spec)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=spec["learning_rate"]),
        loss="sparse_categorical_crossentropy",
        jit_compile=spec.get("jit_compile", "auto"),  # resolved by the runner: "auto", True or False
    )
    result["model"] = {
        "name": model.name,
        "params": int(model.count_params()),
        "jit_compile": getattr(model, "jit_compile", None),
    }
    device = _keras_device(backend, model)
    result["device"] = device
    memory["rss_after_build_mb"] = _rss_now_mb()
    memory["peak_rss_before_train_mb"] = _maxrss_mb()
    result["timing"]["build_s"] = time.perf_counter() - start

    batch, repeats, warmup = spec["batch_size"], spec["repeats"], spec["warmup"]
    samples = batch * spec["batches"]
    last_variable = model.trainable_variables[-1]
    paired = None
    if spec.get("paired"):
        import torch

        torch.set_num_threads(spec["torch_threads"])
        paired = NativeTrainer(spec, spec["paired"], x, y, spec.get("device", "auto"), spec.get("paired_units"))

    class EpochTimer(keras.callbacks.Callback):
        """Times each epoch; one epoch = one repeat of ``batches`` training steps.

        Paired: after each epoch, one epoch of the native reference, timed
        apart (the two alternate, so both see the same machine).
        """

        def __init__(self):
            super().__init__()
            self.seconds = []
            self.paired_seconds = []
            self.start = None

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            # Wait for the device (JAX dispatches asynchronously, CUDA too).
            keras.ops.convert_to_numpy(last_variable.value)
            if logs and "loss" in logs:
                float(logs["loss"])
            self.seconds.append(time.perf_counter() - self.start)
            if paired is not None:
                begin = time.perf_counter()
                paired.train_epoch()
                self.paired_seconds.append(time.perf_counter() - begin)

    _reset_gpu_peak(backend, device)
    timer = EpochTimer()
    start = time.perf_counter()
    # One fit call over warm-up + repeats epochs: the data adapter and the
    # compiled train step are made once, the first epoch(s) carry the
    # compilation, and only the later epochs are counted.
    model.fit(x, y, batch_size=batch, epochs=warmup + repeats, shuffle=False, verbose=0, callbacks=[timer])
    result["timing"]["train_s"] = time.perf_counter() - start
    result["train"] = summarize(timer.seconds[warmup:], timer.seconds[:warmup], samples)
    result["train"]["method"] = f"model.fit(numpy, epochs=warmup+repeats, batch_size={batch}); one epoch per repeat"
    if paired is not None:
        ratios = [n / k for n, k in zip(timer.paired_seconds[warmup:], timer.seconds[warmup:], strict=True)]
        result["train"]["paired"] = {
            "reference": spec["paired"],
            "method": "one native epoch after each of this row's epochs, in this process; ratio = its seconds / ours",
            "reference_samples_per_s": statistics.median(samples / s for s in timer.paired_seconds[warmup:]),
            "ratio": statistics.median(ratios),
            "ratios": ratios,
        }
    memory["peak_rss_train_mb"] = _maxrss_mb()
    memory["vmhwm_train_mb"] = _proc_status_mb("VmHWM")
    memory["gpu_peak_train_mb"] = _gpu_peak_mb(backend, device)

    _reset_gpu_peak(backend, device)
    seconds = []
    start = time.perf_counter()
    for _ in range(warmup + repeats):
        begin = time.perf_counter()
        predictions = model.predict(x, batch_size=batch, verbose=0)
        seconds.append(time.perf_counter() - begin)
    result["timing"]["predict_s"] = time.perf_counter() - start
    if predictions.shape != (samples, spec["num_classes"]):
        raise RuntimeError(f"predict returned shape {predictions.shape}")
    result["predict"] = summarize(seconds[warmup:], seconds[:warmup], samples)
    result["predict"]["method"] = f"model.predict(numpy, batch_size={batch}) per repeat"
    memory["gpu_peak_predict_mb"] = _gpu_peak_mb(backend, device)

    versions = {"keras": keras.__version__, **_backend_version(backend)}
    if spec["kind"] == "kerasrnn":
        import kerasrnn

        versions["kerasrnn"] = kerasrnn.__version__
    result["versions"] = versions
    if backend == "torch":
        import torch

        result["threads"] = {"torch": torch.get_num_threads(), "torch_interop": torch.get_num_interop_threads()}


# --------------------------------------------------------------------------- #
# Native PyTorch rows (torch.nn.LSTM / torch.nn.GRU, no Keras)
# --------------------------------------------------------------------------- #


class NativeTrainer:
    """A native PyTorch row's model, optimizer and data: ``train_epoch`` and ``predict`` as the row times them.

    The reference of a Keras row's paired timing (``spec["paired"]``) too,
    in that row's own process.
    """

    def __init__(
        self, spec: dict[str, Any], name: str, x: Any, y: Any, device: str = "auto", units: int | None = None
    ) -> None:
        import torch
        from torch import nn

        self.use_cuda = torch.cuda.is_available() and device != "cpu"
        self.device = torch.device("cuda" if self.use_cuda else "cpu")
        torch.manual_seed(spec["seed"])
        module_name, bidirectional = TORCH_MODULES[name]
        recurrent = getattr(nn, module_name)
        units = units or spec["units"]

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = recurrent(spec["features"], units, batch_first=True, bidirectional=bidirectional)
                self.head = nn.Linear(units * (2 if bidirectional else 1), spec["num_classes"])

            def forward(self, inputs):
                _, state = self.rnn(inputs)
                h_n = state[0] if isinstance(state, tuple) else state  # LSTM: (h_n, c_n)
                # Each direction's final state (the backward one's is at time 0),
                # as Keras' Bidirectional(return_sequences=False) concatenates them.
                return self.head(torch.cat(list(h_n), dim=-1))  # logits; CrossEntropyLoss applies the softmax

        self.torch = torch
        self.model = Net().to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=spec["learning_rate"])
        self.loss_fn = nn.CrossEntropyLoss()
        # Data stays on the host and moves per batch, as Keras' fit/predict do.
        self.x_host = torch.from_numpy(x)
        self.y_host = torch.from_numpy(y).long()
        self.batch, self.batches = spec["batch_size"], spec["batches"]

    def sync(self) -> None:
        if self.use_cuda:
            self.torch.cuda.synchronize()

    def train_epoch(self) -> None:
        self.model.train()
        batch, loss = self.batch, None
        for i in range(self.batches):
            xb = self.x_host[i * batch : (i + 1) * batch].to(self.device, non_blocking=True)
            yb = self.y_host[i * batch : (i + 1) * batch].to(self.device, non_blocking=True)
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.loss_fn(self.model(xb), yb)
            loss.backward()
            self.optimizer.step()
        loss.item()
        self.sync()

    def predict(self) -> Any:
        batch, torch = self.batch, self.torch
        self.model.eval()
        with torch.inference_mode():
            outputs = [
                torch.softmax(
                    self.model(self.x_host[i * batch : (i + 1) * batch].to(self.device, non_blocking=True)), dim=-1
                ).cpu()
                for i in range(self.batches)
            ]
        self.sync()
        return torch.cat(outputs).numpy()


def run_torch_row(spec: dict[str, Any], result: dict[str, Any]) -> None:
    """Measures a native PyTorch row (a training loop and inference) into ``result``."""
    start = time.perf_counter()
    import numpy as np  # noqa: F401
    import torch

    torch.set_num_threads(spec["torch_threads"])
    result["memory"]["rss_after_imports_mb"] = _rss_now_mb()
    result["timing"]["import_s"] = time.perf_counter() - start

    start = time.perf_counter()
    x, y, digest = make_data(spec)
    result["data_sha1"] = digest
    native = NativeTrainer(spec, spec["name"], x, y, spec.get("device", "auto"))
    use_cuda, device = native.use_cuda, native.device
    batch, batches, repeats, warmup = spec["batch_size"], spec["batches"], spec["repeats"], spec["warmup"]
    samples = batch * batches

    result["model"] = {"name": spec["name"], "params": int(sum(p.numel() for p in native.model.parameters()))}
    info = {"placement": str(device), "type": "gpu" if use_cuda else "cpu"}
    if use_cuda:
        info["name"] = torch.cuda.get_device_name(device)
        info["cudnn"] = torch.backends.cudnn.is_available() and torch.backends.cudnn.enabled
        info["cudnn_version"] = torch.backends.cudnn.version()
    else:
        info["mkldnn"] = torch.backends.mkldnn.is_available()
    result["device"] = info
    result["memory"]["rss_after_build_mb"] = _rss_now_mb()
    result["memory"]["peak_rss_before_train_mb"] = _maxrss_mb()
    result["timing"]["build_s"] = time.perf_counter() - start
    train_epoch, predict = native.train_epoch, native.predict

    if use_cuda:
        torch.cuda.reset_peak_memory_stats()
    seconds = []
    start = time.perf_counter()
    for _ in range(warmup + repeats):
        begin = time.perf_counter()
        train_epoch()
        seconds.append(time.perf_counter() - begin)
    result["timing"]["train_s"] = time.perf_counter() - start
    result["train"] = summarize(seconds[warmup:], seconds[:warmup], samples)
    result["train"]["method"] = f"Python loop: zero_grad, forward, CrossEntropyLoss, backward, Adam step; batch {batch}"
    result["memory"]["peak_rss_train_mb"] = _maxrss_mb()
    result["memory"]["vmhwm_train_mb"] = _proc_status_mb("VmHWM")
    result["memory"]["gpu_peak_train_mb"] = torch.cuda.max_memory_allocated() / 2**20 if use_cuda else None

    if use_cuda:
        torch.cuda.reset_peak_memory_stats()
    seconds = []
    start = time.perf_counter()
    for _ in range(warmup + repeats):
        begin = time.perf_counter()
        predictions = predict()
        seconds.append(time.perf_counter() - begin)
    result["timing"]["predict_s"] = time.perf_counter() - start
    if predictions.shape != (samples, spec["num_classes"]):
        raise RuntimeError(f"predict returned shape {predictions.shape}")
    result["predict"] = summarize(seconds[warmup:], seconds[:warmup], samples)
    result["predict"]["method"] = "torch.inference_mode, softmax, outputs to host numpy; per repeat"
    result["memory"]["gpu_peak_predict_mb"] = torch.cuda.max_memory_allocated() / 2**20 if use_cuda else None
    result["versions"] = {"torch": torch.__version__}
    result["threads"] = {"torch": torch.get_num_threads(), "torch_interop": torch.get_num_interop_threads()}


# --------------------------------------------------------------------------- #
# Entry points
# --------------------------------------------------------------------------- #


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Runs one row; returns its result (``status`` ``ok`` or ``error``)."""
    result = {
        "status": "error",
        "pid": os.getpid(),
        "python": platform.python_version(),
        "loadavg_before": _loadavg(),
        # glibc's allocator settings this process started with (kerasrnn.training.host_memory).
        "malloc_environment": {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")},
        "memory": {},
        "timing": {},
    }
    start = time.perf_counter()
    try:
        if spec["kind"] == "torch":
            if spec["name"] not in TORCH_MODULES:
                raise ValueError(f"unknown native torch row {spec['name']!r}")
            run_torch_row(spec, result)
        elif spec["kind"] in ("kerasrnn", "keras"):
            run_keras_row(spec, result)
        else:
            raise ValueError(f"unknown row kind {spec['kind']!r}")
        result["status"] = "ok"
    except BaseException as error:  # noqa: BLE001 -- a failing row is reported, not raised
        message = str(error).strip().splitlines()
        result["error"] = f"{type(error).__name__}: {message[0] if message else ''}".rstrip(": ")
        result["traceback"] = traceback.format_exc()[-6000:]
    memory = result["memory"]
    memory["peak_rss_mb"] = _maxrss_mb()
    memory["vmhwm_mb"] = _proc_status_mb("VmHWM")
    if memory.get("peak_rss_train_mb") is not None and memory.get("rss_after_build_mb") is not None:
        memory["train_increment_mb"] = memory["peak_rss_train_mb"] - memory["rss_after_build_mb"]
    for key, value in memory.items():
        memory[key] = _round(value)
    result["timing"]["total_s"] = time.perf_counter() - start
    result["loadavg_after"] = _loadavg()
    result["keras_imported"] = "keras" in sys.modules
    result["frameworks_imported"] = [name for name in ("keras", "tensorflow", "jax", "torch") if name in sys.modules]
    return result


def main(argv: list[str]) -> int:
    """``worker.py SPEC.json RESULT.json``: measures in a fresh child (``--measure``); returns the exit status."""
    if len(argv) >= 1 and argv[0] == INNER_FLAG:
        spec_path, result_path = argv[1], argv[2]
        with open(spec_path) as handle:
            spec = json.load(handle)
        result = measure(spec)
        partial = result_path + ".partial"
        with open(partial, "w") as handle:
            json.dump(result, handle, indent=1)
        os.replace(partial, result_path)
        return 0 if result["status"] == "ok" else 3
    if len(argv) != 2:
        print("usage: worker.py SPEC.json RESULT.json", file=sys.stderr)
        return 2
    # Measure in a child of this small process: see the module docstring.
    return subprocess.call([sys.executable, os.path.abspath(__file__), INNER_FLAG, *argv])


if __name__ == "__main__":
    # Run by path: sys.path[0] is this directory; make it the repository root
    # instead, so kerasrnn imports from this checkout and nothing here shadows
    # another module.
    sys.path[0] = str(Path(__file__).resolve().parents[2])
    sys.exit(main(sys.argv[1:]))
