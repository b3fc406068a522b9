"""``python -m trioweb serve MODULE:APP --host H --port P``."""

from .cli import main

main()
