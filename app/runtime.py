"""Process-wide settings of a long-running controlroom process."""

from __future__ import annotations

import gc


def quiet_gc() -> None:
    """Keeps the garbage collector's full passes short once the process has started.

    Everything imported and built at startup (FastAPI, SQLAlchemy, pydantic: a few
    hundred thousand objects) lives as long as the process; a full collection would
    walk all of it again each time, stalling the event loop for 50-75 ms (measured in
    serve under the Live-10 load), long enough to miss a console's latency target.
    Freezing moves them out of the collector's sight; what is made later is collected
    as usual.
    """
    gc.collect()
    gc.freeze()
