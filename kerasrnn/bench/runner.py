"""Plans and runs a benchmark: one subprocess per row, results gathered here.

Nothing here imports Keras, a backend or PyTorch: every row runs
``worker.py`` in its own process (``KERAS_BACKEND`` set before Keras is
imported there), so rows never share a backend, a compiled function cache or a
memory peak.

Each finished row is logged as one line on the ``kerasrnn.bench`` logger.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from kerasrnn import registry
from kerasrnn.registry import JIT_COMPILE
from kerasrnn.storage import atomic
from kerasrnn.storage.destinations import DestinationError, check_new_file
from kerasrnn.training import host_memory

SCHEMA = "kerasrnn-bench/1"
BACKENDS = ("tensorflow", "jax", "torch")
KERAS_REFERENCES = ("keras.layers.LSTM", "keras.layers.GRU", "keras.layers.Bidirectional(LSTM)")
TORCH_REFERENCES = ("torch.nn.LSTM", "torch.nn.GRU", "torch.nn.LSTM(bidirectional)")
REFERENCES = KERAS_REFERENCES + TORCH_REFERENCES
#: The rows every ratio is taken against.
TORCH_BASELINE = "torch.nn.LSTM"
KERAS_BASELINE = "keras.layers.LSTM"
#: Bidirectional rows (a ``bi`` architecture or reference) are also compared
#: with these: the same work (two directions) rather than half of it.
TORCH_BI_BASELINE = "torch.nn.LSTM(bidirectional)"
KERAS_BI_BASELINE = "keras.layers.Bidirectional(LSTM)"
BIDIRECTIONAL_REFERENCES = (KERAS_BI_BASELINE, TORCH_BI_BASELINE)
NATIVE = "native"  # the "backend" of the pure-PyTorch rows
#: ``--distribute``: besides every architecture's 1-device row, one timed on
#: several local devices (``data-parallel``, kerasrnn.training.distribution).
DISTRIBUTIONS = ("none", "data-parallel")
DEFAULT_DEVICES = 2
#: Backends with a Keras distribution engine (JAX DataParallel, TF MirroredStrategy).
DISTRIBUTED_BACKENDS = ("jax", "tensorflow")
NO_DISTRIBUTION_BACKEND = "no Keras distribution backend on {backend} (Keras 3 distributes on jax and tensorflow)"

#: Shape name -> time steps, features per step, hidden size, batch size,
#: default batches per repeat.
SHAPES = {
    "default": {"time_steps": 28, "features": 28, "units": 128, "batch_size": 128, "batches": 30},
    "long": {"time_steps": 784, "features": 1, "units": 128, "batch_size": 128, "batches": 5},
    "wide": {"time_steps": 28, "features": 28, "units": 512, "batch_size": 128, "batches": 10},
}
SHAPE_NOTES = {
    "default": "MNIST row by row: 28 steps x 28 features, hidden 128, batch 128",
    "long": "pixel MNIST: 784 steps x 1 feature, hidden 128, batch 128",
    "wide": "28 steps x 28 features, hidden 512, batch 128",
}
DEFAULT_REPEATS = 5
DEFAULT_WARMUP = 1
#: ``--tiny``: a smoke-test size for CI (each can still be overridden).
TINY = {"units": 8, "batch_size": 16, "repeats": 2, "warmup": 1, "batches": 3}
NUM_CLASSES = 10
LEARNING_RATE = 1e-3
#: A 1-minute load average above this many per usable CPU before the run
#: marks the figures as unreliable (OpenMP-threaded PyTorch suffers most).
BUSY_LOAD_PER_CPU = 0.3
DEFAULT_TIMEOUT = 1800  # seconds per row
TINY_TIMEOUT = 600
MEMORY_NOTE = (
    "peak_rss_*: peak resident set size (resource.getrusage ru_maxrss) of the row's own process, "
    "including the framework's baseline (interpreter, imported libraries, model); "
    "rss_after_build_mb is the RSS after imports, data and model build, train_increment_mb the "
    "training peak above it. vmhwm_* (/proc VmHWM) is the same peak read from the kernel, as a cross-check. "
    "gpu_peak_*_mb: on a GPU, the allocator's peak bytes in use during training / predict "
    "(torch.cuda.max_memory_allocated, JAX memory_stats peak_bytes_in_use, TF get_memory_info peak)."
)
_WORKER = Path(__file__).resolve().with_name("worker.py")
logger = logging.getLogger(__name__)

#: Names as a comma list or a sequence of strings.
Names = str | Iterable[str]


class BenchError(ValueError):
    """An invalid benchmark request (unknown architecture, backend, shape, ...)."""


# --------------------------------------------------------------------------- #
# Planning
# --------------------------------------------------------------------------- #


def architecture_names() -> list[str]:
    """Every kerasrnn architecture name (canonical), in registry order."""
    return list(registry.ARCHITECTURES)


def _as_list(value: Names | None, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",")]
    else:
        items = [str(item).strip() for item in value]
    items = [item for item in items if item]
    duplicates = sorted({item for item in items if items.count(item) > 1})
    if duplicates:
        raise BenchError(f"{what} named twice: {', '.join(duplicates)}")
    return items


def _check(kind: str, values: list[str], accepted: Iterable[str]) -> None:
    unknown = [value for value in values if value not in accepted]
    if unknown:
        raise BenchError(f"unknown {kind} {', '.join(map(repr, unknown))}; expected one of: {', '.join(accepted)}")


def resolve_archs(archs: Names) -> list[str]:
    """``"all"``, ``"none"``, a comma list or a sequence of names -> checked list of names."""
    names = architecture_names()
    items = _as_list(archs, "architecture")
    if items == ["all"]:
        return names
    if items == ["none"]:  # reference rows only
        return []
    if "all" in items or "none" in items:
        raise BenchError("--archs: 'all' and 'none' cannot be combined with other names")
    # Earlier spellings (convlstm, layernorm-lstm) name the canonical rows.
    items = [registry.ARCHITECTURE_ALIASES.get(item, item) for item in items]
    _check("architecture", items, names)
    return _as_list(items, "architecture")  # an alias beside its canonical name is named twice


def resolve_backends(backends: Names) -> list[str]:
    items = _as_list(backends, "backend")
    _check("backend", items, BACKENDS)
    return items


def resolve_references(references: bool | Names | None) -> list[str]:
    """True (all six), False/None (none), or names -> checked list of names."""
    if references is True:
        return list(REFERENCES)
    if references is False or references is None:
        return []
    items = _as_list(references, "reference")
    if items == ["none"]:
        return []
    if items == ["all"]:
        return list(REFERENCES)
    _check("reference row", items, REFERENCES)
    return items


def _positive(name: str, value: Any, minimum: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BenchError(f"{name} must be an integer >= {minimum}; got {value!r}")


def make_config(
    archs: Names = "all",
    backends: Names = BACKENDS,
    shape: str = "default",
    repeats: int | None = None,
    warmup: int | None = None,
    batches: int | None = None,
    references: bool | Names | None = True,
    tiny: bool = False,
    seed: int = 0,
    units: int | None = None,
    batch_size: int | None = None,
    timeout: int | None = None,
    torch_threads: int | None = None,
    jit_compile: str = "auto",
    distribute: str = "none",
    devices: int | None = None,
    paired: bool = False,
) -> dict[str, Any]:
    """Checks a benchmark request and resolves every default; returns a dict."""
    if shape not in SHAPES:
        raise BenchError(f"unknown shape {shape!r}; expected one of: {', '.join(SHAPES)}")
    for name, value, minimum in (
        ("repeats", repeats, 1),
        ("warmup", warmup, 0),
        ("batches", batches, 1),
        ("units", units, 1),
        ("batch_size", batch_size, 1),
        ("timeout", timeout, 1),
        ("torch_threads", torch_threads, 1),
    ):
        _positive(name, value, minimum)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise BenchError(f"seed must be an integer; got {seed!r}")
    if jit_compile not in JIT_COMPILE:
        raise BenchError(f"unknown jit_compile {jit_compile!r}; expected one of: {', '.join(JIT_COMPILE)}")
    if distribute not in DISTRIBUTIONS:
        hint = " (time processes with 'kerasrnn launch', see docs/bench.md)" if distribute == "multi-worker" else ""
        raise BenchError(f"unknown distribute {distribute!r}; expected one of: {', '.join(DISTRIBUTIONS)}{hint}")
    _positive("devices", devices, 2)
    if devices is not None and distribute == "none":
        raise BenchError("devices is for distribute='data-parallel'; got distribute='none'")
    arch_names = resolve_archs(archs)
    backend_names = resolve_backends(backends)
    if distribute != "none" and not arch_names:
        raise BenchError(f"distribute={distribute!r} times architecture rows; none were given")
    reference_names = resolve_references(references)
    if references is True and not any(is_bidirectional(arch) for arch in arch_names):
        # The default set: the bidirectional references only serve bi rows.
        reference_names = [name for name in reference_names if name not in BIDIRECTIONAL_REFERENCES]
    keras_references = [name for name in reference_names if name in KERAS_REFERENCES]
    if not arch_names and not reference_names:
        raise BenchError("nothing to run: no architectures and no reference rows")
    if (arch_names or keras_references) and not backend_names:
        raise BenchError("no backends given for the architecture / keras.layers rows")
    base = dict(SHAPES[shape])
    if tiny:
        base.update(TINY)
    else:
        base.update(repeats=DEFAULT_REPEATS, warmup=DEFAULT_WARMUP)
    overrides = {
        "repeats": repeats,
        "warmup": warmup,
        "batches": batches,
        "units": units,
        "batch_size": batch_size,
    }
    base.update({key: value for key, value in overrides.items() if value is not None})
    devices = (devices or DEFAULT_DEVICES) if distribute != "none" else 1
    if base["batch_size"] % devices:
        raise BenchError(
            f"batch size {base['batch_size']} (the global batch) must be a multiple of the {devices} devices"
        )
    # An architecture whose "units" mean something else keeps its own default
    # (convlstm: 16 filters at each of a row's 28 positions, about the cost of
    # 128 LSTM units; 128 filters would take minutes per row), unless units
    # were given.
    arch_units = (
        {}
        if units is not None or tiny
        else {name: arch.defaults["units"] for name, arch in registry.ARCHITECTURES.items() if "units" in arch.defaults}
    )
    return {
        "shape": shape,
        "shape_note": SHAPE_NOTES[shape],
        **base,
        "arch_units": arch_units,
        "num_classes": NUM_CLASSES,
        "optimizer": "adam",
        "learning_rate": LEARNING_RATE,
        "loss": "sparse categorical cross-entropy (keras) / CrossEntropyLoss on logits (torch)",
        "seed": seed,
        "tiny": bool(tiny),
        "archs": arch_names,
        "backends": backend_names,
        "references": reference_names,
        "timeout_s": timeout or (TINY_TIMEOUT if tiny else DEFAULT_TIMEOUT),
        "torch_threads": torch_threads or _usable_cpus(),
        "jit_compile": jit_compile,
        "distribute": distribute,
        "devices": devices,
        "paired": bool(paired),
        "statistic": "median over repeats of samples/s; warm-up repeats (compilation) excluded",
        "host_memory": host_memory.describe(),  # every row's process, native ones too (as the CLI runs)
    }


def row_specs(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of a run, in the order they run: native torch, then per backend."""
    common = {
        key: config[key]
        for key in (
            "time_steps",
            "features",
            "units",
            "batch_size",
            "batches",
            "repeats",
            "warmup",
            "seed",
            "num_classes",
            "learning_rate",
            "torch_threads",
        )
    }
    common["jit_compile"] = JIT_COMPILE[config["jit_compile"]]  # what model.compile takes
    common.update(distribute="none", devices=1)
    distribute, devices = config.get("distribute", "none"), config.get("devices", 1)
    specs = []
    for name in config["references"]:
        if name in TORCH_REFERENCES:
            specs.append({"kind": "torch", "name": name, "backend": NATIVE, **common})
    for backend in config["backends"]:
        for name in config["references"]:
            if name in KERAS_REFERENCES:
                specs.append({"kind": "keras", "name": name, "backend": backend, **common})
        for arch in config["archs"]:
            units = config.get("arch_units", {}).get(arch, common["units"])
            specs.append({"kind": "kerasrnn", "name": arch, "arch": arch, "backend": backend, **common, "units": units})
            if distribute != "none":  # beside its 1-device row, the same global batch
                specs.append({**specs[-1], "distribute": distribute, "devices": devices})
    for spec in specs:
        spec["id"] = row_id(spec["name"], spec["backend"], spec["distribute"], spec["devices"])
        # Torch-backend rows only: in a JAX or TensorFlow process the native epoch would share the cores with
        # that backend's thread pools, which keep spinning after its own epoch (measured: TF rows' paired
        # ratios 0.1-0.15 above their separate-run ones, where torch rows' agree within the noise).
        if config.get("paired") and spec["backend"] == "torch" and spec["distribute"] == "none":
            spec["paired"] = TORCH_BI_BASELINE if is_bidirectional(spec["name"]) else TORCH_BASELINE
            spec["paired_units"] = common["units"]  # the reference row's, not a convlstm row's filters
    return specs


def row_id(name: str, backend: str, distribute: str = "none", devices: int = 1) -> str:
    """``lstm@jax``; a distributed row ``lstm@jax[data-parallel x2]``."""
    suffix = f"[{distribute} x{devices}]" if distribute != "none" else ""
    return f"{name}@{backend}{suffix}"


# --------------------------------------------------------------------------- #
# Machine and versions
# --------------------------------------------------------------------------- #


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _loadavg() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def _read_first(path: str, prefix: str | None = None) -> str | None:
    try:
        with open(path) as handle:
            for line in handle:
                if prefix is None:
                    return line.strip()
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine_info() -> dict[str, Any]:
    """The machine the rows run on: CPUs, memory, platform, Python, thread settings."""
    memory = _read_first("/proc/meminfo", "MemTotal")
    return {
        "cpu_count": os.cpu_count(),
        "usable_cpus": _usable_cpus(),
        "cpu_model": _read_first("/proc/cpuinfo", "model name") or platform.processor() or None,
        "cgroup_cpu_max": _read_first("/sys/fs/cgroup/cpu.max"),
        "memory_total": memory,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "hostname": platform.node(),
        "environment": {
            name: os.environ[name]
            for name in (
                "OMP_NUM_THREADS",
                "MKL_NUM_THREADS",
                "XLA_FLAGS",
                "TF_XLA_FLAGS",
                "TF_ENABLE_ONEDNN_OPTS",
                "CUDA_VISIBLE_DEVICES",
                "XLA_PYTHON_CLIENT_PREALLOCATE",
                "XLA_PYTHON_CLIENT_MEM_FRACTION",
                "KERASRNN_NATIVE_KERNELS",
            )
            if name in os.environ
        },
    }


def package_versions() -> dict[str, str | None]:
    """Installed versions of kerasrnn, Keras, the backends, numpy and click (None: absent)."""
    versions = {}
    for name in ("kerasrnn", "keras", "tensorflow", "jax", "jaxlib", "torch", "numpy", "click"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _git_state() -> dict[str, Any] | None:
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit or None, "modified_tracked_files": bool(dirty)}


# --------------------------------------------------------------------------- #
# Running
# --------------------------------------------------------------------------- #


def _tail(text: str | None, limit: int = 3000) -> str:
    text = text or ""
    return text[-limit:]


def _last_error_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    for line in reversed(lines):
        if "Error" in line or "error" in line or "Killed" in line:
            return line[:300]
    return lines[-1][:300] if lines else ""


def run_row(spec: dict[str, Any], timeout: float = DEFAULT_TIMEOUT, python: str | None = None) -> dict[str, Any]:
    """Runs one row in a subprocess; always returns a row dict (never raises)."""
    row = {
        "id": spec.get("id"),
        "kind": spec.get("kind"),
        "name": spec.get("name"),
        "arch": spec.get("arch"),
        "backend": spec.get("backend"),
        "distribute": spec.get("distribute", "none"),
        "devices": spec.get("devices", 1),
    }
    if row["distribute"] != "none" and row["backend"] not in DISTRIBUTED_BACKENDS:
        row["status"] = "skipped"
        row["skipped"] = NO_DISTRIBUTION_BACKEND.format(backend=row["backend"])
        return row
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.update(host_memory.child_environment())  # the setting the command line runs with
    if spec.get("kind") == "torch":
        env.pop("KERAS_BACKEND", None)
    else:
        env["KERAS_BACKEND"] = str(spec.get("backend"))
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kerasrnn-bench-") as folder:
        spec_path = os.path.join(folder, "spec.json")
        result_path = os.path.join(folder, "result.json")
        with open(spec_path, "w") as handle:
            json.dump(spec, handle)
        command = [python or sys.executable, str(_WORKER), spec_path, result_path]
        process = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group: a timeout ends the measuring child too
        )
        try:
            output, _ = process.communicate(timeout=timeout)
            returncode = process.returncode
            timed_out = False
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except OSError:
                process.kill()
            output, _ = process.communicate()
            returncode = process.returncode
            timed_out = True
        result = None
        if os.path.exists(result_path):
            try:
                with open(result_path) as handle:
                    result = json.load(handle)
            except (OSError, ValueError):
                result = None
    row["wall_s"] = round(time.perf_counter() - start, 2)
    row["worker_pid"] = process.pid  # also its process group
    if result is not None:
        row.update(result)
    if timed_out:
        row["status"] = "error"
        row["error"] = f"timed out after {timeout} s"
    elif result is None:
        row["status"] = "error"
        reason = _last_error_line(output)
        code = f"exit code {returncode}" if returncode is None or returncode >= 0 else f"signal {-returncode}"
        row["error"] = f"worker ended without a result ({code})" + (f": {reason}" if reason else "")
    if row.get("status") != "ok":
        row["output_tail"] = _tail(output)
    return row


def is_bidirectional(name: str) -> bool:
    """Whether an architecture or reference row runs both directions."""
    return name in BIDIRECTIONAL_REFERENCES or (name.startswith("bi") and name in architecture_names())


def _ratios_against(
    row: dict[str, Any], torch_row: dict[str, Any] | None, keras_row: dict[str, Any] | None, suffix: str
) -> dict[str, float]:
    ratios = {}
    for phase in ("train", "predict"):
        value = row[phase]["samples_per_s"]
        if torch_row:
            ratios[f"{phase}_vs_torch_{suffix}"] = value / torch_row[phase]["samples_per_s"]
        if keras_row:
            ratios[f"{phase}_vs_keras_{suffix}"] = value / keras_row[phase]["samples_per_s"]
    if keras_row:
        for key in ("peak_rss_train_mb", "gpu_peak_train_mb"):
            peak, reference = row["memory"].get(key), keras_row["memory"].get(key)
            if peak and reference:
                ratios[key.replace("_mb", f"_vs_keras_{suffix}")] = peak / reference
    return ratios


def add_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Adds each row's throughput and memory ratios to torch.nn.LSTM and keras.layers.LSTM.

    Bidirectional rows also get ratios to the bidirectional references
    (``*_vs_torch_bilstm``, ``*_vs_keras_bilstm``) where those rows ran.
    A row timed paired (``--paired``) gets ``train_vs_torch_lstm_paired``
    (``..._bilstm_paired``): the median over repeats of the native
    reference's epoch seconds over the row's, both timed in the row's process.
    A distributed row (``--distribute``) also gets its throughput over that
    of the 1-device row of the same architecture and backend
    (``train_vs_1_device``, ``predict_vs_1_device``).
    """
    ok = {row["id"]: row for row in rows if row.get("status") == "ok"}
    torch_row, torch_bi_row = ok.get(f"{TORCH_BASELINE}@{NATIVE}"), ok.get(f"{TORCH_BI_BASELINE}@{NATIVE}")
    for row in rows:
        ratios = {}
        if row.get("status") == "ok":
            backend = row["backend"]
            ratios = _ratios_against(row, torch_row, ok.get(f"{KERAS_BASELINE}@{backend}"), "lstm")
            if is_bidirectional(row.get("name", "")):
                keras_bi_row = ok.get(f"{KERAS_BI_BASELINE}@{backend}")
                ratios.update(_ratios_against(row, torch_bi_row, keras_bi_row, "bilstm"))
            paired = row["train"].get("paired")
            if paired:  # against the native reference timed in the row's own process, epoch by epoch
                kind = "bilstm" if paired["reference"] == TORCH_BI_BASELINE else "lstm"
                ratios[f"train_vs_torch_{kind}_paired"] = paired["ratio"]
            single = ok.get(row_id(row["name"], backend)) if row.get("distribute", "none") != "none" else None
            if single:
                for phase in ("train", "predict"):
                    ratios[f"{phase}_vs_1_device"] = row[phase]["samples_per_s"] / single[phase]["samples_per_s"]
        row["ratios"] = {key: round(value, 4) for key, value in ratios.items()}
    return rows


def _progress_line(index: int, total: int, row: dict[str, Any]) -> str:
    head = f"[{index}/{total}] {row['id']}"
    if row.get("status") == "skipped":
        return f"{head}: skipped, {row['skipped']}"
    if row.get("status") != "ok":
        return f"{head}: ERROR {row.get('error')} ({row['wall_s']:.0f} s)"
    memory = row["memory"]
    return (
        f"{head}: train {row['train']['samples_per_s']:,.0f}/s, predict {row['predict']['samples_per_s']:,.0f}/s, "
        f"peak RSS {memory.get('peak_rss_train_mb') or 0:,.0f} MB ({row['wall_s']:.0f} s)"
    )


def check_out_path(out: str | os.PathLike | None) -> None:
    """Fails early (before a long run) when ``out`` cannot be written (an existing file is replaced).

    Raises:
        BenchError: ``out`` is a directory, its directory does not exist or
            is not writable.
    """
    if out is None:
        return
    try:
        check_new_file(out, "--out", overwrite=True)
    except DestinationError as error:
        raise BenchError(str(error)) from None


def write_json(result: dict[str, Any], out: str | os.PathLike) -> None:
    """Writes the result document atomically (a reader sees the previous one or this one)."""
    atomic.write_text(out, json.dumps(result, indent=1) + "\n")


def run_bench(
    archs: Names = "all",
    backends: Names = BACKENDS,
    shape: str = "default",
    repeats: int | None = None,
    warmup: int | None = None,
    batches: int | None = None,
    references: bool | Names | None = True,
    tiny: bool = False,
    seed: int = 0,
    units: int | None = None,
    batch_size: int | None = None,
    timeout: int | None = None,
    torch_threads: int | None = None,
    jit_compile: str = "auto",
    distribute: str = "none",
    devices: int | None = None,
    paired: bool = False,
    out: str | os.PathLike | None = None,
    progress: Callable[[str], Any] | None = None,
    argv: list[str] | None = None,
    python: str | None = None,
) -> dict[str, Any]:
    """Runs the benchmark; returns the result (the JSON document) as a dict.

    Args:
        archs: ``"all"``, a comma list or a list of :data:`ARCHITECTURES` names.
        backends: Keras backends (comma list or list) for the kerasrnn and
            ``keras.layers`` rows; each row runs in its own process.
        shape: ``default``, ``long`` or ``wide`` (see :data:`SHAPES`).
        repeats: Timed repeats (median reported); default 5 (2 when tiny).
        warmup: Untimed repeats first (compilation); default 1.
        batches: Batches per repeat; default per shape (3 when tiny).
        references: True for all of ``keras.layers.LSTM/GRU`` (per backend)
            and native ``torch.nn.LSTM/GRU``; False for none; or names.
        tiny: Smoke-test size: units 8, batch 16, 2 repeats, 3 batches.
        seed: Seed of the synthetic data and the weights.
        units, batch_size: Override the shape's hidden size / batch size.
        timeout: Seconds per row before it is killed and reported as an error.
        torch_threads: ``torch.set_num_threads`` (default: usable CPUs).
        jit_compile: ``model.compile(jit_compile=...)`` of every Keras row:
            ``"auto"`` (Keras' default: XLA on JAX, and on TensorFlow only
            with a GPU; eager torch), ``"on"`` (XLA on TensorFlow and JAX,
            ``torch.compile`` on torch) or ``"off"`` (none; JAX then runs
            op by op). Native torch rows run as they are either way.
        distribute: ``"data-parallel"`` adds, beside every architecture's
            row, one whose model is built, compiled and trained under the
            backend's data-parallel engine on ``devices`` local devices
            (simulated on a CPU), with the same global batch; torch has no
            Keras distribution backend (that row is skipped, not failed).
        devices: Local devices of the distributed rows (default 2).
        paired: Each Keras row on the torch backend (one device) also
            trains native ``torch.nn.LSTM`` (``torch.nn.LSTM(bidirectional)``
            for a ``bi`` row) in its own process, one epoch after each of its
            own; its
            ``x torch`` ratio is then also taken epoch by epoch
            (``train_vs_torch_lstm_paired``), which a machine whose speed
            drifts between rows does not skew.
        out: Path of the JSON to write (also returned); rewritten after
            every row, so a stopped run leaves the rows that finished.
        progress: Called with one line of text as each row finishes (the
            same line is logged at INFO on the ``kerasrnn.bench`` logger).
        argv: The command line to record (default ``sys.argv``).
        python: The interpreter for the rows (default this one).

    Raises:
        BenchError: an invalid request (before anything runs).
    """
    config = make_config(
        archs=archs,
        backends=backends,
        shape=shape,
        repeats=repeats,
        warmup=warmup,
        batches=batches,
        references=references,
        tiny=tiny,
        seed=seed,
        units=units,
        batch_size=batch_size,
        timeout=timeout,
        torch_threads=torch_threads,
        jit_compile=jit_compile,
        distribute=distribute,
        devices=devices,
        paired=paired,
    )
    check_out_path(out)
    argv = list(sys.argv if argv is None else argv)
    specs = row_specs(config)
    machine = machine_info()
    machine["loadavg_before"] = _loadavg()
    started = datetime.now(timezone.utc)
    start = time.perf_counter()
    versions, git = package_versions(), _git_state()
    rows = []

    def document(complete: bool) -> dict[str, Any]:
        machine["loadavg_after"] = _loadavg()
        before = machine["loadavg_before"]
        machine["busy_before_run"] = bool(before and before[0] > BUSY_LOAD_PER_CPU * machine["usable_cpus"])
        add_ratios(rows)
        return {
            "schema": SCHEMA,
            "command": shlex.join(argv),
            "argv": argv,
            "cwd": os.getcwd(),
            "started": started.isoformat(timespec="seconds"),
            "wall_s": round(time.perf_counter() - start, 1),
            # False while rows are still running: a run that is stopped
            # (a time limit, Ctrl-C) leaves every finished row in ``out``.
            "complete": complete,
            "rows_planned": [spec["id"] for spec in specs],
            "config": config,
            "machine": machine,
            "versions": versions,
            "git": git,
            "memory_note": MEMORY_NOTE,
            "rows": rows,
            "failed": [row["id"] for row in rows if row.get("status") not in ("ok", "skipped")],
        }

    for index, spec in enumerate(specs, 1):
        row = run_row(spec, timeout=config["timeout_s"], python=python)
        rows.append(row)
        if out is not None and index < len(specs):
            write_json(document(complete=False), out)
        line = _progress_line(index, len(specs), row)
        logger.info(line)
        if progress is not None:
            progress(line)
    result = document(complete=True)
    if out is not None:
        write_json(result, out)
    return result
