"""The Keras backend of a command, chosen before Keras is imported.

Keras reads ``KERAS_BACKEND`` once, when it is imported, so every command
that uses Keras calls :func:`use_backend` before its first heavy import.
Without ``--backend`` and ``$KERAS_BACKEND``, Keras uses the backend of its
``keras.json`` (``tensorflow`` unless changed) and fails at import when that
is not installed -- on a machine with only JAX or PyTorch, say;
:func:`default_to_an_installed_backend` then picks JAX, else torch, and says
so on the ``kerasrnn`` logger.

TensorFlow, absl and gRPC print start-up lines of their own ("WARNING: All
log messages before absl::InitializeLog() is called ...", "oneDNN custom
operations are on ...", "Could not find cuda drivers ...").  Unless
``--debug``, :func:`native_logging` sets the variables that silence them
where the user has not set them (:data:`QUIET_ENVIRONMENT`) and absl's Python
logging to errors, and :func:`use_backend` imports Keras with the lines that
no variable silences (absl's, written before its logging is initialised)
left out of stderr (:func:`hidden_native_lines`).  Nothing that changes
numerics is touched: oneDNN stays as it is, only its message is hidden.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator

from kerasrnn.errors import ConfigError

logger = logging.getLogger("kerasrnn")

#: Tried in this order when Keras' configured backend is not installed.
FALLBACK_BACKENDS = ("jax", "torch")


def keras_json_backend() -> str:
    """The backend in Keras' ``keras.json`` (Keras writes ``tensorflow`` there by default)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json"), encoding="utf-8") as handle:
            return json.load(handle).get("backend") or "tensorflow"
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


#: Set before TensorFlow is imported, where the user has not set them (and not with ``--debug``):
#: TensorFlow's C++ log only from FATAL up; gRPC's only errors.
QUIET_ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "ERROR"}

#: Whether native start-up lines are hidden: true unless ``--debug``
#: (:func:`native_logging`) or ``KERASRNN_DEBUG``.
_quiet = os.environ.get("KERASRNN_DEBUG", "") in ("", "0")

#: A line of absl's C++ log: severity letter and date, time, thread, file:line].
_ABSL_LINE = re.compile(rb"^([IWEF])\d{4} [\d:.]+ +\d+ [^ \]]+:\d+\] ")
_ABSL_PREAMBLE = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
#: TF_CPP_MIN_LOG_LEVEL -> the severities it hides (TensorFlow's meaning: 1 INFO, 2 and WARNING, 3 and ERROR).
_HIDDEN_SEVERITIES = {0: b"", 1: b"I", 2: b"IW", 3: b"IWE"}


@contextlib.contextmanager
def native_logging(quiet: bool) -> Iterator[None]:
    """For one command: silence TensorFlow's, absl's and gRPC's own lines unless ``quiet`` is false.

    Sets :data:`QUIET_ENVIRONMENT` where the variables are unset and absl's
    Python logging to errors; restores both afterwards, so that a program
    (or a test session) running the command line keeps its settings.
    """
    global _quiet
    saved_quiet, added = _quiet, []
    _quiet = quiet
    absl_logging, absl_verbosity = None, None
    if quiet:
        for name, value in QUIET_ENVIRONMENT.items():
            if name not in os.environ:
                os.environ[name] = value
                added.append(name)
        if importlib.util.find_spec("absl") is not None:
            from absl import logging as absl_logging

            absl_verbosity = absl_logging.get_verbosity()
            absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        yield
    finally:
        _quiet = saved_quiet
        for name in added:
            os.environ.pop(name, None)
        if absl_logging is not None:
            absl_logging.set_verbosity(absl_verbosity)


def quiet_tensorflow() -> None:
    """Set :data:`QUIET_ENVIRONMENT` where unset, unless ``--debug``: before TensorFlow is imported."""
    if _quiet:
        for name, value in QUIET_ENVIRONMENT.items():
            os.environ.setdefault(name, value)


def is_native_noise(line: bytes, min_log_level: int) -> bool:
    """A start-up line of absl's C++ log that ``TF_CPP_MIN_LOG_LEVEL`` = ``min_log_level`` would hide."""
    hidden = _HIDDEN_SEVERITIES[max(0, min(min_log_level, 3))]
    if line.rstrip(b"\r\n") == _ABSL_PREAMBLE:
        return b"W" in hidden
    match = _ABSL_LINE.match(line)
    return bool(match) and match.group(1) in hidden


@contextlib.contextmanager
def hidden_native_lines() -> Iterator[None]:
    """Leave absl's start-up lines out of stderr (file descriptor 2) for the duration.

    Absl writes them straight to the file descriptor before its logging is
    initialised, so no variable silences them: what is written to stderr
    meanwhile goes to a temporary file, and every other line is written back
    to stderr afterwards, in order.  Which severities are left out follows
    ``TF_CPP_MIN_LOG_LEVEL`` (as set by the user, else :data:`QUIET_ENVIRONMENT`);
    with ``--debug`` nothing is.
    """
    try:
        level = int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        level = 0
    if not _quiet or level <= 0:
        yield
        return
    _flush_stderr()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            _flush_stderr()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [line for line in capture.read().splitlines(keepends=True) if not is_native_noise(line, level)]
            if kept:
                os.write(2, b"".join(kept))


def _flush_stderr() -> None:
    for stream in (sys.stderr, sys.__stderr__):
        with contextlib.suppress(Exception):
            stream.flush()


def import_keras() -> None:
    """Import Keras (and its backend) with the backend's start-up lines hidden (:func:`hidden_native_lines`)."""
    if "keras" in sys.modules:
        return
    with hidden_native_lines():
        import keras  # noqa: F401 -- imported here for its start-up lines; the commands import it again


def default_to_an_installed_backend() -> str | None:
    """Where no backend is chosen and Keras' would-be one is missing, use JAX or torch.

    ``KERAS_BACKEND`` is always kept, and nothing changes once Keras is
    imported.

    Returns:
        The backend set in ``KERAS_BACKEND``, or ``None`` if none was set.
    """
    if "keras" in sys.modules or os.environ.get("KERAS_BACKEND"):
        return None
    configured = keras_json_backend()
    if importlib.util.find_spec(configured):
        return None
    for name in FALLBACK_BACKENDS:
        if importlib.util.find_spec(name):
            os.environ["KERAS_BACKEND"] = name
            logger.warning("%s (Keras' configured backend) is not installed; using %s", configured, name)
            return name
    return None


def use_backend(backend: str | None, *, load: bool = True) -> str:
    """Set ``KERAS_BACKEND`` to ``backend`` (before Keras is imported); return the backend in use.

    With ``load`` (a command that uses Keras in this process), Keras is
    imported too, its backend's start-up lines hidden (:func:`import_keras`).

    Raises:
        ConfigError: ``backend`` differs from the one of an already imported
            Keras (only in a process that runs several commands, e.g. tests).
    """
    quiet_tensorflow()
    keras_module = sys.modules.get("keras")
    if keras_module is not None:
        current = keras_module.backend.backend()
        if backend and backend != current:
            raise ConfigError(
                f"--backend {backend}: Keras is already imported with the {current} backend in this process"
            )
        return current
    if backend:
        os.environ["KERAS_BACKEND"] = backend
    else:
        default_to_an_installed_backend()
    chosen = os.environ.get("KERAS_BACKEND") or keras_json_backend()
    if load:
        import_keras()
    return chosen


def use_backend_distributed(backend: str | None, distribute: str | None, devices: int | None) -> str:
    """:func:`use_backend` for a run with ``--distribute``: the process is prepared before Keras starts.

    JAX reads ``XLA_FLAGS`` (the simulated CPU devices of ``--devices``) once,
    when it starts, so :func:`kerasrnn.training.distribution.prepare_environment`
    runs between choosing the backend and importing Keras; it also refuses
    torch (no distribution backend in Keras 3).
    """
    from kerasrnn.training.distribution import prepare_environment

    chosen = use_backend(backend, load=False)
    if "keras" not in sys.modules:
        prepare_environment(distribute, devices, chosen)
    elif distribute not in (None, "none") and chosen == "torch":
        prepare_environment(distribute, devices, chosen)
    return use_backend(backend)
