"""Triage tab, several targets per ticket: one compact result block per target (label, calibrated
confidence, top-3 bars, review badge) and the plain-data helpers that build a result's ``targets``.

A single-target model never shows these widgets: the Triage tab then looks as it always did."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from triage_app.gui.widgets import TopKBars

BLOCK_TOP_K = 3


def target_results(clf, ticket: dict, top_k: int = BLOCK_TOP_K) -> tuple[dict, str]:
    """``({target: {label, confidence, top, threshold, needs_review, review_reason}}, flag)`` of one
    ticket for a multi-target classifier (one run of the model for every target; worker side)."""
    probs_by, reasons = clf.score_targets([ticket])
    pred = clf.to_target_predictions(probs_by, top_k=top_k, reasons=reasons)[0]
    out = {}
    for info in clf.targets:
        tp = pred.targets[info.name]
        out[info.name] = {"label": tp.label, "confidence": tp.confidence, "top": tp.top,
                          "threshold": info.class_thresholds.get(tp.label, info.review_threshold),
                          "needs_review": tp.needs_review, "review_reason": tp.review_reason}
    return out, reasons[0]


def refresh_target_flags(result: dict, clf) -> None:
    """Re-judge every target of ``result`` against ``clf``'s (possibly changed) thresholds."""
    from triage_app.targets import low_confidence_reason

    flag = result.get("flag", "")
    for info in clf.targets:
        t = result.get("targets", {}).get(info.name)
        if t is None:
            continue
        t["threshold"] = info.class_thresholds.get(t["label"], info.review_threshold)
        why = flag or (low_confidence_reason(t["confidence"], t["threshold"]) if t["confidence"] < t["threshold"]
                       else "")
        t["needs_review"], t["review_reason"] = bool(why), why


def set_badge(badge: QLabel, needs_review: bool, flag: str, reason: str, threshold: float) -> None:
    """The review badge of a result (the one look of it, shared with the single-target headline)."""
    if needs_review:
        badge.setObjectName("badgeReview")
        badge.setText("Needs review" + (f" · {flag.split(' (')[0]}" if flag else ""))
        badge.setToolTip(f"Needs review: {reason}" if flag else
                         f"Confidence below the review threshold of {threshold:.0%}")
    else:
        badge.setObjectName("badgeOk")
        badge.setText("Auto-route")
        badge.setToolTip(f"Confidence at or above the review threshold of {threshold:.0%}")
    badge.style().unpolish(badge)
    badge.style().polish(badge)
    badge.show()


class TargetBlock(QFrame):
    """One target's result: ``name: label  confidence  [badge]`` over its top-3 bars."""

    def __init__(self, name: str, parent=None):
        super().__init__(parent)
        self.name = name
        self.setObjectName("targetBlock")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 4)
        lay.setSpacing(2)
        head = QHBoxLayout()
        self.name_view = QLabel(f"{name}:")
        self.name_view.setStyleSheet("font-weight: 600;")
        self.label_view = QLabel("—")
        self.label_view.setObjectName("targetLabel")
        self.label_view.setStyleSheet("font-weight: 700; font-size: 13pt;")
        self.label_view.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.conf_view = QLabel("")
        self.badge = QLabel("")
        self.badge.hide()
        head.addWidget(self.name_view)
        head.addWidget(self.label_view)
        head.addSpacing(8)
        head.addWidget(self.conf_view)
        head.addStretch(1)
        head.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignVCenter)
        lay.addLayout(head)
        self.bars = TopKBars()
        lay.addWidget(self.bars)

    def show_result(self, t: dict, flag: str = "") -> None:
        self.label_view.setText(t["label"])
        self.conf_view.setText(f"{t['confidence']:.1%} · threshold {t['threshold']:.0%}")
        self.conf_view.setToolTip("Calibrated confidence of this target and its review threshold")
        set_badge(self.badge, t["needs_review"], flag, t.get("review_reason", ""), t["threshold"])
        self.bars.set_data(t["top"], t["threshold"])

    def clear(self) -> None:
        self.label_view.setText("—")
        self.conf_view.setText("")
        self.badge.hide()
        self.bars.set_data([])


class TargetResults(QWidget):
    """The blocks of a multi-target model, in target order (rebuilt when the model changes)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.blocks: dict[str, TargetBlock] = {}
        self._lay = QVBoxLayout(self)
        self._lay.setContentsMargins(0, 0, 0, 0)
        self._lay.setSpacing(4)

    def set_targets(self, names: list[str]) -> None:
        if list(self.blocks) == list(names):
            return
        for b in self.blocks.values():
            self._lay.removeWidget(b)
            b.deleteLater()
        self.blocks = {n: TargetBlock(n, self) for n in names}
        for b in self.blocks.values():
            self._lay.addWidget(b)
        self.setVisible(bool(names))

    def show_result(self, targets: dict, flag: str = "") -> None:
        for name, block in self.blocks.items():
            if name in targets:
                block.show_result(targets[name], flag)
            else:
                block.clear()

    def clear(self) -> None:
        for b in self.blocks.values():
            b.clear()
