"""Data-parallel training across processes (``torchrun``), and the single-process default.

``triage train`` started by ``torchrun --nproc_per_node N [--nnodes M ...]`` finds ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous in its environment; :func:`init` then joins the
process group (gloo on CPUs, NCCL for CUDA tensors with gloo beside it for the CPU-side caches).
Without those variables nothing here touches ``torch.distributed`` and every helper is a
pass-through, so a single process runs exactly as before.

What :mod:`trainer.loop` does with it (see docs/SCALING.md):

* every rank draws the same length-bucketed *global* batches (same seed); a
  :class:`DistributedBucketSampler` gives each rank its share of each batch (``batch[rank::N]``),
  so the global batch is ``batch_size`` whatever N is;
* the loss of a share is its sum divided by the *global* batch's denominator (times N), and the
  gradients are averaged across ranks in one flat all-reduce per step (with the step's loss in the
  same buffer), so a step is the single-process step on the same global batch, up to float
  summation order;
* frozen-tower features, the frozen-layer cache and every validation/test pass are computed in
  shards (each rank 1/N of the length-sorted batches) and exchanged, so all ranks hold the same
  numbers and agree on metrics and early stopping without a vote;
* only rank 0 writes checkpoints (the state is the same on every rank and holds nothing
  per-rank, so ``--resume`` works with another number of processes), fits the lexical model,
  compares and exports; the others wait for its outcome.

A peer that dies makes the next collective fail; that failure is raised as :class:`PeerLost`,
one line naming what happened and the checkpoint to resume from.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np

from triage_app.errors import TriageError

ENV_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
# A rank waits this long for the others at a collective (rank 0 alone fits the lexical model and
# exports the bundle, which may take a while on big data); a dead peer is noticed far sooner.
DEFAULT_TIMEOUT_S = 2 * 3600
# Test hook: "RANK:STEP" makes that rank exit abruptly (code 17) before that optimizer step's
# gradient exchange, the way a killed process or a lost machine would.
FAULT_ENV = "TRIAGE_DIST_FAULT"


class PeerLost(TriageError, RuntimeError):
    """Another process of the training job stopped (or its machine went away)."""


def launched() -> bool:
    """True when this process was started by torchrun (or any launcher setting the same variables)
    with more than one process."""
    return all(v in os.environ for v in ENV_VARS) and int(os.environ.get("WORLD_SIZE", "1")) > 1


@dataclass(frozen=True)
class Part:
    """This rank's share of one global batch: the global batch's loss denominator and whether the
    share is empty (a final batch smaller than the world: one row stands in, with weight 0);
    ``y``: the labels of the whole global batch (several targets count their own denominators)."""
    denom: float
    empty: bool
    y: np.ndarray | None = None


class DistributedBucketSampler:
    """Each rank's share (``batch[rank::world]``) of the global batches that every rank draws the
    same way (:func:`trainer.batching.bucketed_batches` with the same seed).  Iterating yields
    ``(local indices, Part)``; every rank yields as many items, so the collectives stay in step."""

    def __init__(self, batches, rank: int, world: int, labels, class_weight=None):
        self.batches, self.rank, self.world = batches, rank, world
        self.labels, self.class_weight = labels, class_weight

    def __len__(self) -> int:
        return len(self.batches)

    def part(self, batch):
        import torch

        local = batch[self.rank::self.world]
        y = self.labels[batch]
        y = y.cpu().numpy() if torch.is_tensor(y) else np.asarray(y)
        if y.ndim == 2:        # several targets: TargetLoss.sharded counts each target's labeled rows
            denom = float(len(y))
        else:
            denom = float(len(y)) if self.class_weight is None else \
                float(self.class_weight.detach().cpu().numpy()[y].sum())
        if len(local) == 0:
            return batch[:1], Part(denom, True, y)
        return local, Part(denom, False, y)

    def __iter__(self):
        for b in self.batches:
            yield self.part(b)


class Ranks:
    """The process group as the loop sees it.  ``Ranks()`` (one process) passes everything
    through; :func:`init` returns the real one."""

    def __init__(self, rank: int = 0, world: int = 1, local_rank: int = 0, local_world: int = 1):
        self.rank, self.world, self.local_rank, self.local_world = rank, world, local_rank, local_world
        self.steps = 0
        self.checkpoint_dir = None  # set by the loop: named in the message when a peer is lost

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_local_main(self) -> bool:
        return self.local_rank == 0

    def describe(self) -> str:
        return f"rank {self.rank} of {self.world}"

    # ---- collectives (all ranks must call them in the same order) ----------------------------
    def _run(self, fn, *args, **kw):
        try:
            return fn(*args, **kw)
        except RuntimeError as e:  # gloo/NCCL: a peer closed its connection or timed out
            detail = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            ck = self.checkpoint_dir
            if ck is not None and (Path(ck) / "last").is_dir():
                hint = f"; the last checkpoint is intact: continue with --resume {ck} (any number of processes)"
            elif ck is not None:
                hint = f"; no epoch had finished, so {ck} holds no checkpoint yet"
            else:
                hint = "; no checkpoint was kept (give --checkpoint-dir to be able to resume)"
            raise PeerLost(f"training stopped on {self.describe()}: another process of the job ended or "
                           f"could not be reached ({detail}); no bundle was written{hint}") from e

    def barrier(self) -> None:
        if self.active:
            import torch.distributed as dist

            self._run(dist.barrier)

    def broadcast(self, obj, src: int = 0):
        """``obj`` of rank ``src`` on every rank (picklable plain data only)."""
        if not self.active:
            return obj
        import torch.distributed as dist

        box = [obj if self.rank == src else None]
        self._run(dist.broadcast_object_list, box, src=src)
        return box[0]

    def broadcast_params(self, model) -> None:
        """Every rank starts from rank 0's weights (as DDP does at construction)."""
        if not self.active:
            return
        import torch
        import torch.distributed as dist

        with torch.no_grad():
            for t in list(model.parameters()) + list(model.buffers()):
                self._run(dist.broadcast, t.data, src=0)

    def shard(self, batches: list) -> list:
        """This rank's batches of a list every rank builds the same way (evaluation, caches)."""
        return batches[self.rank::self.world] if self.active else batches

    def gather_rows(self, t):
        """Rows computed in shards (each rank filled its own rows, the others are zero) made whole
        on every rank: a sum all-reduce, bit-exact because each element has one non-zero
        contributor (16-bit tensors travel as their bytes: gloo cannot add them)."""
        if not self.active:
            return t
        import torch
        import torch.distributed as dist

        is_np = isinstance(t, np.ndarray)
        x = torch.from_numpy(t) if is_np else t
        wire = x.view(torch.uint8) if x.dtype in (torch.bfloat16, torch.float16) else x
        self._run(dist.all_reduce, wire)  # a CPU tensor goes through gloo, a CUDA one through NCCL
        return x.numpy() if is_np else x

    def sampler(self, batches, labels, class_weight=None):
        """The training batches as ``(indices, Part-or-None)`` pairs (None: one process)."""
        if not self.active:
            return [(b, None) for b in batches]
        return DistributedBucketSampler(batches, self.rank, self.world, labels, class_weight)

    def loss(self, loss_fn, logits, y, part):
        """The batch loss: ``loss_fn`` itself on one process; on N, this share's summed loss over
        the global batch's denominator, times N (the gradient average then gives the global mean)."""
        if part is None:
            return loss_fn(logits, y)
        if hasattr(loss_fn, "sharded"):            # several targets (trainer.targets.TargetLoss)
            return loss_fn.sharded(logits, y, part, self.world)
        import torch

        total = torch.nn.functional.cross_entropy(logits, y, weight=loss_fn.weight, reduction="sum")
        if part.empty:
            total = total * 0.0
        return total * (self.world / part.denom)

    def sync_grads(self, params, loss, extra=None):
        """Average the gradients of ``params`` across ranks (one flat all-reduce, the step's loss
        riding along) and return the global batch's loss.  ``extra`` (a 1-D tensor, e.g. the
        targets' losses) rides along too and is averaged: then ``(loss, list of floats)``."""
        self.steps += 1
        if not self.active:
            if extra is None:
                return loss.item()
            vals = torch_stack_float(loss, extra)
            return vals[0], vals[1:]
        self._maybe_fault()
        import torch
        import torch.distributed as dist

        params = [p for p in params if p.requires_grad]
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        tail = [loss.detach().reshape(1).float()] + ([] if extra is None else [extra.detach().reshape(-1).float()])
        flat = torch.cat([g.reshape(-1).float() for g in grads] + tail)
        self._run(dist.all_reduce, flat)
        flat /= self.world
        off = 0
        for p, g in zip(params, grads):
            n = g.numel()
            p.grad = flat[off: off + n].view_as(g).to(g.dtype)
            off += n
        vals = flat[off:].tolist()
        return vals[0] if extra is None else (vals[0], vals[1:])

    def _maybe_fault(self) -> None:
        spec = os.environ.get(FAULT_ENV, "")
        if spec:
            rank, step = (int(x) for x in spec.split(":"))
            if rank == self.rank and self.steps >= step:
                os._exit(17)


def torch_stack_float(loss, extra) -> list[float]:
    """``[loss, *extra]`` as floats, read from the device in one transfer."""
    import torch

    return torch.cat([loss.detach().reshape(1).float(), extra.detach().reshape(-1).float()]).tolist()


_current = Ranks()


def current() -> Ranks:
    """The process group of this process (one process unless :func:`init` joined one)."""
    return _current


def init(device: str = "auto", timeout_s: float | None = None) -> Ranks:
    """Join the torchrun process group when launched by it (else the one-process default).

    ``device``: the training config's device; a GPU job uses NCCL and the GPU of ``LOCAL_RANK``."""
    global _current
    if not launched():
        return _current
    import torch
    import torch.distributed as dist

    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ["LOCAL_RANK"])
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    if not dist.is_initialized():
        use_cuda = device != "cpu" and torch.cuda.is_available()
        if use_cuda:
            torch.cuda.set_device(local_rank)
        timeout = timedelta(seconds=timeout_s or float(os.environ.get("TRIAGE_DIST_TIMEOUT_S", DEFAULT_TIMEOUT_S)))
        dist.init_process_group(backend="cpu:gloo,cuda:nccl" if use_cuda else "gloo", timeout=timeout)
    _current = Ranks(rank, world, local_rank, local_world)
    return _current


def shutdown() -> None:
    """Leave the process group (after a finished job, on every rank).  The ranks meet at a barrier
    first and leave together: a rank that tore its group down while a peer's gloo threads still
    talked to it ended, now and then, in "terminate called without an active exception" (an
    abort after the bundle was written)."""
    global _current
    if _current.active:
        import torch.distributed as dist

        if dist.is_initialized():
            try:
                _current.barrier()
            except PeerLost:     # the job is done and its bundle written: nothing left to agree on
                pass
            dist.destroy_process_group()
    _current = Ranks()
