"""Training on several devices or machines with TensorFlow's own engine, `tf.distribute`.

`TrainConfig.distribute` picks one strategy:

- ``none``: the single device TensorFlow picks (the default strategy).
- ``mirrored``: `tf.distribute.MirroredStrategy` over the GPUs of this machine (`replicas` of them, 0 = all),
  or over `replicas` logical CPU devices on a machine without a GPU.
- ``multi-worker``: `tf.distribute.MultiWorkerMirroredStrategy` over the machines that `TF_CONFIG` names; every
  worker runs the same command, and only the chief writes the run folder (the others train into a scratch
  folder that is removed at the end).

`cfg.batch_size` stays the global batch: each step splits it over the replicas, so the learning rate and every
callback see the same steps as on one device. Devices must be laid out before TensorFlow initialises:
`configure(cfg)` does it, called by `fer.tfenv.import_tensorflow(setup=...)` in the job runner and the CLI;
`start(cfg)` then gives the `Distribution` the trainer uses.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fer.config import STRATEGIES, TrainConfig

log = logging.getLogger(__name__)

RESUME_FILES = ("state.json", "last.keras", "history.csv", "average.npz")
"""What a worker that is not the chief copies from the run folder to resume at the chief's point."""


class DistributeError(RuntimeError):
    """The strategy the config asks for cannot run here; the message says why."""


@dataclass(frozen=True)
class ClusterTask:
    """This process's place in `TF_CONFIG`: its task and the number of workers (the chief counted)."""

    task_type: str
    task_id: int
    workers: int
    chief: bool


def read_tf_config(environ: dict[str, str] | None = None) -> ClusterTask:
    """This process's task from the `TF_CONFIG` environment variable; DistributeError when it is missing or
    malformed. The chief is the `chief` task, else worker 0."""
    raw = (os.environ if environ is None else environ).get("TF_CONFIG", "")
    if not raw.strip():
        raise DistributeError("multi-worker training needs TF_CONFIG (the cluster's workers and this task) "
                              "in the environment of every worker; see docs/scaling.md")
    try:
        spec = json.loads(raw)
        cluster, task = spec["cluster"], spec["task"]
        task_type, task_id = str(task["type"]), int(task["index"])
        workers = sum(len(cluster.get(kind, [])) for kind in ("chief", "worker"))
    except (ValueError, KeyError, TypeError) as exc:
        raise DistributeError(f"TF_CONFIG is not valid: {exc.__class__.__name__}: {exc}") from None
    if task_type not in ("chief", "worker") or task_id >= len(cluster.get(task_type, [])) or task_id < 0:
        raise DistributeError(f"TF_CONFIG names task {task_type} {task_id}, which its cluster does not have")
    chief = task_type == "chief" or (task_type == "worker" and task_id == 0 and not cluster.get("chief"))
    return ClusterTask(task_type, task_id, workers, chief)


_SUMS: dict[tuple[int, bool], Any] = {}
"""The compiled cross-worker sums of each strategy (fer.train.distribute.Distribution.any, .chief_value)."""

_STRATEGY: dict[str, Any] = {}
"""The multi-worker strategy of this process: made once, before TensorFlow initialises (its collectives are
configured then)."""


def configure(cfg: TrainConfig) -> None:
    """Lay out the devices `cfg` asks for; must run before TensorFlow initialises (no-op for 'none' and when
    already done). DistributeError when it is too late or the machine lacks the devices."""
    if cfg.distribute not in STRATEGIES:
        raise DistributeError(f"unknown strategy {cfg.distribute!r}")
    if cfg.distribute == "none":
        return
    import tensorflow as tf

    if cfg.distribute == "mirrored":
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            if cfg.replicas > len(gpus):
                raise DistributeError(f"{cfg.replicas} replicas asked for, but this machine has {len(gpus)} GPUs")
            return
        if cfg.replicas > 1:
            _logical_cpus(tf, cfg.replicas)
        return
    if "multi-worker" not in _STRATEGY:
        task = read_tf_config()
        try:
            _STRATEGY["multi-worker"] = _multi_worker_strategy()
        except (RuntimeError, ValueError) as exc:
            raise DistributeError("multi-worker training must be set up before TensorFlow starts (a fresh "
                                  f"process: python -m fer train or a job): {exc}") from None
        log.info("multi-worker: %s %d of %d workers", task.task_type, task.task_id, task.workers)


def _logical_cpus(tf: Any, n: int) -> None:
    """Split the CPU into `n` logical devices (or check that it already is)."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    except RuntimeError:  # TensorFlow has started: fine if the devices are already there
        have = len(tf.config.list_logical_devices("CPU"))
        if have < n:
            raise DistributeError(f"mirrored training over {n} CPU devices must be set up before TensorFlow starts "
                                  f"(this process has {have}); run it as a job or with python -m fer train") from None


def setup_hook(cfg: TrainConfig) -> Callable[[Any], None]:
    """For `fer.tfenv.import_tensorflow(setup=...)`: configure `cfg`'s devices, leaving any error for
    `start`, which reports it where the trainer can say so."""

    def hook(tf: Any) -> None:
        try:
            configure(cfg)
        except DistributeError as exc:
            log.warning("%s", exc)

    return hook


def _multi_worker_strategy() -> Any:
    """`tf.distribute.MultiWorkerMirroredStrategy` with `reduce` taking nested values and scalars.

    Keras 3's TensorFlow trainer calls `strategy.reduce` on a whole (x, y) batch of uint8 images before `fit`
    (it wants its shapes) and with `axis=0` on scalar metrics; MultiWorkerMirroredStrategy takes neither a
    structure, nor uint8 (its collectives reduce floats and int32/64), nor an axis on a scalar
    (keras-team/keras#20585), so fit fails before its first step. This reduces each tensor of the structure,
    other types through float32, and scalars over the replicas only.
    """
    import tensorflow as tf

    reducible = (tf.bfloat16, tf.float16, tf.float32, tf.float64, tf.int32, tf.int64)

    class MultiWorker(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op: Any, value: Any, axis: Any = None) -> Any:
            def one(v: Any) -> Any:
                local = v.values[0] if isinstance(v, tf.distribute.DistributedValues) else v
                on = None if local.shape.rank == 0 else axis
                if local.dtype in reducible:
                    return super(MultiWorker, self).reduce(reduce_op, v, on)
                as_float = tf.function(lambda x: self.run(lambda y: tf.cast(y, tf.float32), args=(x,)))(v)
                return tf.cast(super(MultiWorker, self).reduce(reduce_op, as_float, on), local.dtype)

            return tf.nest.map_structure(one, value)

    return MultiWorker()


@dataclass(frozen=True)
class Distribution:
    """The strategy a run trains under and this process's part in it."""

    kind: str
    strategy: Any
    """The tf.distribute.Strategy (TensorFlow's default strategy for 'none')."""
    replicas: int
    workers: int
    chief: bool
    devices: tuple[str, ...] = ()

    def scope(self) -> contextlib.AbstractContextManager[Any]:
        """Where the model (its variables, optimizer) must be built or loaded."""
        return contextlib.nullcontext() if self.kind == "none" else self.strategy.scope()

    def describe(self) -> str:
        """For the model card: '' on one device, else e.g. 'mirrored x2' or 'multi-worker x2 (2 workers)'."""
        if self.kind == "none":
            return ""
        return f"{self.kind} x{self.replicas}" + (f" ({self.workers} workers)" if self.workers > 1 else "")

    def dataset(self, data: Any) -> Any:
        """`data` (global batches) as this process feeds it to `fit`/`evaluate`.

        One machine: unchanged (Keras splits each batch over the replicas). Several: each worker takes its
        share of every global batch, so all workers run the same number of steps over every image once."""
        if self.workers <= 1:
            return data
        import tensorflow as tf

        def for_worker(ctx: Any) -> Any:
            total = ctx.num_replicas_in_sync
            local = total // ctx.num_input_pipelines
            first = ctx.input_pipeline_id * local

            def pieces(*tensors: Any) -> Any:
                n = tf.cast(tf.shape(tensors[0])[0], tf.int64)

                def piece(j: Any) -> tuple[Any, ...]:
                    lo, hi = n * j // total, n * (j + 1) // total
                    return tuple(t[lo:hi] for t in tensors)

                return tf.data.Dataset.range(first, first + local).map(piece)

            shares = data.flat_map(pieces)
            known = int(data.cardinality())
            return shares.apply(tf.data.experimental.assert_cardinality(known * local)) if known >= 0 else shares

        return self.strategy.distribute_datasets_from_function(for_worker)

    def any(self, flag: bool) -> bool:
        """True when `flag` is true on any worker (every worker must call it at the same point)."""
        if self.workers <= 1:
            return flag
        return self._sum(float(flag), chief_only=False) > 0

    def chief_value(self, value: float) -> float:
        """The chief's `value` on every worker (every worker must call it at the same point)."""
        if self.workers <= 1:
            return value
        return self._sum(value, chief_only=True)

    def _sum(self, value: float, chief_only: bool) -> float:
        import tensorflow as tf

        key = (id(self.strategy), chief_only)
        if key not in _SUMS:
            strategy = self.strategy

            @tf.function
            def summed(x: Any) -> Any:
                values = strategy.experimental_distribute_values_from_function(
                    lambda ctx: x if not chief_only or ctx.replica_id_in_sync_group == 0 else tf.zeros_like(x))
                return strategy.reduce(tf.distribute.ReduceOp.SUM, values, axis=None)

            _SUMS[key] = summed
        return float(_SUMS[key](tf.constant(value, tf.float64)))

    def barrier(self) -> None:
        """Wait until every worker is here (so none leaves the cluster while another still needs it)."""
        self.any(False)

    def check_resume_point(self, epoch: int, batch: int) -> None:
        """DistributeError on every worker unless all resume at the chief's point (epoch, batch)."""
        if self.workers <= 1:
            return
        chiefs = (self.chief_value(epoch), self.chief_value(batch))  # both on every worker: collectives pair up
        if self.any(chiefs != (epoch, batch)):
            raise DistributeError("the workers do not resume from the same point: give every worker the same run "
                                  "folder (--out), on storage they all see (docs/scaling.md)")

    def stop_flag(self, should_stop: Callable[[], bool] | None) -> Callable[[], bool] | None:
        """A stop flag all workers agree on (a stop asked of any worker stops them all at the same batch)."""
        if self.workers <= 1:
            return should_stop
        return lambda: self.any(bool(should_stop and should_stop()))

    @contextlib.contextmanager
    def folder(self, run_dir: Path) -> Iterator[Path]:
        """Where this process writes the run: `run_dir` on the chief; on another worker a scratch folder,
        seeded with the run folder's resume point when it can see it, removed at the end."""
        if self.chief:
            yield run_dir
            return
        scratch = Path(tempfile.mkdtemp(prefix="fer-worker-"))
        try:
            for name in RESUME_FILES:
                if (run_dir / name).is_file():
                    shutil.copy2(run_dir / name, scratch / name)
            yield scratch
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def start(cfg: TrainConfig) -> Distribution:
    """The distribution `cfg` asks for, its devices configured (see `configure`)."""
    configure(cfg)
    if cfg.distribute == "none":
        import tensorflow as tf

        return Distribution("none", tf.distribute.get_strategy(), 1, 1, True)
    import tensorflow as tf

    if cfg.distribute == "mirrored":
        gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
        if gpus:
            devices = gpus[:cfg.replicas or None]
        else:
            devices = [d.name for d in tf.config.list_logical_devices("CPU")][:max(cfg.replicas, 1)]
        strategy = tf.distribute.MirroredStrategy(devices)
        log.info("mirrored over %s", ", ".join(devices))
        _check_batch(cfg, strategy.num_replicas_in_sync)
        return Distribution("mirrored", strategy, strategy.num_replicas_in_sync, 1, True, tuple(devices))
    task = read_tf_config()
    strategy = _STRATEGY["multi-worker"]
    _check_batch(cfg, strategy.num_replicas_in_sync)
    return Distribution("multi-worker", strategy, strategy.num_replicas_in_sync, task.workers, task.chief)


def _check_batch(cfg: TrainConfig, replicas: int) -> None:
    if cfg.batch_size < replicas:
        raise DistributeError(f"a batch of {cfg.batch_size} images cannot be split over {replicas} replicas")
