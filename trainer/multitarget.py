"""The steps of :func:`trainer.pipeline.run` after training a model with several targets: per target
the lexical model and the blend chosen on validation (its rows labeled for that target), then the
unfamiliar-ticket signal and the comparison with the active model (each target beside the active
model's target of the same name, on the same validation rows), and one export
(:func:`trainer.export.export_result` with ``targets``)."""
from __future__ import annotations

import time

from trainer.events import PhaseEvent
from trainer.export_targets import TargetExport
from trainer.targets import segments, target_view
from triage_app.errors import Cancelled


def _check(stop) -> None:
    if stop():
        raise Cancelled()


def target_exports(res, data, cfg, emit, stop) -> list[TargetExport]:
    """Each target's served validation scores, calibration and hybrid choice."""
    from trainer.hybrid import ServedTransformer, fit_hybrid

    out = []
    for k, (t, seg) in enumerate(zip(data.targets, segments(data.targets))):
        view = target_view(data, k)
        per = {key: v for key, v in res.metrics["targets"][k].items() if key != "name"}
        m = data.val.y[:, k] >= 0
        served = ServedTransformer(list(t.labels), res.val_logits[m][:, seg], view.val.y, per["temperature"], None)
        hybrid = None
        if cfg.hybrid:
            emit(PhaseEvent("lexical", f"{t.name}: fitting the lexical model (TF-IDF + logistic regression) "
                            "and choosing the blend on validation"))
            hybrid = fit_hybrid(served, view, stop)
            emit(PhaseEvent("lexical", f"{t.name}: {hybrid.summary()}"))
            _check(stop)
        out.append(TargetExport(t.name, list(t.labels), hybrid.val_logits if hybrid else served.val_logits,
                                view.val.y, hybrid.temperature if hybrid else per["temperature"], hybrid, per,
                                t.report, t.loss_weight))
    return out


def compare_targets(active, df, spec, data, targets: list[TargetExport], stop) -> dict:
    """The active model run once on the validation rows, compared per target with the new one (as
    served) on the rows labeled for that target: the active model's target of the same name, and
    for the primary target the active model's primary when it has none of that name.  Returns the
    primary target's comparison (as :func:`trainer.pipeline.compare_with_active` gives it) with
    ``"targets"``: ``{target: comparison}`` for every target the active model could be compared on."""
    import numpy as np

    from trainer.pipeline import compare_predictions, val_tickets

    try:
        probs, _ = active.score_targets(val_tickets(df, spec, data), should_stop=stop)
    except Cancelled:
        raise
    except Exception as e:  # noqa: BLE001 - the new model is fine; the old one failed to run
        return {"error": f"{type(e).__name__}: {e}"}
    act_targets = list(getattr(active, "targets", None) or [])
    act = {t.name: (probs[t.name], list(t.labels)) for t in act_targets} if act_targets else {}
    act_primary = (probs[act_targets[0].name], list(act_targets[0].labels)) if act_targets else \
        (probs["label"], [str(x) for x in active.labels])
    per = {}
    for k, t in enumerate(targets):
        p, labels = act.get(t.name) or (act_primary if k == 0 else (None, None))
        if p is None:
            continue
        m = data.val.y[:, k] >= 0
        act_pred = [labels[i] for i in np.asarray(p)[m].argmax(1)]
        new_pred = [t.labels[i] for i in np.asarray(t.val_logits).argmax(1)]
        per[t.name] = compare_predictions([t.labels[i] for i in t.val_y], new_pred, act_pred, t.labels, labels)
    ver = str(getattr(active, "version", "") or "")
    name = getattr(active, "name", "?") + (f" (version {ver})" if ver else "")
    out = dict(per.get(targets[0].name) or {"error": "the active model has no target to compare with"})
    out.update(active_name=name, targets=per)
    return out


def finish(res, data, df, spec, cfg, out_dir, *, name, version, active, emit, stop, export_options,
           card, card_extra, ready_lines, t0, plan, outcome_cls):
    """Lexical parts, blend, familiarity, comparison and export of a trained multi-target model;
    returns the pipeline's ``TrainOutcome`` (``outcome_cls``)."""
    from trainer.export import export_result
    from trainer.pipeline import compare_with_active, familiarity_of

    targets = target_exports(res, data, cfg, emit, stop)
    primary = target_view(data, 0)
    familiarity = familiarity_of(primary, targets[0].val_logits)
    comparison = None
    if active is not None and hasattr(active, "score_targets"):
        emit(PhaseEvent("compare", f"running the active model ({getattr(active, 'name', '?')}) on "
                        f"{len(data.val)} validation rows, every target"))
        comparison = compare_targets(active, df, spec, data, targets, stop)
        _check(stop)
    elif active is not None:
        emit(PhaseEvent("compare", f"running the active model ({getattr(active, 'name', '?')}) on "
                        f"{len(primary.val)} validation rows ({targets[0].name})"))
        comparison = compare_with_active(active, df, spec, primary, stop, targets[0].val_logits)
        _check(stop)
    emit(PhaseEvent("export", f"exporting the model (ONNX with {len(targets)} outputs, parity and int8 checks)"))
    bundle, rep = export_result(res, out_dir, name=name, version=version, should_stop=stop,
                                on_progress=lambda s: emit(PhaseEvent("export", s)), hybrid=targets[0].hybrid,
                                familiarity=familiarity, targets=targets, **dict(export_options or {}))
    if card:
        from trainer.card import write_model_card

        write_model_card(bundle.path, card_extra)
    o = outcome_cls(str(bundle.path), name, version, list(data.labels), bundle.meta["metrics"], rep.to_dict(),
                    comparison, ready_lines, time.perf_counter() - t0, cfg.to_dict(), plan)
    o.targets = [{"name": t.name, "labels": t.labels, "metrics": t.metrics} for t in bundle.targets]
    return o
