"""``bizdomain plan``: the operator's own planner and decide step, run on a proposed change.

Called by :mod:`bizdomain.cli`. Pure parts (load, world, state, changes, diff, danger, render)
over two readers (host, live) that only ever GET. See :mod:`bizdomain.preview.command`.
"""

from bizdomain.preview.command import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, add_parser, run

__all__ = ["EXIT_CHANGES", "EXIT_ERROR", "EXIT_OK", "add_parser", "run"]
