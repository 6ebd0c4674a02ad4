"""``python -m ltt_ext.hub``: the same as the ``ltt-tutor-service`` command."""

from .app import main

main()
