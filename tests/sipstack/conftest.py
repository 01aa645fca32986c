"""Lets the FSM tests import `transaction_support`, the helpers they share, as a
top-level module: pytest runs with --import-mode=importlib and tests/ has no packages,
so this folder is not on sys.path by itself."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
