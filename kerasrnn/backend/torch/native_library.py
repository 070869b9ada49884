"""Build and load the C++ step kernels in ``kerasrnn/backend/torch/native/``.

The kernels are plain C++ (no PyTorch headers), so building them takes a
few seconds with the machine's C++ compiler: the first use on a machine
compiles them with ``-O3 -march=native -fopenmp`` into a cache directory,
later uses load the cached library. They are called through ``ctypes`` with
the data pointers of contiguous CPU tensors
(``kerasrnn.backend.torch.native_cells``).

OpenMP (``native/parallel.h``): PyTorch has loaded its own OpenMP runtime
(``libgomp.so.1``) by the time the library loads, so the library shares it:
a call splits its batch rows among the threads ``torch.set_num_threads``
sets, the team PyTorch's matmuls between the calls use. Where the compiler
has no OpenMP, or the library built with it does not load, the kernels are
built without it and run on the calling thread.

Where there is no compiler, the build fails, or ``KERASRNN_NATIVE_KERNELS=0``
is set, :func:`library` returns ``None`` (once warning why, for a failed
build) and the cells run their pure-PyTorch paths instead: same math,
slower (the peephole and layer-norm LSTM their ``autograd.Function`` in
``kerasrnn.backend.torch.sequence_cells``, the GRU family its generic loop).

* compiler: ``$CXX``, else the first of ``c++``, ``g++``, ``clang++`` found;
* cache: ``$KERASRNN_CACHE_DIR/native``, else ``$XDG_CACHE_HOME/kerasrnn/native``,
  else ``~/.cache/kerasrnn/native``; one library per hash of the sources,
  the compiler, its flags and the CPU's model and features, written
  atomically (a concurrent build by another process is harmless).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

from kerasrnn.storage.atomic import write_with

SOURCES = (
    "peephole_lstm.cc",
    "layer_norm_lstm.cc",
    "layer_norm_gru.cc",
    "layer_norm_simple_rnn.cc",
    "reset_before_cells.cc",
    "ind_rnn.cc",
    "nas.cc",
    "linear_recurrence.cc",
    "parallel.cc",
)
HEADERS = ("activations.h", "layer_norm.h", "parallel.h")
_SOURCE_DIR = Path(__file__).parent / "native"
# Compiled with -ffast-math (vectorized reductions, exp and reciprocals); NaN and infinity stay IEEE (a NaN
# loss must show). Linked without it: linked with -ffast-math, GCC adds crtfastmath.o, whose constructor
# turns on flush-to-zero for the whole process (PyTorch's and NumPy's denormals too) when the library loads.
_FLAGS = ("-O3", "-ffast-math", "-fno-finite-math-only", "-fPIC", "-std=c++17")
_LINK_FLAGS = ("-shared",)
_TUNE = ("-march=native",)
_OPENMP = ("-fopenmp",)
# Tried in order; a variant that does not compile or load gives way to the next.
_VARIANTS = (
    (*_FLAGS, *_TUNE, *_OPENMP),
    (*_FLAGS, *_OPENMP),
    (*_FLAGS, *_TUNE),
    _FLAGS,
)
_DISABLE = "KERASRNN_NATIVE_KERNELS"
_INT64, _POINTER = ctypes.c_int64, ctypes.c_void_p


class BuildError(RuntimeError):
    """The kernels could not be compiled here."""


def cache_directory() -> Path:
    if os.environ.get("KERASRNN_CACHE_DIR"):
        return Path(os.environ["KERASRNN_CACHE_DIR"]) / "native"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "kerasrnn" / "native"


def find_compiler() -> str:
    """The C++ compiler's path; raises :class:`BuildError` if there is none."""
    candidates = [os.environ["CXX"]] if os.environ.get("CXX") else ["c++", "g++", "clang++"]
    for name in candidates:
        path = shutil.which(name)
        if path:
            return path
    raise BuildError(f"no C++ compiler found (tried {', '.join(candidates)}; set CXX to choose one)")


def _cpu_description() -> str:
    """The CPU's model and feature flags (``-march=native`` builds for exactly these)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    wanted = ("model name", "flags", "Features", "CPU part")
    return "\n".join(sorted({line for line in lines if line.split(":")[0].strip() in wanted}))


def _fingerprint(compiler: str, flags: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for name in (*SOURCES, *HEADERS):
        digest.update(name.encode() + b"\0" + (_SOURCE_DIR / name).read_bytes())
    for part in (compiler, *flags, *_link_flags(flags), platform.machine(), platform.system(), _cpu_description()):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:20]


def _link_flags(flags: tuple[str, ...]) -> tuple[str, ...]:
    return (*_LINK_FLAGS, *(flag for flag in flags if flag in _OPENMP))


def _compile(compiler: str, flags: tuple[str, ...], output: Path) -> None:
    """Objects in a scratch directory beside ``output`` (compile flags), then the library (link flags only)."""
    with tempfile.TemporaryDirectory(dir=output.parent) as scratch:
        sources = [str(_SOURCE_DIR / name) for name in SOURCES]
        objects = [str(Path(scratch) / Path(name).with_suffix(".o").name) for name in SOURCES]
        for command, cwd in (
            ([compiler, *flags, "-c", *sources], scratch),
            ([compiler, *_link_flags(flags), "-o", str(output), *objects], None),
        ):
            result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
            if result.returncode != 0:
                raise BuildError(f"{' '.join(command)} failed: {result.stderr.strip()[-2000:]}")


def _build_variant(compiler: str, flags: tuple[str, ...]) -> Path:
    path = cache_directory() / _fingerprint(compiler, flags) / "libkerasrnn_cells.so"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_with(path, lambda temporary: _compile(compiler, flags, temporary))
    return path


def _built() -> tuple[Path, ctypes.CDLL]:
    """The first variant that compiles (or is cached) and loads; raises :class:`BuildError`."""
    import torch  # noqa: F401  (loaded first: the library then shares PyTorch's OpenMP runtime)

    compiler = find_compiler()
    errors = []
    for flags in _VARIANTS:
        try:
            path = _build_variant(compiler, flags)
            return path, ctypes.CDLL(str(path))
        except (BuildError, OSError, subprocess.SubprocessError) as error:
            errors.append(str(error))
    raise BuildError("; ".join(errors))


def build() -> Path:
    """The compiled library's path, compiling it first if the cache lacks it; raises :class:`BuildError`."""
    return _built()[0]


def _declare(library: ctypes.CDLL) -> None:
    """argtypes of every kernel, float32 (``_f32``) and float64 (``_f64``) alike."""
    i, p = _INT64, _POINTER
    signatures = {
        "peephole_lstm_forward_step": [i, i, i, p, i, p, p, p, p, p, i, p],
        "peephole_lstm_backward_step": [i, i, i, p, p, p, p, p, p, i, p, p, p, i, p],
        "layer_norm_lstm_forward_step": [i, i, p, p, p, i, p, p, p, p, "scalar", p, p, p, p, p, p, p, i],
        "layer_norm_lstm_backward_step": [i, i, p, p, p, p, p, p, p, p, p, p, i, p, p, p, i, p, i, p, p, p, p],
        "layer_norm_gru_forward_step": [i, i, p, p, p, i, p, p, "scalar", p, p, i, p, i],
        "layer_norm_gru_backward_step": [i, i, p, p, p, p, i, p, p, p, i, p, p, p, i, p, i, p, p],
        "layer_norm_simple_rnn_forward_step": [i, i, p, p, p, i, p, p, "scalar", p, i],
        "layer_norm_simple_rnn_backward_step": [i, i, p, p, p, i, p, p, i, p, p, i, p, p],
        "reset_before_gates_forward": [i, i, p, i, p, p, i, p, i, p, i, p, p, p],
        "reset_before_update_forward": [i, i, p, p, i, p, p, i, p, i, i],
        "reset_before_update_backward": [i, i, p, p, p, i, p, i, p, i, p, i, p, p],
        "reset_before_gates_backward": [i, i, p, p, p, i, p, p, p, p, p, i],
        "ind_rnn_forward": [i, i, i, p, p, p, p, i, i],
        "nas_forward_step": [i, i, p, i, p, p, p, p, i],
        "linear_recurrence_forward": [i, i, i, p, p, p, p],
        "linear_recurrence_backward": [i, i, i, p, p, p, p, p, p, p],
        "nas_backward_step": [i, i, p, i, p, p, p, i, p, p, p, i, p, i],
        "ind_rnn_backward": [i, i, i, p, p, p, p, p, p, p, i, i],
    }
    for name, argtypes in signatures.items():
        for suffix, scalar in (("f32", ctypes.c_float), ("f64", ctypes.c_double)):
            function = getattr(library, f"{name}_{suffix}")
            function.argtypes = [scalar if a == "scalar" else a for a in argtypes]
            function.restype = None
    library.kernel_threads.argtypes = [i, i]
    library.kernel_threads.restype = i


@functools.cache
def library() -> ctypes.CDLL | None:
    """The loaded kernels, or ``None`` where they are disabled or cannot be built (then warns once)."""
    if os.environ.get(_DISABLE, "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    try:
        loaded = _built()[1]
        _declare(loaded)
    except (BuildError, OSError, AttributeError) as error:
        warnings.warn(
            f"kerasrnn: the C++ step kernels could not be built ({error}); kerasrnn's own cells run their slower "
            f"pure-PyTorch paths on the torch backend (set {_DISABLE}=0 to skip the attempt)",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    return loaded
