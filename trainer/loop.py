"""The training loop: explicit, nanoGPT style.

Phase 1 ("head"): towers frozen, their pooled features computed once (length-bucketed batches,
dynamic padding, autocast) and cached; the linear head trains on the cache in seconds per epoch.
Phase 2 ("finetune"): the top N layers (or all) of both towers train with a lower learning rate,
AdamW without weight decay on biases and LayerNorm, warmup then linear decay, gradient clipping,
bf16 autocast on CPUs that support it (fp16/bf16 on CUDA), dynamic padding, length buckets.

Early stopping on validation macro-F1 with patience, best weights restored; a checkpoint
(safetensors + JSON, :mod:`trainer.checkpoint`) after every epoch; ``resume=`` continues from
one.  ``should_stop()`` is polled every batch.  Nothing here knows about Qt.
"""
from __future__ import annotations

import math
import os
import random
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from trainer import distributed
from trainer.batching import Encoded, LayerCache, bucketed_batches, cache_layers, layer_cache_bytes, memory_budget
from trainer.checkpoint import load_checkpoint, restore_optimizer, save_checkpoint
from trainer.config import TrainConfig
from trainer.data import PreparedData
from trainer.evaluate import macro_f1
from trainer.events import CancelledEvent, EpochEvent, FailedEvent, FinishedEvent, PhaseEvent, ProgressEvent, StepEvent
from trainer.model import DualBertClassifier, tower_tokenizers
from trainer.targets import TargetEpochs, TargetLoss, final_metrics, val_scores
from triage_app.errors import Cancelled
from triage_app.tokens import length_sorted_batches, load_tokenizer


@dataclass
class TrainResult:
    status: str                      # "finished" | "cancelled"
    config: TrainConfig
    labels: list[str]
    model: DualBertClassifier | None = None
    tokenizer_path: str | None = None
    temperature: float = 1.0
    metrics: dict = field(default_factory=dict)
    val_logits: np.ndarray | None = None
    val_y: np.ndarray | None = None
    checkpoint_dir: str | None = None
    elapsed_s: float = 0.0
    data: PreparedData | None = None
    tokenizer_path_b: str | None = None   # tower B's own tokenizer (a base of another family), else None

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"


# ---- helpers ----------------------------------------------------------------------------------
def pick_device(pref: str) -> torch.device:
    if pref == "cuda" or (pref == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("CUDA was requested but torch sees no usable GPU")
        return torch.device("cuda")
    return torch.device("cpu")


def cpu_supports_bf16() -> bool:
    f = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    g = getattr(torch.cpu, "_is_amx_tile_supported", None)
    try:
        return bool((f and f()) or (g and g()))
    except Exception:  # noqa: BLE001
        return False


def autocast_dtype(cfg: TrainConfig, device: torch.device):
    """None (fp32) or the dtype to autocast to."""
    if cfg.precision == "fp32":
        return None
    if device.type == "cuda":
        if cfg.precision == "fp16":
            return torch.float16
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if cfg.precision in ("bf16", "auto"):
        return torch.bfloat16 if (cfg.precision == "bf16" or cpu_supports_bf16()) else None
    return None  # fp16 autocast on CPU is not worth it


def set_threads(n: int) -> None:
    """CPU threads torch may use (the CLI's --threads)."""
    torch.set_num_threads(max(1, int(n)))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ---- the loop ---------------------------------------------------------------------------------
class _Emitter:
    """Rate-limits step events (at most ``per_s`` a second, loss averaged in between).

    The first step event and every ``force``d one (the last step of an epoch or of a step budget)
    always pass; any other passes once ``1 / per_s`` seconds of ``clock`` have gone by since the
    last one that passed.  ``clock`` is read once here and once per :meth:`step`."""

    def __init__(self, on_event, per_s: float, clock: Callable[[], float] = time.perf_counter):
        self.on_event = on_event or (lambda e: None)
        self.min_gap = 1.0 / per_s if per_s > 0 else 0.0
        self.clock = clock
        self.last = float("-inf")
        self.acc = []
        self.acc_parts: dict[str, list[float]] = {}
        self.samples = 0
        self.t0 = clock()

    def __call__(self, ev):
        self.on_event(ev)

    def step(self, phase, step, total, epoch, loss, lr, n, force=False, parts=None):
        self.acc.append(loss)
        for k, v in (parts or {}).items():
            self.acc_parts.setdefault(k, []).append(v)
        self.samples += n
        now = self.clock()
        if force or now - self.last >= self.min_gap:
            dt = max(now - self.t0, 1e-9)
            per = {k: float(np.mean(v)) for k, v in self.acc_parts.items()} or None
            self.on_event(StepEvent(phase, step, total, epoch, float(np.mean(self.acc)), lr,
                                    self.samples / dt, per))
            self.acc, self.acc_parts, self.samples, self.last, self.t0 = [], {}, 0, now, now


def train(cfg: TrainConfig, data: PreparedData, on_event: Callable | None = None,
          should_stop: Callable[[], bool] | None = None, resume: str | None = None,
          checkpoint_dir: str | os.PathLike | None = None,
          finish_early: Callable[[], bool] | None = None) -> TrainResult:
    """Train a dual-BERT classifier (see module doc).  Returns a :class:`TrainResult`;
    a cancelled run returns ``status="cancelled"`` after emitting :class:`CancelledEvent`.
    Errors emit :class:`FailedEvent` and are raised again.  ``finish_early()`` (polled every batch)
    ends training at once as if it had converged: the current weights are validated, the best
    epoch so far is kept and the run goes on to calibration (``metrics["stopped_early"]``)."""
    emit = _Emitter(on_event, cfg.step_events_per_s)
    stop = should_stop or (lambda: False)
    finish = finish_early or (lambda: False)
    t_start = time.perf_counter()
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir else None
    try:
        return _train(cfg, data, emit, stop, resume, ckpt_dir, t_start, finish)
    except Cancelled:
        emit(CancelledEvent("training cancelled; the last good checkpoint is kept",
                            str(ckpt_dir) if ckpt_dir and (ckpt_dir / "last").exists() else None))
        return TrainResult("cancelled", cfg, data.labels, checkpoint_dir=str(ckpt_dir) if ckpt_dir else None,
                           elapsed_s=time.perf_counter() - t_start, data=data)
    except Exception as e:
        emit(FailedEvent(str(e) or type(e).__name__, traceback.format_exc()))
        raise


def _mean(losses) -> float:
    """Mean training loss of an epoch (NaN when it was stopped before its first batch)."""
    return float(np.mean(losses)) if losses else float("nan")


def _train(cfg, data, emit, stop, resume, ckpt_dir, t_start, finish) -> TrainResult:
    seed_everything(cfg.seed)
    device = pick_device(cfg.device)
    amp = autocast_dtype(cfg, device)
    multi = data.targets      # several targets: one head output per target, side by side (trainer/targets.py)
    n_labels = sum(len(t.labels) for t in multi) if multi else len(data.labels)
    ck_labels = [f"{t.name}: {lab}" for t in multi for lab in t.labels] if multi else list(data.labels)
    ck = load_checkpoint(resume) if resume else None
    if ck is not None and ck["labels"] != ck_labels:
        raise ValueError(f"cannot resume from {resume}: it was trained on labels {ck['labels']}")
    emit(PhaseEvent("prepare", f"loading {cfg.base_model} and tokenizing "
                    f"{len(data.train) + len(data.val)} tickets ({device.type}, "
                    f"{'bf16' if amp == torch.bfloat16 else 'fp16' if amp == torch.float16 else 'fp32'})"))
    model = DualBertClassifier.from_pretrained(cfg.base_model, cfg.base_model_b, n_labels,
                                               cfg.pooling, cfg.dropout)
    model.target_sizes = [len(t.labels) for t in multi] if multi else None
    tok_path, tok_path_b = tower_tokenizers(model, cfg.base_model, cfg.base_model_b)
    tok = load_tokenizer(tok_path, cfg.max_length)
    tok_b = load_tokenizer(tok_path_b, cfg.max_length) if tok_path_b else None
    if ck is not None:
        model.load_state_dict(ck["model"])
    model.to(device)
    ddp = distributed.current()  # one process unless started by torchrun (trainer/distributed.py)
    ddp.broadcast_params(model)
    ddp.checkpoint_dir = ckpt_dir
    enc_train = Encoded(tok, data.train, tok_b)
    enc_val = Encoded(tok, data.val, tok_b)
    if stop():
        raise Cancelled()
    pad_to = cfg.max_length if cfg.pad_to_max else None
    weights = torch.tensor(data.class_weights, dtype=torch.float32, device=device) \
        if (cfg.class_weights and data.class_weights is not None) else None
    loss_fn = TargetLoss(multi, device, cfg.class_weights) if multi else nn.CrossEntropyLoss(weight=weights)
    eval_loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(cfg.seed)
    state = {"phase": "head", "epoch": 0, "step": 0, "best_f1": -1.0, "bad_epochs": 0,
             "best_epoch": 0, "history": []}
    best_state = None
    if ck is not None:
        state.update(ck["state"])
        best_state = ck["best"]
    prior_s = float(state.get("train_seconds", 0.0))  # time spent before a resume counts too
    head_steps = math.ceil(len(data.train) / cfg.batch_size) * cfg.head_epochs
    ft_steps = math.ceil(len(data.train) / cfg.batch_size) * cfg.finetune_epochs
    if cfg.max_steps:
        head_steps = min(head_steps, cfg.max_steps)
        ft_steps = min(ft_steps, cfg.max_steps)
    total_steps = head_steps + ft_steps

    def autocast():
        if amp is None:
            return torch.autocast(device.type, enabled=False)
        return torch.autocast(device.type, dtype=amp)

    per_target_log = TargetEpochs(multi) if multi else None   # several targets: each one's figures

    def snapshot():
        return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}

    def optimize(phase, loss, params, optimizer, scheduler, epoch, bi, n_batches, n, start_step,
                 losses) -> bool:
        """One optimizer step + its (rate-limited) event; True when the step budget is spent."""
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        parts = None
        if multi:     # each target's loss rides along with the total's
            loss_value, values = ddp.sync_grads(params, loss, loss_fn.last)
            parts = loss_fn.parts(values)
            per_target_log.add_step(parts)
        else:
            loss_value = ddp.sync_grads(params, loss)  # across ranks; loss.item() on one process
        if cfg.grad_clip:
            nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        optimizer.step()
        scheduler.step()
        state["step"] += 1
        losses.append(loss_value)
        spent = bool(cfg.max_steps) and state["step"] - start_step >= cfg.max_steps
        emit.step(phase, state["step"], total_steps, epoch - 1 + (bi + 1) / n_batches, losses[-1],
                  scheduler.get_last_lr()[0], n, force=bi == n_batches - 1 or spent, parts=parts)
        return spent

    def forward(enc: Encoded, idx, cache: LayerCache | None = None, start: int = 0):
        """(logits, labels) of one batch: from token ids, or from a layer cache of ``enc``."""
        src = enc if cache is None else cache
        t, yb = src.batch(idx, device, pad_to)
        return (model(*t) if cache is None else model.logits_from_layer(start, *t)), yb

    def evaluate_full(enc: Encoded, phase: str, cache: LayerCache | None = None, start: int = 0):
        model.eval()
        logits = np.zeros((len(enc.y), n_labels), dtype=np.float32)
        batches = ddp.shard(length_sorted_batches(enc.len, cfg.eval_batch_size))
        with torch.no_grad(), autocast():
            for bi, idx in enumerate(batches):
                if stop():
                    raise Cancelled()
                logits[idx] = forward(enc, idx, cache, start)[0].float().cpu().numpy()
                emit(ProgressEvent(phase, bi + 1, len(batches)))
        return ddp.gather_rows(logits)

    def val_metrics(logits, y):
        if multi:
            return val_scores(multi, logits, y)
        lt = torch.from_numpy(logits)
        vloss = float(eval_loss_fn(lt, torch.from_numpy(y)).item())
        pred = logits.argmax(1)
        return vloss, float((pred == y).mean()), macro_f1(y, pred, n_labels)

    def end_epoch(phase, epoch, epochs, train_loss, vlogits, t_phase, optimizer, scheduler):
        nonlocal best_state
        vloss, vacc, vf1 = val_metrics(vlogits, data.val.y)
        # several targets: early stopping follows their sum / means (val_scores); each one's figures
        per_target = per_target_log.end_epoch(vlogits, data.val.y) if multi else None
        if multi and phase == "head":
            improved, best_state = per_target_log.keep_bests(state, per_target, epoch, best_state, snapshot,
                                                             model.classifier)
        else:
            improved = vf1 > state["best_f1"] + 1e-6
            if improved:
                state["best_f1"], state["best_epoch"] = vf1, epoch
                best_state = snapshot()
        if improved:
            state["bad_epochs"] = 0
        else:
            state["bad_epochs"] += 1
        state["epoch"] = epoch
        elapsed = time.perf_counter() - t_phase
        eta = elapsed / max(epoch - state.get("phase_start_epoch", 0), 1) * (epochs - epoch)
        state["history"].append({"phase": phase, "epoch": epoch, "step": state["step"],
                                 "train_loss": train_loss, "val_loss": vloss, "val_accuracy": vacc,
                                 "val_macro_f1": vf1, **({"targets": per_target} if per_target else {})})
        emit(EpochEvent(phase, epoch, epochs, state["step"], train_loss, vloss, vacc, vf1,
                        time.perf_counter() - t_start, eta, improved, per_target))
        if ckpt_dir is not None and ddp.is_main:
            state["train_seconds"] = prior_s + time.perf_counter() - t_start
            save_checkpoint(ckpt_dir, model, optimizer, scheduler, state, cfg, ck_labels, best_state)
        if finish():
            state["stopped_early"] = "requested"
            emit(PhaseEvent("note", f"stopped at your request after {phase} epoch {epoch}: keeping the best epoch "
                            f"so far ({state['best_epoch']}, validation macro-F1 {state['best_f1']:.3f})", 0))
            return True
        if cfg.patience and state["bad_epochs"] > cfg.patience:
            state["stopped_early"] = "patience"
            kept = f"epoch {state['best_epoch']} ({state['best_f1']:.3f})"
            if multi and phase == "head":
                kept = TargetEpochs.kept(state)
            emit(PhaseEvent("note", f"early stopping after {phase} epoch {epoch} of {epochs}: validation macro-F1 "
                            f"has not improved for {state['bad_epochs']} epochs; keeping {kept}", 0))
            return True
        return False

    # ---------------- phase 1: head on cached frozen features ----------------
    model.freeze_towers()
    if state["phase"] == "head" and cfg.head_epochs > 0:
        start_epoch = state["epoch"]
        state["phase_start_epoch"] = start_epoch
        if cfg.cache_features:
            emit(PhaseEvent("features", "computing frozen tower features once", 0))
            model.eval()

            # Identical towers reading identical text give identical features: compute once.
            twins = (resume is None and cfg.base_model_b in (None, cfg.base_model))

            def feats(enc: Encoded):
                out = torch.zeros((len(enc.y), model.hidden), dtype=torch.float32)
                batches = ddp.shard(length_sorted_batches(enc.len, cfg.eval_batch_size))
                with torch.no_grad(), autocast():
                    for bi, idx in enumerate(batches):
                        if stop():
                            raise Cancelled()
                        t, _ = enc.batch(idx, device, pad_to)
                        if twins and enc.b is enc.a:
                            fa = model.pool(model.tower_a, t[0], t[1]).float().cpu()
                            f = torch.cat([fa, fa], dim=-1)
                        else:
                            f = model.features(*t).float().cpu()
                        out[torch.from_numpy(idx)] = f
                        emit(ProgressEvent("features", bi + 1, len(batches)))
                return ddp.gather_rows(out)
            ftrain = feats(enc_train).to(device)
            fval = feats(enc_val).to(device)
            ytrain = torch.from_numpy(data.train.y).to(device)
        emit(PhaseEvent("head", f"training the classifier head ({cfg.head_epochs} epochs, towers frozen)",
                        head_steps))
        head_params = list(model.classifier.parameters())
        optimizer = torch.optim.AdamW(head_params, lr=cfg.head_lr, weight_decay=cfg.weight_decay)
        warm = int(head_steps * cfg.warmup_ratio)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(warm, head_steps))
        if ck is not None and ck["state"]["phase"] == "head" and ck["optimizer"]["param_groups"]:
            restore_optimizer(optimizer, ck)
            scheduler.load_state_dict(ck["scheduler"])
        t_phase = time.perf_counter()
        n = len(data.train)
        steps_done_phase = state["step"]
        for epoch in range(start_epoch + 1, cfg.head_epochs + 1):
            model.train()
            model.tower_a.eval()
            model.tower_b.eval()
            losses = []
            if cfg.cache_features:
                perm = torch.from_numpy(rng.permutation(n)).to(device)
                batches = [perm[i: i + cfg.batch_size] for i in range(0, n, cfg.batch_size)]
            else:
                batches = bucketed_batches(enc_train.len, cfg.batch_size, rng)
            for bi, (idx, part) in enumerate(ddp.sampler(batches, ytrain if cfg.cache_features else enc_train.y,
                                                          weights)):
                if stop():
                    raise Cancelled()
                if finish():
                    break
                if cfg.cache_features:
                    logits = model.head(ftrain[idx])
                    yb = ytrain[idx]
                else:
                    t, yb = enc_train.batch(idx, device, pad_to)
                    with autocast():
                        logits = model(*t)
                loss = ddp.loss(loss_fn, logits.float(), yb, part)
                if optimize("head", loss, head_params, optimizer, scheduler, epoch, bi, len(batches),
                            len(idx) * ddp.world, steps_done_phase, losses):
                    break
            if cfg.cache_features:
                model.eval()
                with torch.no_grad():
                    vlogits = model.head(fval).float().cpu().numpy()
            else:
                vlogits = evaluate_full(enc_val, "head")
            stop_early = end_epoch("head", epoch, cfg.head_epochs, _mean(losses), vlogits,
                                   t_phase, optimizer, scheduler)
            if stop_early or (cfg.max_steps and state["step"] - steps_done_phase >= cfg.max_steps):
                break
        if cfg.cache_features:
            del ftrain, fval
        if best_state is not None:
            model.load_state_dict(best_state)
        state.update({"phase": "finetune", "epoch": 0, "bad_epochs": 0})
        ck = None  # a resumed head phase is done
    elif state["phase"] == "head":  # head_epochs == 0: straight to fine-tuning
        state.update({"phase": "finetune", "epoch": 0, "bad_epochs": 0})

    # ---------------- phase 2: fine-tuning ----------------
    if cfg.finetune_epochs > 0 and state["phase"] == "finetune" and state.get("stopped_early") != "requested":
        start_epoch = state["epoch"]
        state["phase_start_epoch"] = start_epoch
        model.unfreeze_top(cfg.finetune_layers)
        trainable = [p for p in model.parameters() if p.requires_grad]
        n_tower = sum(p.numel() for p in model.tower_parameters() if p.requires_grad)
        emit(PhaseEvent("finetune", f"fine-tuning {n_tower / 1e6:.1f} M tower parameters "
                        f"({'all layers' if cfg.finetune_layers == -1 else f'top {cfg.finetune_layers} layers'}, "
                        f"{cfg.finetune_epochs} epochs)", ft_steps))
        decay, no_decay, head = [], [], []
        head_ids = {id(p) for p in model.classifier.parameters()}
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            if id(p) in head_ids:
                head.append(p)
            elif p.ndim < 2 or "LayerNorm" in name or name.endswith(".bias"):
                no_decay.append(p)
            else:
                decay.append(p)
        groups = [{"params": decay, "lr": cfg.tower_lr, "weight_decay": cfg.weight_decay},
                  {"params": no_decay, "lr": cfg.tower_lr, "weight_decay": 0.0},
                  {"params": head, "lr": cfg.finetune_head_lr, "weight_decay": 0.0}]
        optimizer = torch.optim.AdamW([g for g in groups if g["params"]])
        warm = int(ft_steps * cfg.warmup_ratio)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(warm, ft_steps))
        if ck is not None and ck["state"]["phase"] == "finetune" and ck["optimizer"]["param_groups"]:
            restore_optimizer(optimizer, ck)
            scheduler.load_state_dict(ck["scheduler"])
        # Layers below the trained ones are frozen: cache their outputs once (train and val).
        start = 0 if cfg.finetune_layers == -1 else max(0, model.n_layers - cfg.finetune_layers)
        cache_train = cache_val = None
        if cfg.cache_layers and start > 0:
            twins = model.bottoms_identical(start)
            itemsize = 2 if amp in (torch.bfloat16, torch.float16) else 4
            hidden = max(t.config.hidden_size for t in (model.tower_a, model.tower_b))
            need = layer_cache_bytes([enc_train, enc_val], hidden, itemsize, twins)
            budget = memory_budget() // ddp.local_world  # each process on this machine holds a copy
            if need <= budget:
                emit(PhaseEvent("cache", f"caching the outputs of the {start} frozen bottom layers "
                                f"once ({need / 2**20:,.0f} MiB)", 0))
                cache_train = cache_layers(model, enc_train, start, twins, cfg, device, autocast,
                                            stop, emit, amp)
                cache_val = cache_layers(model, enc_val, start, twins, cfg, device, autocast,
                                          stop, emit, amp)
            else:
                emit(PhaseEvent("cache", f"not caching the frozen layers: {need / 2**30:.1f} GiB "
                                f"would exceed the memory budget ({budget / 2**30:.1f} GiB)", 0))

        t_phase = time.perf_counter()
        steps_at_start = state["step"]
        for epoch in range(start_epoch + 1, cfg.finetune_epochs + 1):
            model.train()
            batches = bucketed_batches(enc_train.len, cfg.batch_size,
                                       np.random.default_rng(cfg.seed + epoch))
            losses = []
            for bi, (idx, part) in enumerate(ddp.sampler(batches, enc_train.y, weights)):
                if stop():
                    raise Cancelled()
                if finish():
                    break
                with autocast():
                    logits, yb = forward(enc_train, idx, cache_train, start)
                loss = ddp.loss(loss_fn, logits.float(), yb, part)
                if optimize("finetune", loss, trainable, optimizer, scheduler, epoch, bi, len(batches),
                            len(idx) * ddp.world, steps_at_start, losses):
                    break
            vlogits = evaluate_full(enc_val, "finetune", cache_val, start)
            stop_early = end_epoch("finetune", epoch, cfg.finetune_epochs, _mean(losses),
                                   vlogits, t_phase, optimizer, scheduler)
            if stop_early or (cfg.max_steps and state["step"] - steps_at_start >= cfg.max_steps):
                break
        del cache_train, cache_val
        if best_state is not None:
            model.load_state_dict(best_state)
        model.freeze_towers()

    # ---------------- calibration and final metrics ----------------
    emit(PhaseEvent("calibrate", "fitting temperature on validation and measuring", 0))
    from trainer.evaluate import classification_report, ece, fit_temperature

    vlogits = evaluate_full(enc_val, "calibrate")
    tlogits = evaluate_full(Encoded(tok, data.test, tok_b), "test") if data.test is not None and len(data.test) else None
    if multi:
        metrics, per_target = final_metrics(multi, vlogits, data.val.y, tlogits, None if tlogits is None else data.test.y)
        temperature, metrics["targets"] = metrics["temperature"], per_target
    else:
        temperature = fit_temperature(vlogits, data.val.y)
        metrics = {"val": classification_report(data.val.y, vlogits.argmax(1), data.labels),
                   "ece_before": ece(vlogits, data.val.y, 1.0), "ece_after": ece(vlogits, data.val.y, temperature)}
    metrics |= {"temperature": temperature, "best_epoch": state["best_epoch"],
               "stopped_early": state.get("stopped_early"),
               "history": state["history"], "precision_used": str(amp).replace("torch.", "") if amp else "fp32",
               "device": device.type}
    if tlogits is not None and not multi:
        metrics["test"] = classification_report(data.test.y, tlogits.argmax(1), data.labels)
        metrics["test"]["ece"] = ece(tlogits, data.test.y, temperature)
    model.eval()
    model.to("cpu")
    elapsed = time.perf_counter() - t_start
    metrics["train_seconds"] = prior_s + elapsed
    res = TrainResult("finished", cfg, list(data.labels), model, str(tok_path), temperature, metrics,
                      vlogits, data.val.y, str(ckpt_dir) if ckpt_dir else None, elapsed, data,
                      tokenizer_path_b=str(tok_path_b) if tok_path_b else None)
    emit(FinishedEvent(metrics, res.checkpoint_dir, elapsed))
    return res


def _schedule(warmup: int, total: int):
    def f(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))
    return f
