"""Engine: real ONNX inference on the tiny bundle, ordering, thresholds, explain, providers."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from triage_app.engine import TicketClassifier, tickets_from_frame
from triage_app.errors import Cancelled


@pytest.fixture(scope="module")
def clf(tiny_bundle):
    return TicketClassifier.load(tiny_bundle, device="cpu")


TICKETS = [
    {"title": "Laptop screen flickers", "body": "My laptop display flickers since this morning."},
    {"title": "Password reset", "body": "I am locked out of my account after too many attempts, please unlock."},
    "Need more space on the shared drive for the finance team",
    {"text": "Please order two new monitors for the design team, PO attached"},
    {"title": "", "body": ""},
]


def test_predict_shapes_and_probabilities(clf):
    preds = clf.predict(TICKETS, top_k=3)
    assert len(preds) == len(TICKETS)
    for p in preds:
        assert p.label in clf.labels
        assert 0 < p.confidence <= 1
        assert len(p.top) == 3 and p.top[0] == (p.label, p.confidence)
        assert p.top[0][1] >= p.top[1][1] >= p.top[2][1]
    probs = clf.predict_proba(TICKETS)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)


def test_results_in_input_order_regardless_of_batching(clf):
    many = TICKETS * 7
    a = clf.predict_proba(many, batch_size=3)
    b = np.vstack([clf.predict_proba([t]) for t in many])
    np.testing.assert_allclose(a, b, atol=1e-3)  # padding changes float rounding only
    assert (a.argmax(1) == b.argmax(1)).all()


def test_single_ticket_returns_single_prediction(clf):
    p = clf.predict("printer jammed on floor 2")
    assert p.label in clf.labels


def test_threshold_and_class_thresholds(clf):
    p = clf.predict(TICKETS[0])
    assert clf.predict(TICKETS[0], threshold=0.0).needs_review is False
    assert clf.predict(TICKETS[0], threshold=1.0).needs_review is True
    clf.class_thresholds = {p.label: 0.999}
    try:
        assert clf.predict(TICKETS[0]).needs_review is True
    finally:
        clf.class_thresholds = {}


def test_temperature_is_applied(bundle_copy):
    c1 = TicketClassifier.load(bundle_copy)
    meta = json.loads((bundle_copy / "bundle.json").read_text())
    meta["temperature"] = meta["temperature"] * 4
    (bundle_copy / "bundle.json").write_text(json.dumps(meta))
    c2 = TicketClassifier.load(bundle_copy)
    p1, p2 = c1.predict_proba(TICKETS[:2]), c2.predict_proba(TICKETS[:2])
    assert (p1.argmax(1) == p2.argmax(1)).all()
    assert p2.max(1).mean() < p1.max(1).mean()  # a higher temperature flattens


def test_cleaning_is_the_trainers(clf):
    a = clf.compose({"title": "Hi\nthere", "body": "see http://x.y/z XXXX"})
    assert a[0] == "Hi there. see url"


def test_predict_proba_progress_and_cancel(clf):
    seen = []
    clf.predict_proba(TICKETS * 20, batch_size=10, on_progress=lambda d, n: seen.append((d, n)))
    assert seen[-1] == (100, 100) and len(seen) == 10
    calls = {"n": 0}

    def stop():
        calls["n"] += 1
        return calls["n"] > 2
    with pytest.raises(Cancelled):
        clf.predict_proba(TICKETS * 20, batch_size=10, should_stop=stop)


def test_explain_words_and_scores(clf):
    t = {"title": "Laptop screen broken", "body": "the screen of my laptop is cracked"}
    ex = clf.explain(t)
    words = [w for w, _ in ex]
    assert words == clf.compose(t)[0].split()
    assert any(abs(s) > 0 for _, s in ex)
    # the score is the drop of the predicted class probability when the word is removed
    p = clf.predict(t)
    reduced = " ".join(words[1:])
    cls = clf.labels.index(p.label)
    p_wo = clf.predict_proba([{"text": reduced}])[0, cls]
    assert ex[0][1] == pytest.approx(p.confidence - p_wo, abs=1e-4)


def test_tickets_from_frame():
    import pandas as pd
    df = pd.DataFrame({"t": ["a", "b"], "b": ["x", "y"]})
    assert tickets_from_frame(df, {"title": "t", "body": "b"}) == [{"title": "a", "body": "x"}, {"title": "b", "body": "y"}]
    with pytest.raises(ValueError):
        tickets_from_frame(df, {})


def test_reload_thresholds(bundle_copy):
    from triage_app.bundle import save_thresholds
    c = TicketClassifier.load(bundle_copy)
    save_thresholds(bundle_copy, 0.77, {c.labels[0]: 0.9})
    c.reload_thresholds()
    assert c.threshold == 0.77 and c.class_thresholds == {c.labels[0]: 0.9}


# ---- providers (the CUDA path is verified with a mocked provider list; see BENCHMARKS.md) ----
class _FakeCudaSession:
    def __init__(self, real, providers):
        self._real, self._providers = real, providers

    def get_providers(self):
        return self._providers

    def __getattr__(self, k):
        return getattr(self._real, k)


def _patch_cuda(monkeypatch, providers_in_use, missing=(), driver=True):
    import onnxruntime as ort

    import triage_app.engine as eng
    real_session = eng.ort_session
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(eng, "cuda_missing_libs", lambda: list(missing))
    monkeypatch.setattr(eng, "nvidia_driver_present", lambda: driver)
    monkeypatch.setattr(eng, "gpu_name", lambda: "NVIDIA H200")

    def fake(path, providers, threads, quiet, spin=True):
        s = real_session(path, ["CPUExecutionProvider"], threads, quiet, spin)
        return _FakeCudaSession(s, providers_in_use) if "CUDAExecutionProvider" in providers else s
    monkeypatch.setattr(eng, "ort_session", fake)


def test_cuda_provider_reported_from_session(monkeypatch, tiny_bundle):
    _patch_cuda(monkeypatch, ["CUDAExecutionProvider", "CPUExecutionProvider"])
    c = TicketClassifier.load(tiny_bundle, device="auto")
    assert c.provider == "CUDAExecutionProvider" and c.provider_label == "CUDA (NVIDIA H200)"
    assert c.fallback_message is None
    assert c.default_batch_size == 64
    assert c.predict("vpn down").label in c.labels


def test_cuda_session_that_falls_back_is_reported_as_cpu(monkeypatch, tiny_bundle):
    _patch_cuda(monkeypatch, ["CPUExecutionProvider"])
    c = TicketClassifier.load(tiny_bundle, device="cuda")
    assert c.default_batch_size == 16
    assert c.provider == "CPUExecutionProvider" and c.provider_label == "CPU"
    assert "could not be initialised" in c.fallback_message


def test_missing_cuda_libraries_are_named(monkeypatch, tiny_bundle):
    _patch_cuda(monkeypatch, ["CUDAExecutionProvider"], missing=["cuDNN 9 (libcudnn.so.9)"])
    c = TicketClassifier.load(tiny_bundle, device="auto")
    assert c.provider == "CPUExecutionProvider"
    assert "libcudnn.so.9" in c.fallback_message and "pip install" in c.fallback_message


def test_auto_without_gpu_is_quiet(monkeypatch, tiny_bundle, capfd, caplog):
    _patch_cuda(monkeypatch, ["CUDAExecutionProvider"], missing=["CUDA 13 runtime"], driver=False)
    capfd.readouterr()
    c = TicketClassifier.load(tiny_bundle, device="auto")
    assert c.provider == "CPUExecutionProvider" and c.fallback_message is None
    # nothing printed by ONNX Runtime or logged by the engine: no GPU, nothing to say
    assert capfd.readouterr().err == ""
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_cuda_requested_on_this_machine_falls_back_clearly(tiny_bundle):
    c = TicketClassifier.load(tiny_bundle, device="cuda")
    if c.provider == "CUDAExecutionProvider":
        pytest.skip("a real GPU is present")
    assert c.fallback_message and "CPU" in c.fallback_message
    assert c.predict("printer jam").label in c.labels


def _session_graph(monkeypatch, tmp_path, providers):
    """Build an engine session; return the node types of the graph ONNX Runtime really runs
    and the fusions the engine disabled."""
    import onnx
    import onnxruntime as ort

    import triage_app.engine as eng
    real = ort.InferenceSession
    seen = {}

    def spy(path, so, providers=None, disabled_optimizers=None):
        so.optimized_model_filepath = str(tmp_path / "optimized.onnx")
        seen["disabled"] = list(disabled_optimizers or [])
        return real(path, so, providers=["CPUExecutionProvider"], disabled_optimizers=disabled_optimizers)
    monkeypatch.setattr(ort, "InferenceSession", spy)
    model = str(tmp_path / "model.onnx")
    eng.ort_session(model, providers, None, quiet=True)
    return {n.op_type for n in onnx.load(str(tmp_path / "optimized.onnx")).graph.node}, seen["disabled"]


def test_cpu_session_keeps_layer_norm_unfused(monkeypatch, tiny_bundle, tmp_path):
    """The exported file leaves Add + LayerNormalization apart, and the CPU session does not fuse
    them into the (slower on CPU) SkipLayerNormalization; a CUDA session may."""
    import shutil

    import onnx

    shutil.copy(tiny_bundle / "model.onnx", tmp_path / "model.onnx")
    in_file = {n.op_type for n in onnx.load(str(tmp_path / "model.onnx")).graph.node}
    assert "SkipLayerNormalization" not in in_file
    ops, disabled = _session_graph(monkeypatch, tmp_path, ["CPUExecutionProvider"])
    assert "LayerNormalization" in ops and "SkipLayerNormalization" not in ops
    assert disabled == ["SkipLayerNormFusion"]
    ops, disabled = _session_graph(monkeypatch, tmp_path, ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert disabled == [] and "SkipLayerNormalization" in ops  # what the fusion does when allowed
