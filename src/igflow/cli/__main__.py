"""``python -m igflow.cli``: the same command line as ``igflow``."""

from igflow.cli import app

app()
