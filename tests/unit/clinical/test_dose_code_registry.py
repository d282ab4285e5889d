"""Every alert code written in the engine's source is registered (and so has a stable severity)."""

from __future__ import annotations

import re
from pathlib import Path

import igflow.clinical
from igflow.clinical import ALERT_CODES


def test_codes_in_source_are_registered() -> None:
    folder = Path(igflow.clinical.__file__).parent
    used: set[str] = set()
    for path in folder.glob("*.py"):
        used.update(re.findall(r'Alert\.make\(\s*"([a-z_]+)"', path.read_text()))
    assert used, "no Alert.make calls found"
    assert used <= set(ALERT_CODES)
    assert set(ALERT_CODES) <= used, f"registered but never emitted: {set(ALERT_CODES) - used}"
