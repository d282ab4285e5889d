"""Application logging: route templates and status codes only, never patient data."""

from __future__ import annotations

import logging


def exception_place(exc: BaseException) -> str:
    """``file.py:line`` of the innermost frame of an exception's traceback."""
    tb = exc.__traceback__
    where = ""
    while tb is not None:
        where = f"{tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


class WithholdExceptionText(logging.Filter):
    """Replaces a record's traceback by the exception's type and place.

    An exception's message and traceback may quote data (a SQL statement's parameters, a value that
    failed to parse): the server's "Exception in ASGI application" record would print them. igflow's
    own error handler already logs only type and place, with a reference the user sees.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage().strip()} ({type(exc).__name__} at {exception_place(exc)}; "
            record.msg += "message withheld)"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # uvicorn's access log prints full paths with query strings (names, MRNs, dates of birth):
    # it is switched off and igflow's own middleware logs the route template instead.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn.error", "uvicorn", "sqlalchemy"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, WithholdExceptionText) for f in logger.filters):
            logger.addFilter(WithholdExceptionText())
