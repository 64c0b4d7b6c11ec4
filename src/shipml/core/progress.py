"""Progress reporting for long work: ``progress(fraction 0–1, message)``.

The CLI passes a rich progress bar, a job passes :meth:`shipml.core.jobs.JobContext.progress`, and code
called from elsewhere gets :func:`no_progress`.
"""

from collections.abc import Callable

Progress = Callable[[float, str], None]


def no_progress(_fraction: float, _message: str) -> None:
    """Report nothing."""
    return None
