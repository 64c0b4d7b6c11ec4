"""Which backing services this process currently finds unavailable, logged once per change of state.

During an outage every request that needs the database (or the queue) fails the same way; a traceback per request
would bury the log (hundreds in a 20-second database restart). So a failure marks the part ``down`` (one warning:
"the database is unavailable"), and the first success after it marks it ``up`` again (one warning: "the database is
back"). The database is seen back when a connection is checked out again (:mod:`shipml.core.db`), the queue when a
message is written again (:mod:`shipml.core.jobs`).
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)

DATABASE, QUEUE, SERVICE = "database", "queue", "backing service"


class Outages:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._since: dict[str, float] = {}

    def down(self, part: str, cause: BaseException | None = None) -> None:
        """``part`` failed: logged (without a traceback) only if it was up until now."""
        with self._lock:
            if part in self._since:
                return
            self._since[part] = time.monotonic()
        reason = f" ({type(cause).__name__})" if cause is not None else ""
        log.warning("the %s is unavailable%s: answering 503 with Retry-After until it is back", part, reason)

    def up(self, part: str) -> None:
        """``part`` works: logged only if it was down (a dictionary lookup otherwise, cheap on every success)."""
        if part not in self._since:
            return
        with self._lock:
            since = self._since.pop(part, None)
        if since is not None:
            log.warning("the %s is back after %.1f s", part, time.monotonic() - since)

    def is_down(self, part: str) -> bool:
        return part in self._since


outages = Outages()
