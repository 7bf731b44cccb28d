"""The Batch tab (napari-style package: one widget per module, ``tab`` wires them).

``tab``: :class:`BatchTab`, the state machine; ``file_panel``, ``columns_panel``, ``run_panel``:
the boxes on the left; ``results_view`` and ``accuracy_panel``: the Results page; ``jobs``: the
background work (plain functions, no widgets)."""
from triage_app.gui.batch.tab import BatchTab

__all__ = ["BatchTab"]
