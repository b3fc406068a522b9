"""``python -m trioweb``: the ``trioweb`` command (see trioweb.cli), e.g. ``python -m trioweb serve MODULE:APP``."""

from .cli import main

main()
