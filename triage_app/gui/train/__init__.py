"""The Train tab (napari-style package: one widget per module, ``tab`` wires them).

Importing this package imports matplotlib (the plots), so the main window imports it only when
the tab is first opened."""
from triage_app.gui.train.tab import TrainTab

__all__ = ["TrainTab"]
