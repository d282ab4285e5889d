"""Application logging: route templates and status codes only, never patient data."""

from __future__ import annotations

import logging


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # uvicorn's access log prints full paths with query strings (names, MRNs, dates of birth):
    # it is switched off and igflow's own middleware logs the route template instead.
    logging.getLogger("uvicorn.access").disabled = True
