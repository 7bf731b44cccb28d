"""The lexical half of the hybrid model: TF-IDF word 1-2 grams + class-balanced logistic regression.

:func:`fit_lexical` fits it (C chosen on validation macro-F1); :meth:`LexicalModel.to_onnx` writes
an ONNX graph that ONNX Runtime serves alone -- no scikit-learn, skl2onnx or pickle at serving.
The conversion follows docs/design/lexical-serving.md (measured there to float32 precision on
53,268 real rows and 23 hard cases):

* the texts are lower-cased in Python before they reach either model
  (``triage_app.text.lexical_text``), so the vectorizer runs with ``lowercase=False`` and the graph
  has no StringNormalizer (whose locale handling differs from ``str.lower()`` on U+0130 and final
  sigma, and whose default locale may not exist on the host);
* ORT's Tokenizer uses RE2, whose ``\\w``/``\\b`` are ASCII-only: ``[\\p{L}\\p{N}_]{2,}`` is the RE2
  form of scikit-learn's ``(?u)\\b\\w\\w+\\b`` (two or more Unicode word characters);
* skl2onnx 1.20 is used only for the front of the graph (Tokenizer -> Flatten -> TfIdfVectorizer,
  raw n-gram counts).  Its own tail computes ``log(1 + tf)`` for ``sublinear_tf`` where
  scikit-learn computes ``1 + log(tf)``, and runs dense over [N, V]; the tail here is sparse: it
  takes the non-zero counts once (NonZero), applies ``1 + log(tf)``, idf, the L2 norm and the
  weights to those entries only and sums the K logits per row with ScatterElements(add).
  L2 normalisation is applied to the logits (it is linear), idf is folded into the weights.

The graph: input ``text`` (string [N, 1]), output ``probabilities`` (float32 [N, K], columns in
label-index order), opsets ``""`` 17 and ``com.microsoft`` 1 (the Tokenizer), IR version 8.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from triage_app.errors import Cancelled
from triage_app.text import WORD_PATTERN

LEXICAL_INPUT = "text"            # ONNX input: string tensor [N, 1], texts already lexical_text()-ed
LEXICAL_OUTPUT = "probabilities"  # ONNX output: float32 [N, K], columns in label-index order 0..K-1

TOKEN_PATTERN = WORD_PATTERN              # scikit-learn (Python re)
RE2_TOKEN_PATTERN = r"[\p{L}\p{N}_]{2,}"  # the same token class in RE2 (ORT's Tokenizer)
NGRAM_RANGE = (1, 2)
ONNX_OPSET = 17
ONNX_IR_VERSION = 8
PRODUCER = "ticket-triage"
_PREFIX = "lex_"  # every internal tensor/node name of the graph, so it can be merged with another


@dataclass
class LexicalModel:
    """A fitted lexical model.  ``pipeline`` is what is served: refitted on the training and the
    validation rows with the chosen C.  ``val_proba`` are probabilities of the validation rows by
    models that did not see them (the out-of-fold predictions of the cross-validation, or the model
    fitted on the training rows alone): the blend weight, temperature and review thresholds are
    chosen on them, never on the served model's own (seen) rows."""
    pipeline: object          # fitted sklearn Pipeline(tfidf, lr); lower-casing is done before (lexical_text)
    C: float                  # chosen on held-out rows
    val_macro_f1: float       # macro-F1 of val_proba on the validation rows
    n_terms: int
    n_labels: int
    val_proba: np.ndarray | None = None
    selection: str = "validation"     # how C was chosen: "validation" | "cross-validation"
    selection_score: float = float("nan")   # the macro-F1 that chose C (CV: over train+validation)
    folds: int = 0                    # cross-validation folds (0: the validation rows chose C)
    fitted_on: str = "train"          # "train" | "train+validation": the rows of the served pipeline

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """scikit-learn probabilities, float64 [N, K] (columns = label indices 0..K-1)."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.n_labels), dtype=np.float64)
        return self.pipeline.predict_proba(texts)

    def onnx_model(self):
        """The ONNX graph as an ``onnx.ModelProto`` (checked with onnx.checker)."""
        return build_onnx(self.pipeline, self.n_labels)

    def to_onnx(self, path: str | os.PathLike) -> None:
        """Write the ONNX graph to ``path`` (atomically)."""
        from triage_app.atomic import write_bytes_atomic

        write_bytes_atomic(path, self.onnx_model().SerializeToString())

    def info(self) -> dict:
        vec = self.pipeline[0]
        return {"C": float(self.C), "n_terms": int(self.n_terms), "ngram_range": list(vec.ngram_range),
                "sublinear_tf": bool(vec.sublinear_tf), "min_df": vec.min_df,
                "val_macro_f1": float(self.val_macro_f1), "C_chosen_by": self.selection,
                "folds": int(self.folds), "selection_macro_f1": float(self.selection_score),
                "fitted_on": self.fitted_on}


# ------------------------------------------------------------------------------------------ fitting
def _check_labels(y, n_labels: int, what: str) -> np.ndarray:
    a = np.asarray(y)
    if a.ndim != 1 or (a.size and not np.issubdtype(a.dtype, np.integer)):
        raise ValueError(f"{what} must be a 1-D sequence of integer label indices")
    a = a.astype(np.int64)
    bad = sorted({int(v) for v in a if v < 0 or v >= n_labels})
    if bad:
        raise ValueError(f"{what} has label indices outside 0..{n_labels - 1}: {bad[:10]}")
    return a


# Up to this many training + validation rows, C is chosen by stratified k-fold cross-validation
# over both (a few hundred validation rows make macro-F1 over rare labels too noisy to choose C:
# on the endava sample the validation split picked C = 0.5, test macro-F1 0.460, where 5-fold
# cross-validation picked 8, test 0.488).  Above it the validation rows choose (cheaper, and large
# enough).  Either way the served model is refitted on training + validation rows with that C.
CV_MAX_ROWS = 10_000
CV_FOLDS = 5


def _vectorizer(n_rows: int):
    from sklearn.feature_extraction.text import TfidfVectorizer
    return TfidfVectorizer(ngram_range=NGRAM_RANGE, sublinear_tf=True, min_df=2 if n_rows >= 1000 else 1,
                           lowercase=False, token_pattern=TOKEN_PATTERN)


def _lr(C: float):
    from sklearn.linear_model import LogisticRegression
    return LogisticRegression(C=C, class_weight="balanced", max_iter=2000)


def _macro_f1(y, pred, n_labels: int) -> float:
    from sklearn.metrics import f1_score
    return float(f1_score(y, pred, labels=list(range(n_labels)), average="macro", zero_division=0))


def cv_folds(y, n_rows: int, folds: int = CV_FOLDS, max_rows: int = CV_MAX_ROWS) -> int:
    """How many cross-validation folds choose C for these labels (0: use the validation rows).
    Each fold's training part must hold every label, so no more folds than the rarest label's rows."""
    if n_rows > max_rows:
        return 0
    counts = np.bincount(np.asarray(y, dtype=np.int64))
    k = min(folds, int(counts[counts > 0].min()) if counts.size else 0)
    return k if k >= 2 else 0


def fit_lexical(train_texts: Sequence[str], y_train, val_texts: Sequence[str], y_val, n_labels: int,
                Cs: Sequence[float] = (0.5, 2.0, 8.0, 32.0),
                should_stop: Callable[[], bool] | None = None, selection: str = "auto",
                refit: bool = True) -> LexicalModel:
    """Fit TF-IDF (word 1-2 grams, sublinear tf) + class-balanced logistic regression.

    C is chosen by macro-F1 on held-out rows (ties: the smaller C): ``selection="cross-validation"``
    uses stratified k-fold over the training + validation rows (``"auto"`` does so up to
    :data:`CV_MAX_ROWS` rows when every label has 2 rows or more), ``"validation"`` fits on the
    training rows and scores the validation rows.  With ``refit`` the served pipeline is then fitted
    on training + validation rows with that C, otherwise on the training rows.  ``val_proba``
    always comes from models that did not see the validation rows.  Every label 0..n_labels-1 must
    occur in ``y_train`` (ValueError naming the missing ones otherwise).  ``should_stop`` is polled
    before each vectorizer and each fit; it raises :class:`triage_app.errors.Cancelled`.
    """
    from sklearn.pipeline import Pipeline

    train_texts, val_texts = list(train_texts), list(val_texts)
    if n_labels < 2:
        raise ValueError(f"the lexical model needs at least 2 labels, got n_labels={n_labels}")
    if len(train_texts) != len(y_train) or len(val_texts) != len(y_val):
        raise ValueError(f"texts and labels differ in length: train {len(train_texts)} texts / {len(y_train)} "
                         f"labels, validation {len(val_texts)} texts / {len(y_val)} labels")
    if not val_texts:
        raise ValueError("the lexical model needs validation rows to choose C")
    if selection not in ("auto", "validation", "cross-validation"):
        raise ValueError(f"selection must be auto, validation or cross-validation, got {selection!r}")
    Cs = sorted(float(c) for c in Cs)
    if not Cs or any(not np.isfinite(c) or c <= 0 for c in Cs):
        raise ValueError(f"Cs must be positive numbers, got {Cs}")
    ytr = _check_labels(y_train, n_labels, "y_train")
    yva = _check_labels(y_val, n_labels, "y_val")
    missing = sorted(set(range(n_labels)) - {int(v) for v in ytr})
    if missing:
        raise ValueError(f"label index(es) {missing} missing from the training rows (y_train); every label "
                         f"0..{n_labels - 1} needs at least one training row")

    def poll():
        if should_stop is not None and should_stop():
            raise Cancelled()

    texts, y = train_texts + val_texts, np.concatenate([ytr, yva])
    n_tr = len(train_texts)
    folds = 0 if selection == "validation" else cv_folds(y, len(texts), max_rows=CV_MAX_ROWS
                                                          if selection == "auto" else len(texts))
    if selection == "cross-validation" and not folds:
        raise ValueError("cross-validation needs at least 2 rows of every label")
    if folds:
        from sklearn.model_selection import StratifiedKFold

        oof = {C: np.zeros((len(texts), n_labels)) for C in Cs}
        for fit_idx, held in StratifiedKFold(folds, shuffle=True, random_state=0).split(np.zeros(len(y)), y):
            poll()
            vec = _vectorizer(len(fit_idx))
            X = vec.fit_transform([texts[i] for i in fit_idx])
            Xh = vec.transform([texts[i] for i in held])
            for C in Cs:
                poll()
                oof[C][held] = _lr(C).fit(X, y[fit_idx]).predict_proba(Xh)
        scores = {C: _macro_f1(y, oof[C].argmax(1), n_labels) for C in Cs}
        C = max(Cs, key=lambda c: (scores[c], -c))    # ties: the smaller C
        val_proba, served_rows = oof[C][n_tr:], (texts, y) if refit else None
        how = "cross-validation"
    else:
        poll()
        vec = _vectorizer(n_tr)
        X_train = vec.fit_transform(train_texts)
        X_val = vec.transform(val_texts)
        best = None  # (f1, C, lr)
        for C in Cs:  # ascending, and only a strictly better score replaces: ties keep the smaller C
            poll()
            lr = _lr(C).fit(X_train, ytr)
            f1 = _macro_f1(yva, lr.predict(X_val), n_labels)
            if best is None or f1 > best[0]:
                best = (f1, C, lr)
        f1, C, lr = best
        scores = {C: f1}
        val_proba = lr.predict_proba(X_val)
        served_rows = (texts, y) if refit else None
        how = "validation"
        if not refit:
            pipe = Pipeline([("tfidf", vec), ("lr", lr)])
    if served_rows is not None:
        poll()
        vec = _vectorizer(len(served_rows[0]))
        pipe = Pipeline([("tfidf", vec), ("lr", _lr(C))]).fit(*served_rows)
    elif folds:     # cross-validation without refit: the served model sees the training rows only
        poll()
        vec = _vectorizer(n_tr)
        pipe = Pipeline([("tfidf", vec), ("lr", _lr(C))]).fit(train_texts, ytr)
    return LexicalModel(pipeline=pipe, C=C, val_macro_f1=_macro_f1(yva, val_proba.argmax(1), n_labels),
                        n_terms=len(pipe[0].vocabulary_), n_labels=n_labels, val_proba=val_proba,
                        selection=how, selection_score=scores[C], folds=folds,
                        fitted_on="train+validation" if refit else "train")


# --------------------------------------------------------------------------------------- conversion
def _skl2onnx_model(pipeline):
    """skl2onnx's own conversion of the whole pipeline (Unicode token regex, no fixes): only its
    front (Tokenizer -> Flatten -> TfIdfVectorizer) is used by :func:`build_onnx`."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import StringTensorType
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = pipeline[0]
    if not (vec.analyzer == "word" and vec.token_pattern == TOKEN_PATTERN and vec.tokenizer is None
            and vec.preprocessor is None and not vec.lowercase and vec.stop_words is None):
        raise ValueError("the ONNX conversion supports TfidfVectorizer(analyzer='word', lowercase=False, "
                         f"token_pattern={TOKEN_PATTERN!r}) without tokenizer, preprocessor or stop words")
    opts = {LogisticRegression: {"zipmap": False}, TfidfVectorizer: {"tokenexp": RE2_TOKEN_PATTERN}}
    return to_onnx(pipeline, initial_types=[(LEXICAL_INPUT, StringTensorType([None, 1]))], options=opts,
                   target_opset={"": ONNX_OPSET, "ai.onnx.ml": 1})


def _front(pipeline):
    """The Tokenizer -> Flatten -> TfIdfVectorizer nodes (raw counts [N, V]) and their initializers,
    internal names prefixed."""
    g = _skl2onnx_model(pipeline).graph
    nodes = []
    for nd in g.node:
        nodes.append(nd)
        if nd.op_type == "TfIdfVectorizer":
            break
    else:
        raise RuntimeError("skl2onnx graph has no TfIdfVectorizer node")
    mode = next(a.s for a in nodes[-1].attribute if a.name == "mode")
    if mode != b"TF" or [n.op_type for n in nodes] != ["Tokenizer", "Flatten", "TfIdfVectorizer"]:
        raise RuntimeError(f"unexpected skl2onnx front: {[n.op_type for n in nodes]}, mode {mode!r}")
    used = {i for nd in nodes for i in nd.input}
    inits = [i for i in g.initializer if i.name in used]

    def rn(name: str) -> str:
        return name if name in ("", LEXICAL_INPUT) else _PREFIX + name

    for nd in nodes:
        nd.name = _PREFIX + (nd.name or nd.op_type)
        nd.input[:] = [rn(i) for i in nd.input]
        nd.output[:] = [rn(o) for o in nd.output]
    for i in inits:
        i.name = rn(i.name)
    return nodes, inits, nodes[-1].output[0]


def _sparse_tail(tf: str, vec, lr, n_labels: int):
    """Nodes + initializers from the raw counts ``tf`` [N, V] to ``probabilities`` [N, K].

    Per non-zero count c in row r, column j: v = 1 + log(c) (sublinear tf), x = v * idf[j];
    logits[r] = sum(v * W[j]) / ||x[r]|| + b  with W = idf * coef^T; probabilities = softmax(logits).
    Binary logistic regression (one coefficient row) becomes the logits [0, z], whose softmax is
    scikit-learn's [1 - sigmoid(z), sigmoid(z)].
    """
    from onnx import helper, numpy_helper

    f32 = np.float32
    coef = np.asarray(lr.coef_, dtype=np.float64)
    b = np.asarray(lr.intercept_, dtype=np.float64)
    if coef.shape[0] == 1 and n_labels == 2:
        coef = np.vstack([np.zeros_like(coef), coef])
        b = np.array([0.0, b[0]])
    if coef.shape != (n_labels, len(vec.idf_)):
        raise ValueError(f"logistic regression has coefficients {coef.shape}, expected ({n_labels}, {len(vec.idf_)})")
    if not (vec.norm == "l2" and vec.use_idf and vec.sublinear_tf):
        raise ValueError("the sparse tail implements norm='l2', use_idf=True, sublinear_tf=True only")

    def P(s: str) -> str:
        return _PREFIX + s

    consts = {"W": (vec.idf_[:, None] * coef.T).astype(f32), "idf": vec.idf_.astype(f32), "b": b.astype(f32),
              "one": np.array(1, f32), "zero": np.array(0, f32), "i0": np.array([0], np.int64),
              "i1": np.array([1], np.int64), "K": np.array([n_labels], np.int64),
              "tileK": np.array([1, n_labels], np.int64)}
    init = [numpy_helper.from_array(v, P(k)) for k, v in consts.items()]
    zero_f = numpy_helper.from_array(np.array([0], f32))
    spec = [  # (op, inputs, outputs, attributes); names without the prefix
        ("NonZero", [tf], ["nz"], {}),                                  # [2, nnz]
        ("Transpose", ["nz"], ["nzT"], {"perm": [1, 0]}),               # [nnz, 2]
        ("GatherND", [tf, "nzT"], ["cnt"], {}),                         # [nnz] counts
        ("Gather", ["nz", "i0"], ["rows2"], {"axis": 0}),               # [1, nnz]
        ("Gather", ["nz", "i1"], ["cols2"], {"axis": 0}),
        ("Squeeze", ["rows2", "i0"], ["rows"], {}),                     # [nnz]
        ("Squeeze", ["cols2", "i0"], ["cols"], {}),
        ("Log", ["cnt"], ["lg"], {}),                                   # sublinear tf: 1 + log(c), c > 0 here
        ("Add", ["lg", "one"], ["v"], {}),
        ("Gather", ["idf", "cols"], ["idfv"], {"axis": 0}),
        ("Mul", ["v", "idfv"], ["x"], {}),                              # tf-idf values before L2
        ("Mul", ["x", "x"], ["x2"], {}),
        ("Gather", ["W", "cols"], ["Wr"], {"axis": 0}),                 # [nnz, K]
        ("Unsqueeze", ["v", "i1"], ["v2"], {}),
        ("Mul", ["Wr", "v2"], ["contrib"], {}),
        ("Shape", [LEXICAL_INPUT], ["shp"], {}),
        ("Slice", ["shp", "i0", "i1"], ["N"], {}),
        ("Concat", ["N", "K"], ["NK"], {"axis": 0}),
        ("Concat", ["N", "i1"], ["N1"], {"axis": 0}),
        ("ConstantOfShape", ["NK"], ["zNK"], {"value": zero_f}),
        ("ConstantOfShape", ["N1"], ["zN1"], {"value": zero_f}),
        ("Unsqueeze", ["rows", "i1"], ["r2"], {}),                      # [nnz, 1]
        ("Tile", ["r2", "tileK"], ["rK"], {}),                          # [nnz, K]
        ("ScatterElements", ["zNK", "rK", "contrib"], ["raw"], {"axis": 0, "reduction": "add"}),
        ("Unsqueeze", ["x2", "i1"], ["x2c"], {}),
        ("ScatterElements", ["zN1", "r2", "x2c"], ["n2"], {"axis": 0, "reduction": "add"}),
        ("Sqrt", ["n2"], ["nrm"], {}),
        ("Greater", ["nrm", "zero"], ["pos"], {}),
        ("Where", ["pos", "nrm", "one"], ["nrms"], {}),                 # a row without terms: norm 1
        ("Div", ["raw", "nrms"], ["lz"], {}),
        ("Add", ["lz", "b"], ["logits"], {}),
        ("Softmax", ["logits"], [LEXICAL_OUTPUT], {"axis": -1}),
    ]
    keep = {tf, LEXICAL_INPUT, LEXICAL_OUTPUT}

    def rn(name: str) -> str:
        return name if name in keep else P(name)

    nodes = [helper.make_node(op, [rn(i) for i in ins], [rn(o) for o in outs], name=P(f"{op}_{k}"), **attrs)
             for k, (op, ins, outs, attrs) in enumerate(spec)]
    return nodes, init


def build_onnx(pipeline, n_labels: int):
    """The serving graph of a fitted Pipeline(TfidfVectorizer, LogisticRegression) as a checked
    ``onnx.ModelProto`` (input ``text`` [N, 1] string, output ``probabilities`` [N, K] float32)."""
    import onnx
    from onnx import TensorProto, helper

    vec, lr = pipeline[0], pipeline[-1]
    if [int(c) for c in lr.classes_] != list(range(n_labels)):
        raise ValueError(f"the logistic regression's classes {list(lr.classes_)} are not 0..{n_labels - 1}")
    front, front_init, tf = _front(pipeline)
    tail, tail_init = _sparse_tail(tf, vec, lr, n_labels)
    graph = helper.make_graph(
        front + tail, "lexical_tfidf_lr",
        [helper.make_tensor_value_info(LEXICAL_INPUT, TensorProto.STRING, [None, 1])],
        [helper.make_tensor_value_info(LEXICAL_OUTPUT, TensorProto.FLOAT, [None, n_labels])],
        initializer=front_init + tail_init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET),
                                                    helper.make_opsetid("com.microsoft", 1)],
                              ir_version=ONNX_IR_VERSION, producer_name=PRODUCER)
    onnx.checker.check_model(model)
    return model


# ------------------------------------------------------------------------------------------ serving
def _session(path: str | os.PathLike):
    from triage_app.engine import ort_session

    return ort_session(str(path), ["CPUExecutionProvider"], threads=1, quiet=True)


def onnx_proba(path: str | os.PathLike, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Probabilities from the ONNX file with ONNX Runtime's CPU provider, float32 [N, K]."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    sess = _session(path)
    k = sess.get_outputs()[0].shape[-1]
    texts = list(texts)
    if not texts:
        return np.zeros((0, int(k)), dtype=np.float32)
    out = []
    for i in range(0, len(texts), batch_size):
        batch = np.array(texts[i:i + batch_size], dtype=object).reshape(-1, 1)
        out.append(sess.run([LEXICAL_OUTPUT], {LEXICAL_INPUT: batch})[0])
    return np.concatenate(out, axis=0).astype(np.float32, copy=False)


def parity(model: LexicalModel, path: str | os.PathLike, texts: Sequence[str]) -> dict:
    """ONNX (``path``) against scikit-learn (``model``) on ``texts``: rows, max |p_onnx - p_sklearn|
    over rows and classes, and the share of rows with the same top class (0 rows: 0.0 and 1.0)."""
    texts = list(texts)
    p_sk = model.predict_proba(texts)
    p_ox = onnx_proba(path, texts)
    if not texts:
        return {"rows": 0, "max_abs_diff": 0.0, "top1_agreement": 1.0}
    return {"rows": len(texts), "max_abs_diff": float(np.max(np.abs(p_ox.astype(np.float64) - p_sk))),
            "top1_agreement": float(np.mean(p_ox.argmax(1) == p_sk.argmax(1)))}
