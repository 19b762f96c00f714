"""Durable jobs on pgqueuer, in two layers.

``queue.py`` (putting work on the queue), ``retry.py`` (a handler asking to run again) and
``waiter.py`` (``Prefer: wait``) are primitives any feature may use: they import nothing of
the service above ``db/``. ``worker.py`` is the composition layer, beside ``app.py``: it
registers every feature's queue handler and background loop, and only ``app``, ``cli`` and
``mcp`` import it.
"""
