"""Data-parallel training on the backends' own engines: one run on several devices or processes.

``RunConfig.distribute`` chooses:

* ``none`` -- one device (the default);
* ``data-parallel`` -- the local devices of one process (``devices`` of them):
  JAX: :class:`keras.distribution.DataParallel` over a ``DeviceMesh``;
  TensorFlow: :class:`tf.distribute.MirroredStrategy`;
* ``multi-worker`` -- one process per host or device group, placed by the
  standard environment: JAX: ``KERAS_DISTRIBUTION_JOB_ADDRESSES`` (the
  coordinator's ``host:port``), ``KERAS_DISTRIBUTION_NUM_PROCESSES``,
  ``KERAS_DISTRIBUTION_PROCESS_ID`` (read by
  :func:`keras.distribution.initialize`; CPU collectives through gloo);
  TensorFlow: ``TF_CONFIG`` (:class:`tf.distribute.MultiWorkerMirroredStrategy`).

torch: Keras 3 has no torch distribution backend, so ``--distribute`` is a
:class:`ConfigError` there.

What stays as on one device: ``batch_size`` is the global batch (each of
``W`` processes feeds rows ``[w*B/W, (w+1)*B/W)`` of every global batch of the
one seeded order, :class:`WorkerShard`: no sample is seen twice per epoch, the
same ones are left out as on one device), the learning rate (unless
``scale_lr="linear"``: times the number of replicas), metrics, early stopping,
checkpoints and ``--resume``.  Only process 0 writes the run directory: the
others train in a temporary directory removed at exit (:func:`worker_directory`).

Keras 3.15 with ``MultiWorkerMirroredStrategy`` fails in ``model.fit`` (it
reduces the first input batch and scalar metrics across workers with
``axis=0``: tensorflow/tensorflow#72388); :func:`_patch_keras_for_multi_worker`
makes the two reductions work, and the input is distributed with
``distribute_datasets_from_function`` (each worker its own rows, no TF
auto-sharding, which would hand out whole batches instead).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from kerasrnn import keras_private
from kerasrnn.errors import ConfigError

logger = logging.getLogger("kerasrnn")

#: JAX multi-process placement, the variables :func:`keras.distribution.initialize` reads.
JOB_ADDRESSES_ENV = "KERAS_DISTRIBUTION_JOB_ADDRESSES"
NUM_PROCESSES_ENV = "KERAS_DISTRIBUTION_NUM_PROCESSES"
PROCESS_ID_ENV = "KERAS_DISTRIBUTION_PROCESS_ID"
#: TensorFlow's cluster description.
TF_CONFIG_ENV = "TF_CONFIG"
#: XLA's flag that splits the host CPU into simulated devices (read when JAX starts).
XLA_CPU_DEVICES_FLAG = "--xla_force_host_platform_device_count"

TORCH_MESSAGE = (
    "--distribute {mode} needs the jax or tensorflow backend: Keras 3 has no torch distribution backend "
    "(use --backend jax or --backend tensorflow, or --distribute none)"
)


def prepare_environment(distribute: str, devices: int | None, backend: str) -> None:
    """Before Keras is imported: refuse torch, and split the CPU into ``devices`` simulated devices.

    JAX: XLA's flag (read when JAX starts); TensorFlow: logical CPU devices
    (before TensorFlow runs anything).  Both split only the host CPU; with
    accelerators the backends still use those.

    Raises:
        ConfigError: ``distribute`` on torch.
    """
    if distribute in (None, "none"):
        return
    if backend == "torch":
        raise ConfigError(TORCH_MESSAGE.format(mode=distribute))
    if backend == "jax" and devices and devices > 1:
        flags = os.environ.get("XLA_FLAGS", "")
        if XLA_CPU_DEVICES_FLAG not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} {XLA_CPU_DEVICES_FLAG}={int(devices)}".strip()
    if backend == "tensorflow" and distribute == "multi-worker":
        _multi_worker_strategy_of(devices)  # collectives are configured only before TensorFlow runs anything
    elif backend == "tensorflow" and devices and devices > 1:
        _use_local_devices(devices)  # logical CPU devices can only be made before TensorFlow runs anything


@dataclasses.dataclass
class Placement:
    """Where this process trains: its devices, its rank among the processes, the backend's engine."""

    mode: str = "none"
    process_id: int = 0
    num_processes: int = 1
    replicas: int = 1
    devices: tuple[str, ...] = ()
    strategy: Any = None  # tf.distribute.Strategy (TensorFlow)

    @property
    def is_chief(self) -> bool:
        """Process 0: the one that writes the run directory."""
        return self.process_id == 0

    @property
    def distributed(self) -> bool:
        return self.mode != "none"

    def scope(self) -> contextlib.AbstractContextManager:
        """Where the model and optimizer are built (the strategy's scope on TensorFlow)."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def describe(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "replicas": self.replicas,
            "processes": self.num_processes,
            "process_id": self.process_id,
            "devices": list(self.devices),
        }


_SINGLE = Placement()
_current: Placement = _SINGLE
_last: Placement = _SINGLE
# Created once per process: TensorFlow's multi-worker strategy and JAX's distributed runtime.
_multi_worker_strategy: Any = None
_jax_initialized = False
_mirrored_strategies: dict[tuple[str, ...], Any] = {}


def last_placement() -> Placement:
    """The placement of the last run :func:`activate` set up in this process (one device if none)."""
    return _last


def current() -> Placement:
    """The placement of the run being trained in this process (one device outside :func:`activate`)."""
    return _current


@contextlib.contextmanager
def activate(distribute: str, devices: int | None = None, seed: int = 0) -> Iterator[Placement]:
    """Set up the backend's distribution for one run; :func:`current` returns it meanwhile.

    Raises:
        ConfigError: torch, a multi-worker run without its environment, or
            more devices than the backend has.
    """
    global _current, _last
    import keras

    _last = _SINGLE
    if distribute in (None, "none"):
        yield _SINGLE
        return
    backend = keras.backend.backend()
    if backend == "torch":
        raise ConfigError(TORCH_MESSAGE.format(mode=distribute))
    if backend == "jax":
        placement, undo = _jax_placement(distribute, devices, seed)
    else:
        placement, undo = _tensorflow_placement(distribute, devices), None
        # An input of unknown length (several local replicas) ends each epoch by running out; that is no problem.
        warnings.filterwarnings("ignore", message="Your input ran out of data", category=UserWarning)
    logger.info(
        "distribution: %s, %d replica(s) in %d process(es); this is process %d",
        distribute,
        placement.replicas,
        placement.num_processes,
        placement.process_id,
    )
    previous, _current, _last = _current, placement, placement
    try:
        yield placement
    finally:
        _current = previous
        if undo is not None:
            undo()


def activate_for_run(path: str | os.PathLike) -> contextlib.AbstractContextManager:
    """:func:`activate` with the distribution recorded in a run directory's ``config.json`` (``--resume``)."""
    from kerasrnn.training.run_config import RunConfig
    from kerasrnn.training.run_dir import RunDir

    config = RunConfig.from_dict(RunDir.open(path).read_record()["config"])
    return activate(config.distribute, config.devices, config.seed)


def model_scope(config: Any, data: Any) -> contextlib.AbstractContextManager:
    """Where a run's model is built and compiled; checks first that the run can be distributed.

    Raises:
        ConfigError: Under a distribution: ``--tbptt``, variable-length data,
            or a global batch that does not split over the replicas.
    """
    placement = current()
    if placement.distributed:
        if getattr(config, "tbptt", None):
            raise ConfigError(f"--tbptt cannot be combined with --distribute {placement.mode} yet")
        if data.variable_length:
            raise ConfigError(
                f"--distribute {placement.mode} trains on fixed-length data only; variable-length sequences "
                f"are batched by length, in batches of varying size"
            )
        check_batch(min(int(config.batch_size), len(data.x_train)), placement)
    return placement.scope()


def adapt_model(model: Any, build: Any) -> Any:
    """Under a distribution, ``model`` evaluates and predicts with an undistributed twin.

    The backends split every input batch over the replicas, and a last batch
    of ``n`` samples fails unless the replicas divide ``n`` (JAX: the mesh;
    Keras 3 under ``MirroredStrategy``: uneven per-replica shapes); padding
    it would change the mean loss.  So ``evaluate`` and ``predict`` (also
    the validation inside ``fit``) run on a twin built by ``build()`` outside
    the distribution, with the trained weights copied in first: the metrics
    are those of one device, and every process computes the same ones.
    Training steps stay distributed.  Returns ``model``.
    """
    placement = current()
    if not placement.distributed:
        return model
    import keras

    @contextlib.contextmanager
    def undistributed():
        previous = keras.distribution.distribution()  # JAX's global distribution (None on TensorFlow)
        keras.distribution.set_distribution(None)
        try:
            yield
        finally:
            keras.distribution.set_distribution(previous)

    with undistributed():
        twin = build()

    def on_twin(name):
        def call(*args, **kwargs):
            if "_use_cached_eval_dataset" in kwargs:  # fit's validation: its callbacks belong to `model`
                kwargs.pop("_use_cached_eval_dataset")
                kwargs.pop("callbacks", None)
                kwargs["verbose"] = 0
            twin.set_weights(model.get_weights())
            with undistributed():
                return getattr(twin, name)(*args, **kwargs)

        return call

    for name in ("evaluate", "predict", "test_on_batch", "predict_on_batch"):
        setattr(model, name, on_twin(name))
    global _distributed_model
    _distributed_model = model
    return model


_distributed_model: Any = None


def weights_digest() -> str | None:
    """SHA-256 (16 hex digits) of the weights of the last distributed model of this process, for comparing replicas."""
    if _distributed_model is None:
        return None
    import hashlib

    digest = hashlib.sha256()
    for array in _distributed_model.get_weights():
        digest.update(np.ascontiguousarray(array, dtype=np.float32).tobytes())
    return digest.hexdigest()[:16]


def data_parallel_plan() -> dict[str, Any]:
    """What ``--distribute data-parallel`` would use in this process (``kerasrnn env``)."""
    import keras

    backend = keras.backend.backend()
    if backend == "torch":
        return {"available": False, "why": TORCH_MESSAGE.format(mode="data-parallel")}
    devices = _local_device_names(backend)
    engine = (
        "keras.distribution.DataParallel (JAX DeviceMesh)" if backend == "jax" else "tf.distribute.MirroredStrategy"
    )
    return {"available": True, "engine": engine, "replicas": len(devices), "devices": devices}


# --------------------------------------------------------------------------- #
# JAX
# --------------------------------------------------------------------------- #


def _jax_placement(distribute: str, devices: int | None, seed: int) -> tuple[Placement, Any]:
    import jax
    import keras

    if distribute == "multi-worker":
        _initialize_jax(seed)
    local = list(jax.local_devices())
    if devices is not None:
        if devices > len(local):
            raise ConfigError(
                f"--devices {devices}: JAX sees {len(local)} local device(s) ({local[0].platform}); on a CPU, "
                f"start the process with XLA_FLAGS={XLA_CPU_DEVICES_FLAG}={devices} (the CLI does)"
            )
        local = local[:devices]
    if jax.process_count() > 1:
        # Every process takes the same number of its devices: the mesh spans them all.
        per_process = len(local)
        chosen = [d for d in jax.devices() if d.id in _local_ids_of_all(per_process)]
    else:
        chosen = local
    distribution = keras.distribution.DataParallel(devices=chosen)
    distribution.auto_shard_dataset = False  # each process feeds its own rows (WorkerShard)
    previous = keras.distribution.distribution()
    keras.distribution.set_distribution(distribution)
    placement = Placement(
        mode=distribute,
        process_id=jax.process_index(),
        num_processes=jax.process_count(),
        replicas=len(chosen),
        devices=tuple(str(d) for d in chosen),
    )
    return placement, lambda: keras.distribution.set_distribution(previous)


def _local_ids_of_all(per_process: int) -> set[int]:
    import jax

    ids: dict[int, list[int]] = {}
    for device in jax.devices():
        ids.setdefault(device.process_index, []).append(device.id)
    return {i for found in ids.values() for i in sorted(found)[:per_process]}


def _initialize_jax(seed: int) -> None:
    """``keras.distribution.initialize`` from the ``KERAS_DISTRIBUTION_*`` variables (once per process)."""
    global _jax_initialized
    if _jax_initialized:
        return
    import jax
    import keras

    addresses = os.environ.get(JOB_ADDRESSES_ENV)
    count, rank = os.environ.get(NUM_PROCESSES_ENV), os.environ.get(PROCESS_ID_ENV)
    if not addresses or count is None or rank is None:
        raise ConfigError(
            f"--distribute multi-worker on JAX needs {JOB_ADDRESSES_ENV} (coordinator host:port), "
            f"{NUM_PROCESSES_ENV} and {PROCESS_ID_ENV} (or --coordinator, --num-processes, --process-id); "
            f"'kerasrnn launch' sets them"
        )
    try:
        count_value, rank_value = int(count), int(rank)
    except ValueError:
        raise ConfigError(
            f"{NUM_PROCESSES_ENV} and {PROCESS_ID_ENV} must be integers; got {count!r} and {rank!r}"
        ) from None
    if not 0 <= rank_value < count_value:
        raise ConfigError(f"{PROCESS_ID_ENV} must be in [0, {count_value}); got {rank_value}")
    with contextlib.suppress(AttributeError, ValueError):  # CPU collectives across processes
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    # A seed set beforehand spares initialize() its cross-process seed agreement.
    keras.utils.set_random_seed(seed)
    keras.distribution.initialize(addresses, count_value, rank_value)
    _jax_initialized = True


# --------------------------------------------------------------------------- #
# TensorFlow
# --------------------------------------------------------------------------- #


def _tensorflow_placement(distribute: str, devices: int | None) -> Placement:
    import tensorflow as tf

    if distribute == "multi-worker":
        strategy, rank, workers = _multi_worker_strategy_of(devices)
        return Placement(
            mode=distribute,
            process_id=rank,
            num_processes=workers,
            replicas=int(strategy.num_replicas_in_sync),
            devices=tuple(strategy.extended.worker_devices),
            strategy=strategy,
        )
    names = _use_local_devices(devices)
    # One strategy per device set and process: strategies made anew reuse collective keys (shape mismatches).
    strategy = _mirrored_strategies.get(tuple(names))
    if strategy is None:
        strategy = _mirrored_strategies[tuple(names)] = tf.distribute.MirroredStrategy(devices=names)
    return Placement(mode=distribute, replicas=len(names), devices=tuple(names), strategy=strategy)


def _multi_worker_strategy_of(devices: int | None) -> tuple[Any, int, int]:
    """This process's ``MultiWorkerMirroredStrategy`` (made once, from ``TF_CONFIG``), its rank, the workers.

    Raises:
        ConfigError: ``TF_CONFIG`` missing or not a worker cluster, or
            TensorFlow already running (collectives are set up at start-up).
    """
    global _multi_worker_strategy
    import tensorflow as tf

    if not os.environ.get(TF_CONFIG_ENV):
        raise ConfigError(
            f"--distribute multi-worker on TensorFlow needs {TF_CONFIG_ENV} (the cluster and this task); "
            f"'kerasrnn launch' sets it"
        )
    try:
        cluster = json.loads(os.environ[TF_CONFIG_ENV])
        rank = int(cluster["task"]["index"])
        workers = len(cluster["cluster"]["worker"])
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"{TF_CONFIG_ENV} is not a worker cluster description ({error})") from None
    if _multi_worker_strategy is None:
        if devices and devices > 1 and not tf.config.list_physical_devices("GPU"):
            _split_cpu(devices)
        try:
            _multi_worker_strategy = tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as error:
            raise ConfigError(
                f"--distribute multi-worker on TensorFlow must be set up before TensorFlow runs anything in the "
                f"process ({error}); start a new process"
            ) from None
        keras_private.patch_tf_trainer_for_multi_worker()
    return _multi_worker_strategy, rank, workers


def _use_local_devices(devices: int | None) -> list[str]:
    """The local device names to replicate on: the GPUs, else ``devices`` logical CPUs."""
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):  # (listing logical devices would initialize TensorFlow)
        names = [device.name for device in tf.config.list_logical_devices("GPU")]
        if devices is not None and devices > len(names):
            raise ConfigError(f"--devices {devices}: TensorFlow sees {len(names)} GPU(s)")
        return names[: devices or len(names)]
    wanted = devices or 1
    if wanted > 1:
        _split_cpu(wanted)
    return [device.name for device in tf.config.list_logical_devices("CPU")[:wanted]]


def _split_cpu(wanted: int) -> None:
    """``wanted`` logical CPU devices (possible only before TensorFlow runs anything)."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    configured = tf.config.get_logical_device_configuration(cpu)
    if configured is not None and len(configured) >= wanted:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * wanted)
    except RuntimeError:
        have = len(tf.config.list_logical_devices("CPU"))
        raise ConfigError(
            f"--devices {wanted}: TensorFlow is already initialized with {have} CPU device(s) in this "
            f"process; split the CPU before TensorFlow runs anything (a new process does)"
        ) from None


# --------------------------------------------------------------------------- #
# Data
# --------------------------------------------------------------------------- #


def check_batch(batch_size: int, placement: Placement) -> None:
    """The global batch must split evenly over the replicas."""
    if placement.distributed and batch_size % placement.replicas:
        raise ConfigError(
            f"--batch-size {batch_size} (the global batch) must be a multiple of the {placement.replicas} "
            f"replicas of --distribute {placement.mode}"
        )


class WorkerShard:
    """This process's rows of every global batch of a training input (all of them on one process).

    Process ``w`` of ``W`` gets rows ``[w*B/W, (w+1)*B/W)`` of batch ``i`` of
    the one seeded order, so the ``W`` processes together see exactly the
    batches one device would.
    """

    def __init__(self, batches: Any, process_id: int, num_processes: int) -> None:
        self.batches, self.process_id, self.num_processes = batches, process_id, num_processes

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int):
        x, y = self.batches[index]
        rows = len(x) // self.num_processes
        part = slice(self.process_id * rows, (self.process_id + 1) * rows)
        return x[part], y[part]


def ShardedBatches(batches: Any, placement: Placement) -> Any:  # noqa: N802 -- a class, made on first use
    """A :class:`keras.utils.PyDataset` of this process's rows (:class:`WorkerShard`) of ``batches``."""
    global _sharded_batches
    if _sharded_batches is None:
        import keras

        class _ShardedBatches(keras.utils.PyDataset):
            def __init__(self, batches: Any, placement: Placement) -> None:
                super().__init__()
                self.shard = WorkerShard(batches, placement.process_id, placement.num_processes)
                self.batch_size = batches.batch_size // placement.num_processes

            def __len__(self) -> int:
                return len(self.shard)

            def __getitem__(self, index: int):
                return self.shard[index]

        _sharded_batches = _ShardedBatches
    return _sharded_batches(batches, placement)


_sharded_batches: Any = None


def fit_input(batches: Any) -> Any:
    """What ``model.fit`` gets: this worker's rows (:class:`WorkerShard`), on TensorFlow as a distributed dataset.

    TensorFlow's own splitting of an input among workers hands out whole
    batches (auto-sharding), not rows of each global batch; so each worker's
    rows are split into its replicas' pieces here
    (``distribute_datasets_from_function``), and every epoch calls the
    generator anew, after the trainer has set the epoch.
    """
    placement = current()
    if not placement.distributed:
        return batches
    check_batch(batches.batch_size, placement)
    batches = ShardedBatches(batches, placement)
    if placement.strategy is None:
        return batches  # JAX: Keras places each process's rows on its devices
    import tensorflow as tf

    strategy = placement.strategy
    local_replicas = strategy.num_replicas_in_sync // placement.num_processes
    x0, y0 = batches[0]
    steps = len(batches)
    signature = (
        tf.TensorSpec((None, *np.shape(x0)[1:]), tf.as_dtype(np.asarray(x0).dtype)),
        tf.TensorSpec((None, *np.shape(y0)[1:]), tf.as_dtype(np.asarray(y0).dtype)),
    )
    if placement.num_processes == 1:
        # One process: TensorFlow splits each global batch over the local replicas itself.  The length
        # must be known: running an input of unknown length dry costs Keras an optimizer step count
        # per epoch (Adam's bias correction then differs from one device's).
        def whole_batches():
            for index in range(steps):
                yield batches[index]

        dataset = tf.data.Dataset.from_generator(whole_batches, output_signature=signature)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(steps)).with_options(options)
        return strategy.experimental_distribute_dataset(dataset)
    piece = len(x0) // local_replicas

    def generate():
        for index in range(len(batches)):
            x, y = batches[index]
            for replica in range(local_replicas):
                yield x[replica * piece : (replica + 1) * piece], y[replica * piece : (replica + 1) * piece]

    def dataset_fn(context):
        dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
        if local_replicas == 1:  # (with several, TensorFlow would count each replica's piece as a step, and
            # the length stays unknown: each epoch then costs Adam one more step count than on one device)
            dataset = dataset.apply(tf.data.experimental.assert_cardinality(steps))
        return dataset

    return strategy.distribute_datasets_from_function(dataset_fn)


# --------------------------------------------------------------------------- #
# Learning rate and the run directory
# --------------------------------------------------------------------------- #


def scaled_lr(lr: float, scale_lr: str, placement: Placement) -> float:
    """``lr`` times the replicas for ``scale_lr="linear"`` under a distribution, else ``lr``."""
    if scale_lr == "linear" and placement.distributed:
        return float(lr) * placement.replicas
    return float(lr)


def record_placement(run: Any, placement: Placement) -> None:
    """A new run under a distribution: scale its learning rate if asked, and say how it trains in config.json.

    ``config.json`` keeps the learning rate used (scaled), so that a resumed
    run does not scale it again, and ``"distribution"`` records the
    placement and the semantics (global batch, learning rate).
    """
    if not placement.distributed:
        return
    config = run.config
    lr = scaled_lr(config.lr, config.scale_lr, placement)
    if lr != config.lr:
        logger.info("--scale-lr linear: learning rate %g x %d replicas = %g", config.lr, placement.replicas, lr)
        run.config = dataclasses.replace(config, lr=lr)
        run.record["config"] = run.config.to_dict()
    run.record["distribution"] = {
        **placement.describe(),
        "process_id": 0,
        "global_batch_size": config.batch_size,
        "per_replica_batch_size": config.batch_size // placement.replicas,
        "lr_scaling": config.scale_lr,
        "lr_before_scaling": config.lr,
    }
    if placement.is_chief:
        run.directory.write_record(run.record)


def worker_directory(out: str | os.PathLike | None, placement: Placement) -> str | os.PathLike | None:
    """Where this process writes the run: ``out`` on process 0; a temporary directory (removed at exit) elsewhere."""
    if placement.is_chief:
        return out
    return _temporary(f"kerasrnn-worker{placement.process_id}-") / "run"


def worker_copy(path: str | os.PathLike, placement: Placement) -> Path:
    """The run to resume in this process: ``path`` on process 0; a temporary copy of it elsewhere."""
    if placement.is_chief:
        return Path(path)
    from kerasrnn.storage.locks import LOCK_FILE

    copy = _temporary(f"kerasrnn-worker{placement.process_id}-") / "run"
    shutil.copytree(path, copy, ignore=shutil.ignore_patterns(LOCK_FILE))
    return copy


def _temporary(prefix: str) -> Path:
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, directory, True)
    return directory


def _local_device_names(backend: str) -> list[str]:
    if backend == "jax":
        import jax

        return [str(device) for device in jax.local_devices()]
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    return [device.name for device in (gpus or tf.config.list_logical_devices("CPU"))]


__all__ = [
    "Placement",
    "WorkerShard",
    "activate",
    "current",
    "data_parallel_plan",
    "fit_input",
    "prepare_environment",
    "record_placement",
    "scaled_lr",
    "ShardedBatches",
    "activate_for_run",
    "adapt_model",
    "model_scope",
    "worker_copy",
    "worker_directory",
    "last_placement",
    "weights_digest",
]
