"""``python -m triage_app.cli``: the same as ``triage``."""
import sys

from triage_app.cli import main

sys.exit(main())
