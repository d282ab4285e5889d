"""The marker for words a patient reads that Python writes (no dependency: any layer may use it).

``N_("to move an appointment")`` returns the English unchanged; ``pybabel extract`` (babel.cfg) finds it,
and the page translates it where it is shown (``_(words)`` in the template). See igflow.web.i18n.
"""

from __future__ import annotations


def N_(message: str) -> str:
    return message
