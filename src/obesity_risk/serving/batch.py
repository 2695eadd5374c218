"""Scoring large files on a Dask cluster, through the same :class:`Predictor` as the API.

``obesity-risk predict --engine dask -i INPUT -o OUTPUT [--scheduler tcp://HOST:8786]``:

- INPUT is a CSV or Parquet file, a glob of them, or an ``s3://`` URL (or glob) read with
  s3fs through the datastore's endpoint, credentials from each process's environment;
- OUTPUT is a folder of Parquet parts, one per input partition, in input order (rows keep
  their order within a part, the id column is kept);
- every worker loads and verifies the champion once (a worker plugin), then scores its
  partitions with the fast path;
- a row that fails the schema is never dropped silently: it goes to ``OUTPUT/rejects.csv`` with
  its file, data row number, and every failing column and reason; the CLI's exit code says
  whether any row was rejected;
- without ``--scheduler`` a ``distributed.LocalCluster`` sized by ``batch:`` in YAML is started
  and stopped around the job.

Partitions are pure functions of their input block, so a worker lost mid-job only costs the
recomputation of its partitions: each input row still appears exactly once in the output.
"""

from __future__ import annotations

import contextlib
import glob
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from distributed import WorkerPlugin, get_worker
from pydantic import BaseModel

from obesity_risk.config import Settings
from obesity_risk.data import csv_engine, refuse_duplicate_columns
from obesity_risk.errors import ClusterError, DataValidationError
from obesity_risk.files import atomic_write
from obesity_risk.registry.card import IntegrityError

PLUGIN = "obesity-risk-predictor"
FILE = "_file"


class BatchResult(BaseModel):
    """What a batch job did."""

    scored: int
    rejected: int
    partitions: int
    output: str
    rejects: str | None = None
    model_version: str | None = None


class PredictorPlugin(WorkerPlugin):
    """Loads and verifies the champion once per worker, from the worker's own configuration
    (its environment: no settings or secrets travel with the job), and checks it is the very
    model the job pinned (same pickle hash) before any task scores with it."""

    name = PLUGIN

    def __init__(self, version: str | None, artifacts: dict[str, str]) -> None:
        self.version = version
        self.artifacts = artifacts
        self.settings: Settings | None = None
        self.predictor: Any = None

    def setup(self, worker: Any) -> None:
        """Load, verify and pin the champion in this worker process."""
        del worker
        from obesity_risk.config import load_settings
        from obesity_risk.registry.client import load_champion
        from obesity_risk.serving.predictor import Predictor

        settings = load_settings()
        model = load_champion(settings)
        if model.card.artifacts != self.artifacts:
            raise IntegrityError(
                f"this worker's champion is v{model.version}, the job pinned v{self.version}"
                " (a promotion between the job's start and this worker's start)"
            )
        self.settings = settings
        # one model thread per worker thread: the workers already use every core
        self.predictor = Predictor(model, settings.data, settings.batch.threads_per_worker)


class PartResult(BaseModel):
    """What one partition's task did (small: the scored rows are already on disk)."""

    model_config = {"arbitrary_types_allowed": True}

    number: int
    file: str
    rows: int
    rejects: pd.DataFrame  # file, part, position, problems (+ id)


def score_part(frame: pd.DataFrame, number: int, output: str) -> PartResult:
    """Score one partition on a worker and write its scored rows as ``part-<number>.parquet``
    (atomically: a recomputed partition replaces the file, it never adds a second copy)."""
    plugin = get_worker().plugins[PLUGIN]
    predictor, settings = plugin.predictor, plugin.settings
    frame = frame.reset_index(drop=True)
    file = str(frame[FILE].iloc[0]) if len(frame) and FILE in frame.columns else ""
    features = [c for c in settings.data.columns if c in frame.columns]
    valid, problems = predictor.validate_rows(frame[features])
    out = predictor.predict_frame(valid).frame(index=valid.index)
    good = valid.index
    id_column = settings.data.id_column
    if id_column and id_column in frame.columns:
        out.insert(0, id_column, frame.loc[good, id_column])
    out["model_version"] = predictor.version
    Path(output).mkdir(parents=True, exist_ok=True)
    target = Path(output) / f"part-{number:05d}.parquet"
    atomic_write(target, lambda tmp: out.to_parquet(tmp, index=False))
    bad = sorted(problems)
    rejects = pd.DataFrame(
        {"file": file, "part": number, "position": bad, "problems": [problems[i] for i in bad]}
    )
    if id_column and id_column in frame.columns:
        rejects[id_column] = frame.loc[bad, id_column].to_numpy()
    return PartResult(number=number, file=file, rows=len(frame), rejects=rejects)


def storage_options(source: str, settings: Settings) -> dict[str, Any]:
    """fsspec options of a URL input: an ``s3://`` one uses the datastore's endpoint;
    credentials come from each process's own environment (never from the job)."""
    if source.startswith("s3://") and settings.datastore.endpoint_url:
        return {"client_kwargs": {"endpoint_url": settings.datastore.endpoint_url}}
    return {}


def input_files(source: str, settings: Settings) -> list[str]:
    """The files a path, glob or URL (``s3://bucket/prefix/*.csv``) names, sorted.

    Raises:
        DataValidationError: nothing matches, or the store cannot be listed (one line).
    """
    if "://" not in source:
        files = sorted(glob.glob(source))
    else:
        import fsspec

        try:
            fs, _, paths = fsspec.get_fs_token_paths(
                source, storage_options=storage_options(source, settings)
            )
            files = sorted(fs.unstrip_protocol(p) for p in paths if fs.isfile(p))
        except (OSError, ValueError, ImportError) as exc:
            raise DataValidationError(f"{source}: cannot be listed: {exc}") from None
    if not files:
        raise DataValidationError(f"{source}: no such file")
    return files


def _read(source: str, settings: Settings) -> Any:
    """The input as a dask DataFrame with each row's file: CSV (every column read as text,
    so a bad value anywhere becomes a reject, not a dtype error) or Parquet, local files, a
    glob or an ``s3://`` URL. Files are read one by one, so a partition never spans two files;
    a CSV header naming a column twice is refused."""
    import dask.dataframe as dd

    options = storage_options(source, settings)
    text = {c: "object" for c in [*settings.data.columns, settings.data.id_column] if c}
    parts = []
    for path in input_files(source, settings):
        if path.endswith((".parquet", ".pq")):
            part = dd.read_parquet(path, split_row_groups=True, storage_options=options)
        else:
            engine = csv_engine(path, options)
            refuse_duplicate_columns(path, options, engine=engine)
            part = dd.read_csv(
                path,
                blocksize=settings.batch.blocksize,
                dtype=text,
                keep_default_na=True,
                na_values=[""],
                skipinitialspace=True,
                engine=engine,
                storage_options=options,
            )
        parts.append(part.assign(**{FILE: path}))
    return parts[0] if len(parts) == 1 else dd.concat(parts)


@contextlib.contextmanager
def _client(settings: Settings, scheduler: str | None) -> Iterator[Any]:
    """A client of the given scheduler, or of a LocalCluster started for this job."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=settings.batch.connect_timeout_s)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # OSError, TimeoutError, a TLS handshake refused (distributed raises TypeError)...
            first = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
            raise ClusterError(
                f"cannot connect to the Dask scheduler {scheduler}: {first}"
            ) from None
        with client:
            yield client
        return
    cfg = settings.batch
    with (
        LocalCluster(
            n_workers=cfg.workers,
            threads_per_worker=cfg.threads_per_worker,
            memory_limit=cfg.memory_limit,
            dashboard_address=None,
            processes=True,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def score_dask(
    settings: Settings,
    source: str,
    output: Path,
    scheduler: str | None = None,
    progress: bool = True,
) -> BatchResult:
    """Score ``source`` into ``output`` (Parquet parts) and ``output/rejects.csv`` on Dask.

    ``output`` must be storage every worker can write (a local folder for a LocalCluster or
    workers on this machine, a shared volume otherwise)."""
    from dask import delayed

    from obesity_risk.registry.client import load_champion

    champion = load_champion(settings)  # pinned: every worker must load this very model
    ddf = _read(source, settings)
    missing = sorted(set(settings.data.columns) - set(ddf.columns))
    if missing:
        raise DataValidationError(f"{source}: missing column(s): {', '.join(missing)}")
    output = output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    for stale in [*output.glob("part-*.parquet"), output / "rejects.csv"]:
        stale.unlink(missing_ok=True)  # a previous job's files are not this job's
    with _client(settings, scheduler) as client:
        client.register_plugin(
            PredictorPlugin(champion.version, dict(champion.card.artifacts)), name=PLUGIN
        )
        tasks = [
            delayed(score_part)(part, number, str(output))
            for number, part in enumerate(ddf.to_delayed())
        ]
        futures = client.compute(tasks)
        if progress:
            from distributed import progress as show

            show(futures)
        results: list[PartResult] = client.gather(futures)
    return _summarize(results, output, settings, champion.version)


def _summarize(
    results: list[PartResult], output: Path, settings: Settings, version: str | None
) -> BatchResult:
    """Row counts, and the rejects with their 1-based data row within their file."""
    offsets: dict[int, int] = {}
    running: dict[str, int] = {}
    for result in sorted(results, key=lambda r: r.number):
        offsets[result.number] = running.get(result.file, 0)
        running[result.file] = running.get(result.file, 0) + result.rows
    frames = [r.rejects.assign(row=r.rejects["position"] + offsets[r.number] + 1) for r in results]
    rejects = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    rejects_path = None
    if len(rejects):
        columns = ["file", "row"]
        if settings.data.id_column and settings.data.id_column in rejects.columns:
            columns.append(settings.data.id_column)
        rejects_path = output / "rejects.csv"
        ordered = rejects.sort_values(["part", "position"])[[*columns, "problems"]]
        atomic_write(rejects_path, lambda tmp: ordered.to_csv(tmp, index=False))
    total = sum(r.rows for r in results)
    return BatchResult(
        scored=total - len(rejects),
        rejected=len(rejects),
        partitions=len(results),
        output=str(output),
        rejects=None if rejects_path is None else str(rejects_path),
        model_version=version,
    )
