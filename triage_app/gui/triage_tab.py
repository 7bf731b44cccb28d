"""Triage tab: classify one ticket, see why, correct it."""
from __future__ import annotations

import json
import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from triage_app.gui.triage_targets import TargetResults, refresh_target_flags, set_badge, target_results
from triage_app.gui.widgets import ExplainView, TopKBars, muted_label, section_title, start_job


def review_state(confidence: float, threshold: float, flag: str) -> dict:
    """``needs_review`` and ``review_reason`` of a result: the unfamiliar-ticket ``flag`` first,
    else the confidence against the threshold."""
    from triage_app.engine import low_confidence_reason

    reason = flag or (low_confidence_reason(confidence, threshold) if confidence < threshold else "")
    return {"needs_review": bool(reason), "review_reason": reason}


class TriageTab(QWidget):
    classified = Signal(object)   # the result dict shown (after a Job finished)
    explained = Signal(str)       # a multi-target model: the picked target's explanation arrived

    def __init__(self, ctx, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.job = None
        self.result: dict | None = None
        self._build()
        ctx.modelChanged.connect(self._on_model)
        ctx.thresholdsChanged.connect(self._refresh_review_flag)
        self._on_model(ctx.classifier)

    # ---- UI ------------------------------------------------------------------------------------
    def _build(self):
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.setChildrenCollapsible(False)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 10, 10, 10)
        lay.addWidget(split)
        self.splitter = split

        # left: input + history
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 6, 0)
        box = QGroupBox("Ticket")
        form = QFormLayout(box)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.title_edit = QLineEdit()
        self.title_edit.setPlaceholderText("e.g. Cannot connect to VPN")
        self.body_edit = QPlainTextEdit()
        self.body_edit.setPlaceholderText("Paste the ticket description here…")
        self.body_edit.setTabChangesFocus(True)
        self.title_label = QLabel("Title")
        self.body_label = QLabel("Body")
        form.addRow(self.title_label, self.title_edit)
        form.addRow(self.body_label, self.body_edit)
        self.single_check = QCheckBox("One text field (no separate title)")
        self.single_check.toggled.connect(self._toggle_single)
        form.addRow("", self.single_check)
        btns = QHBoxLayout()
        self.classify_btn = QPushButton("Classify")
        self.classify_btn.setObjectName("primary")
        self.classify_btn.setToolTip("Classify this ticket (Ctrl+Enter)")
        self.classify_btn.clicked.connect(self.classify)
        self.clear_btn = QPushButton("Clear")
        self.clear_btn.clicked.connect(self.clear_input)
        btns.addWidget(self.classify_btn)
        btns.addWidget(self.clear_btn)
        btns.addStretch(1)
        btns.addWidget(muted_label("Ctrl+Enter", wrap=False))
        form.addRow(btns)
        ll.addWidget(box, 3)

        hist = QGroupBox("Session history")
        hl = QVBoxLayout(hist)
        self.history = QListWidget()
        self.history.setAlternatingRowColors(True)
        self.history.itemClicked.connect(self._history_clicked)
        self.history.setToolTip("Click an entry to show that ticket and its result again")
        hl.addWidget(self.history)
        ll.addWidget(hist, 2)
        split.addWidget(left)

        # right: result
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(6, 0, 0, 0)
        res = QGroupBox("Result")
        gl = QVBoxLayout(res)
        top = QHBoxLayout()
        self.label_view = QLabel("—")
        self.label_view.setObjectName("headline")
        self.label_view.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.badge = QLabel("")
        self.badge.hide()
        top.addWidget(self.label_view)
        top.addSpacing(10)
        top.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignVCenter)
        top.addStretch(1)
        self.copy_btn = QToolButton()
        self.copy_btn.setText("Copy result")
        self.copy_btn.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.copy_btn.clicked.connect(lambda: self.copy_result("json"))
        menu = QMenu(self.copy_btn)
        menu.addAction("Copy as JSON", lambda: self.copy_result("json"))
        menu.addAction("Copy as plain text", lambda: self.copy_result("text"))
        self.copy_btn.setMenu(menu)
        self.copy_btn.setEnabled(False)
        top.addWidget(self.copy_btn, 0, Qt.AlignmentFlag.AlignTop)
        gl.addLayout(top)
        self.conf_view = muted_label("Paste a ticket on the left and press Classify.")
        gl.addWidget(self.conf_view)
        gl.addSpacing(4)
        self.top_title = section_title("Top suggestions")
        gl.addWidget(self.top_title)
        self.bars = TopKBars()
        gl.addWidget(self.bars)
        self.target_results = TargetResults()      # a multi-target model: one block per target
        self.target_results.hide()
        gl.addWidget(self.target_results)
        gl.addSpacing(4)
        why = QHBoxLayout()
        why.addWidget(section_title("Why: words for (green) and against (red) the prediction"), 1)
        self.target_label = QLabel("Target:")
        self.target_combo = QComboBox()             # which target the explanation and correction are for
        self.target_combo.setToolTip("The target whose explanation is shown and whose label you correct")
        self.target_combo.currentTextChanged.connect(self._on_target_picked)
        why.addWidget(self.target_label)
        why.addWidget(self.target_combo)
        self.target_label.hide()
        self.target_combo.hide()
        gl.addLayout(why)
        self.explain_view = ExplainView()
        self.explain_view.setMinimumHeight(90)
        gl.addWidget(self.explain_view, 1)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        gl.addWidget(line)
        corr = QHBoxLayout()
        corr.addWidget(QLabel("Correct label:"))
        self.correct_combo = QComboBox()
        self.correct_combo.setMinimumContentsLength(18)
        self.correct_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        corr.addWidget(self.correct_combo, 1)
        self.save_corr_btn = QPushButton("Save correction")
        self.save_corr_btn.clicked.connect(self.save_correction)
        self.save_corr_btn.setEnabled(False)
        corr.addWidget(self.save_corr_btn)
        gl.addLayout(corr)
        self.corr_status = muted_label("")
        gl.addWidget(self.corr_status)
        rl.addWidget(res)
        split.addWidget(right)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setSizes([500, 740])

    def _toggle_single(self, single: bool):
        self.title_edit.setVisible(not single)
        self.title_label.setVisible(not single)
        self.body_label.setText("Text" if single else "Body")
        self.ctx.settings.setValue("triage/single_field", single)

    # ---- model ---------------------------------------------------------------------------------
    def _on_model(self, clf):
        self.correct_combo.clear()
        names = [t.name for t in clf.targets] if clf is not None else []
        self._set_target_mode(names)
        if clf is None:
            self.classify_btn.setEnabled(False)
            self.conf_view.setText("No model is active — import or activate one in the Models tab.")
            return
        self.classify_btn.setEnabled(True)
        self.correct_combo.addItems(self._picked_labels())
        if self.result:
            self._set_correct_default()

    def _set_target_mode(self, names: list[str]) -> None:
        """Show the per-target blocks and the target selector for a multi-target model, the single
        headline and bars otherwise."""
        multi = bool(names)
        self.target_results.set_targets(names)
        self.target_results.setVisible(multi)
        for w in (self.top_title, self.bars, self.label_view):
            w.setVisible(not multi)
        if multi:
            self.badge.hide()
        self.target_label.setVisible(multi)
        self.target_combo.setVisible(multi)
        self.target_combo.blockSignals(True)
        self.target_combo.clear()
        self.target_combo.addItems(names)
        self.target_combo.blockSignals(False)

    def picked_target(self) -> str | None:
        """The target the explanation and correction are for (None: a single-target model)."""
        clf = self.ctx.classifier
        return self.target_combo.currentText() or None if clf is not None and clf.targets else None

    def _picked_labels(self) -> list[str]:
        clf = self.ctx.classifier
        name = self.picked_target()
        return next(t.labels for t in clf.targets if t.name == name) if name else list(clf.labels)

    def _picked(self, r: dict) -> dict:
        """The picked target's part of a result (the result itself for a single-target model)."""
        name = self.picked_target()
        return r["targets"][name] if name and name in r.get("targets", {}) else r

    def _refresh_review_flag(self):
        clf = self.ctx.classifier
        if self.result is None or clf is None:
            return
        r = self.result
        if r.get("model_path") == str(clf.bundle.path):
            r["threshold"] = clf.threshold_for(r["label"])
            r.update(review_state(r["confidence"], r["threshold"], r.get("flag", "")))
            refresh_target_flags(r, clf)
            self._show_result(r, add_history=False)

    # ---- actions -------------------------------------------------------------------------------
    def ticket(self) -> dict:
        if self.single_check.isChecked():
            return {"text": self.body_edit.toPlainText()}
        return {"title": self.title_edit.text(), "body": self.body_edit.toPlainText()}

    def set_ticket(self, ticket: dict) -> None:
        single = "text" in ticket and not ("title" in ticket or "body" in ticket)
        self.single_check.setChecked(single)
        if single:
            self.body_edit.setPlainText(ticket.get("text") or "")
        else:
            self.title_edit.setText(ticket.get("title") or "")
            self.body_edit.setPlainText(ticket.get("body") or "")

    def clear_input(self):
        self.title_edit.clear()
        self.body_edit.clear()
        self.title_edit.setFocus()

    def classify(self):
        clf = self.ctx.classifier
        if clf is None:
            self.conf_view.setText("No model is active — import or activate one in the Models tab.")
            return None
        if self.job is not None and self.job.is_running():
            return self.job
        ticket = self.ticket()
        if not any(str(v).strip() for v in ticket.values()):
            self.clear_result()                   # never a message under the previous ticket's result
            self.conf_view.setText("Type or paste a ticket first.")
            return None
        k = min(5, len(clf.labels))
        target = self.picked_target()

        def work(emit, should_stop):
            t0 = time.perf_counter()
            targets = {}
            if clf.targets:                               # one pass for every target
                targets, flag = target_results(clf, ticket)
                p = targets[clf.targets[0].name]
                pred_label, pred_conf, top = p["label"], p["confidence"], p["top"]
            else:
                probs, reasons = clf.score([ticket])      # one pass: probabilities and the signal
                pred = clf.to_predictions(probs, top_k=k, keep_probs=True, reasons=reasons)[0]
                flag, pred_label, pred_conf, top = reasons[0], pred.label, pred.confidence, pred.top
            words = clf.explain(ticket, target=target)
            t = clf.threshold_for(pred_label)
            return {"ticket": ticket, "label": pred_label, "confidence": pred_conf, "top": top,
                    "threshold": t, "flag": flag, **review_state(pred_conf, t, flag),
                    "words": words, "words_by": {target: words} if target else {}, "targets": targets,
                    "model": clf.name, "model_version": clf.version,
                    "model_path": str(clf.bundle.path), "seconds": time.perf_counter() - t0}

        self.classify_btn.setEnabled(False)
        self.classify_btn.setText("Classifying…")
        self.job = start_job(self.ctx, self, "classify", work, "Classifying the ticket failed",
                             on_finished=self._on_result)
        if self.job is None:
            self._reset_button()
        else:
            self.job.failed.connect(self._reset_button)
            self.job.cancelled.connect(self._reset_button)
        return self.job

    def clear_result(self) -> None:
        """Show no result (the label, badge, bars and explanation of the last ticket go)."""
        self.result = None
        self.label_view.setText("—")
        self.label_view.setToolTip("")
        self.badge.hide()
        self.bars.set_data([])
        self.target_results.clear()
        self.explain_view.set_words([])
        self.copy_btn.setEnabled(False)
        self.save_corr_btn.setEnabled(False)
        self.corr_status.setText("")

    def _reset_button(self, *_):
        self.classify_btn.setText("Classify")
        self.classify_btn.setEnabled(self.ctx.classifier is not None)

    def _on_result(self, r: dict):
        self._reset_button()
        self._show_result(r, add_history=True)
        self.classified.emit(r)

    def _show_result(self, r: dict, add_history: bool):
        self.result = r
        self.label_view.setText(r["label"])
        clf = self.ctx.classifier
        about = clf.bundle.trained_on() if clf is not None and r.get("model_path") == str(clf.bundle.path) else ""
        self.label_view.setToolTip(f"{r['label']}\n\nModel {r['model']} v{r['model_version']}: {about}" if about
                                   else r["label"])
        reason = r.get("review_reason", "")
        why = f" · {reason}" if r.get("flag") else ""
        if r.get("targets"):
            self.target_results.show_result(r["targets"], r.get("flag", ""))
            self.conf_view.setText(f"{len(r['targets'])} targets · calibrated confidences{why} · model "
                                   f"{r['model']} v{r['model_version']} · {r['seconds'] * 1000:.0f} ms")
        else:
            set_badge(self.badge, r["needs_review"], r.get("flag", ""), reason, r["threshold"])
            self.conf_view.setText(f"Confidence {r['confidence']:.1%} (calibrated) · review threshold "
                                   f"{r['threshold']:.0%}{why} · model {r['model']} v{r['model_version']} · "
                                   f"{r['seconds'] * 1000:.0f} ms")
            self.bars.set_data(r["top"], r["threshold"])
        self._show_words()
        self.copy_btn.setEnabled(True)
        self.save_corr_btn.setEnabled(self.ctx.classifier is not None)
        self.corr_status.setText("")
        self._set_correct_default()
        if add_history:
            t = r["ticket"]
            head = (t.get("title") or t.get("body") or t.get("text") or "").strip().replace("\n", " ")
            item = QListWidgetItem(f"{r['label']}  ·  {r['confidence']:.0%}  ·  {head[:70]}")
            item.setData(Qt.ItemDataRole.UserRole, r)
            item.setToolTip(head[:400])
            self.history.insertItem(0, item)
            self.history.setCurrentRow(0)

    def _set_correct_default(self):
        if not self.result:
            return
        p = self._picked(self.result)
        i = self.correct_combo.findText(p["top"][1][0] if len(p["top"]) > 1 and p["needs_review"] else p["label"])
        if i >= 0:
            self.correct_combo.setCurrentIndex(i)

    # ---- several targets: the picked one's explanation and correction -------------------------------
    def _show_words(self) -> None:
        """The explanation of the picked target (computed in a job the first time it is picked)."""
        r = self.result
        name = self.picked_target()
        if r is None:
            return
        if not name or not r.get("targets"):
            self.explain_view.set_words(r["words"], r["label"], r["confidence"])
            return
        p = self._picked(r)
        words = r.setdefault("words_by", {}).get(name)
        if words is not None:
            self.explain_view.set_words(words, p["label"], p["confidence"])
            return
        self.explain_view.set_words([])
        clf, ticket = self.ctx.classifier, r["ticket"]

        def done(w, r=r, name=name):
            r["words_by"][name] = w
            if self.result is r and self.picked_target() == name:
                self._show_words()
            self.explained.emit(name)

        start_job(self.ctx, self, "explain", lambda emit, should_stop: clf.explain(ticket, target=name),
                  "Explaining the ticket failed", on_finished=done)

    def _on_target_picked(self, _name: str) -> None:
        clf = self.ctx.classifier
        if clf is None:
            return
        self.correct_combo.clear()
        self.correct_combo.addItems(self._picked_labels())
        if self.result and self.result.get("model_path") == str(clf.bundle.path):
            self._set_correct_default()
            self._show_words()

    def _history_clicked(self, item: QListWidgetItem):
        r = item.data(Qt.ItemDataRole.UserRole)
        if r:
            self.set_ticket(r["ticket"])
            self._show_result(r, add_history=False)

    def result_text(self, kind: str = "json") -> str:
        r = self.result
        if not r:
            return ""
        targets = r.get("targets") or {}
        if kind == "json":
            data = {"ticket": r["ticket"], "label": r["label"], "confidence": round(r["confidence"], 4),
                    "needs_review": r["needs_review"], "review_reason": r.get("review_reason", ""),
                    "top": [[a, round(b, 4)] for a, b in r["top"]],
                    "model": r["model"], "model_version": r["model_version"]}
            if targets:      # the same per-target fields as Prediction.as_dict
                data["targets"] = {n: {"label": t["label"], "confidence": round(t["confidence"], 4),
                                       "top": [[a, round(b, 4)] for a, b in t["top"]],
                                       "needs_review": t["needs_review"],
                                       "review_reason": t.get("review_reason", "")} for n, t in targets.items()}
            return json.dumps(data, ensure_ascii=False, indent=2)
        lines = []
        for name, t in (targets.items() if targets else [("", r)]):
            flag = f"  — needs review: {t.get('review_reason', '')}" if t["needs_review"] else ""
            lines.append(f"{name.capitalize() if name else 'Label'}: {t['label']} ({t['confidence']:.1%}){flag}")
            lines += [f"  {a}: {b:.1%}" for a, b in t["top"]]
        lines.append(f"Model: {r['model']} v{r['model_version']}")
        return "\n".join(lines)

    def copy_result(self, kind: str = "json"):
        text = self.result_text(kind)
        if text:
            QGuiApplication.clipboard().setText(text)
            self.corr_status.setText("Result copied to the clipboard.")

    def save_correction(self) -> bool:
        r = self.result
        if not r:
            return False
        corrected = self.correct_combo.currentText()
        t = r["ticket"]
        if "text" in t:
            text, fields = t["text"], {"text": t["text"]}
        else:
            title, body = t.get("title", ""), t.get("body", "")
            text = f"{title}. {body}" if title and body else (title or body)
            fields = {"title": title, "body": body}
        try:
            name, p = self.picked_target(), self._picked(r)
            primary = not name or name == self.ctx.classifier.targets[0].name   # primary: the model's label
            n = self.ctx.add_correction(text, fields, p["label"], p["confidence"], corrected, r["model_version"],
                                        None if primary else name)
        except (ValueError, OSError) as e:
            from triage_app.gui.widgets import show_error
            show_error(self, "The correction was not saved", str(e), "Check that the ticket has text.")
            return False
        self.corr_status.setText(f"Saved{f' ({name})' if name else ''}: {p['label']} → {corrected}. "
                                 f"{n} correction{'s' if n != 1 else ''} "
                                 "stored for the next training run.")
        return True
