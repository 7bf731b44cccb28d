"""``triage classify INPUT --ray [ADDRESS]``: classify a large file on a Ray cluster with Ray Data.

Optional: ``pip install "ticket-triage[cluster]"`` brings Ray; nothing else imports this module.

The driver (this process) reads INPUT in chunks exactly as ``triage classify`` does (same reader,
same column choice), tags each row with its position and hands the chunks to Ray Data;
``map_batches`` runs one :class:`TicketClassifier` per actor (ONNX Runtime on the actor's CPUs, or
its GPU with ``--ray-gpus``), each batch going through :func:`triage_app.cli.classify.classify_frame`,
the row-building step of ``triage classify`` itself.  The bundle's files travel through Ray's
object store, so workers on other machines need no copy of the model.  The results come back in
input order and the driver writes them with the same :class:`triage_app.io.TableWriter` (same
columns, same escaping against formulas, written to a temporary file and renamed at the end); it
checks that every row came back exactly once.  Each worker needs the ``ticket-triage`` package
(the same version) installed, as for any Ray job.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from triage_app.errors import UserError

ROW = "__triage_row__"   # the input position of a row while it travels through the cluster
BLOCK_ROWS = 1000        # rows per Ray block: the unit handed to an actor


def bundle_files(folder: str | Path) -> dict[str, bytes]:
    """The files of a bundle folder (flat), to ship to the actors."""
    return {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.is_file()}


class Engine:
    """One per Ray actor: writes the shipped bundle to a temporary folder, loads it once and
    classifies pandas batches."""

    def __init__(self, files: dict, mapping: dict, device: str = "cpu", threads: int | None = None,
                 threshold: float | None = None, batch_size: int | None = None):
        from triage_app.engine import TicketClassifier

        self._dir = tempfile.TemporaryDirectory(prefix="triage-bundle-")
        for name, data in files.items():
            (Path(self._dir.name) / name).write_bytes(data)
        self.clf = TicketClassifier.load(self._dir.name, device=device, threads=threads)
        self.mapping, self.threshold, self.batch_size = mapping, threshold, batch_size

    def __call__(self, batch):
        from triage_app.cli.classify import classify_frame

        return classify_frame(self.clf, batch, self.mapping, self.threshold, self.batch_size)


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise UserError("--ray needs Ray: pip install 'ticket-triage[cluster]'") from None
    return ray


def classify_on_ray(src: Path, out: Path, model_dir: Path, mapping_of, *, address: str = "local",
                    actors: int | None = None, gpus_per_actor: float = 0, threads: int | None = None,
                    threshold: float | None = None, batch_size: int | None = None,
                    chunk_size: int = 10_000, sheet: str | None = None, block_rows: int = BLOCK_ROWS) -> int:
    """Classify ``src`` into ``out`` on Ray; returns the number of rows.  ``mapping_of(chunk)``
    chooses the columns from the first chunk (as ``triage classify`` does)."""
    from triage_app.io import TableWriter, iter_table_chunks

    ray = _ray()
    ray.init(address=None if address == "local" else address, include_dashboard=False,
             log_to_driver=False, ignore_reinit_error=True, configure_logging=False)
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True
        ctx.enable_progress_bars = False
        refs, mapping, n = [], None, 0
        for chunk in iter_table_chunks(src, chunksize=chunk_size, sheet=sheet):
            if mapping is None:
                mapping = mapping_of(chunk)
            chunk = chunk.copy()
            chunk[ROW] = range(n, n + len(chunk))
            n += len(chunk)
            refs.extend(ray.put(chunk.iloc[i: i + block_rows]) for i in range(0, len(chunk), block_rows))
        if mapping is None:
            raise UserError(f"{src}: no rows to classify")
        if actors is None:
            res = ray.cluster_resources()
            actors = max(1, int(res.get("GPU", 0) // gpus_per_actor) if gpus_per_actor else int(res.get("CPU", 1)))
        ds = ray.data.from_pandas_refs(refs).map_batches(
            Engine, batch_format="pandas", batch_size=None, concurrency=actors,
            num_gpus=gpus_per_actor or None, num_cpus=None if gpus_per_actor else (threads or 1),
            fn_constructor_kwargs={"files": bundle_files(model_dir), "mapping": mapping,
                                   "device": "cuda" if gpus_per_actor else "cpu", "threads": threads,
                                   "threshold": threshold, "batch_size": batch_size})
        expect = 0
        with TableWriter(out) as writer:
            for batch in ds.iter_batches(batch_format="pandas", batch_size=None):
                rows = batch[ROW].to_numpy()
                if len(rows) and (rows[0] != expect or (rows != range(expect, expect + len(rows))).any()):
                    raise RuntimeError(f"Ray returned rows out of order or twice (row {rows[0]} where {expect} "
                                       "was expected); nothing was written")
                writer.write(batch.drop(columns=[ROW]).reset_index(drop=True))
                expect += len(rows)
            if expect != n:
                raise RuntimeError(f"Ray returned {expect:,} of {n:,} rows; nothing was written")
            writer.commit()
        return n
    finally:
        ray.shutdown()


def cmd_classify_on_ray(args, clf, src: Path, out: Path) -> int:
    """The ``--ray`` branch of ``triage classify`` (``clf``: the bundle loaded on the driver, for
    the column choice)."""
    from triage_app.cli.common import column_mapping, resolve_model

    if args.ray_actors is not None and args.ray_actors < 1:
        raise UserError(f"--ray-actors must be at least 1 (got {args.ray_actors})")
    t0 = time.perf_counter()
    n = classify_on_ray(src, out, resolve_model(args.model),
                        lambda chunk: column_mapping(args, list(chunk.columns), src, chunk, clf.bundle.meta),
                        address=args.ray, actors=args.ray_actors, gpus_per_actor=args.ray_gpus,
                        threads=args.threads, threshold=args.threshold, batch_size=args.batch_size,
                        chunk_size=args.chunk_size, sheet=args.sheet)
    dt = time.perf_counter() - t0
    if not args.quiet:
        print(f"{n:,} tickets classified on Ray ({args.ray}) in {dt:.1f}s ({n / max(dt, 1e-9):,.0f}/s) -> {out}",
              file=sys.stderr)
    return 0
