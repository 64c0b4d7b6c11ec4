"""Jobs used by the core tests, loaded into a real worker with ``shipml worker --import sample_jobs``."""

import time

from shipml.core import jobs


@jobs.job("test", "sleep")
def sleep(ctx: jobs.JobContext, seconds: float = 1.0, steps: int = 10) -> dict[str, float]:
    for i in range(steps):
        time.sleep(seconds / steps)
        ctx.progress((i + 1) / steps, f"step {i + 1} of {steps}")
    return {"slept": seconds}


@jobs.job("test", "boom")
def boom(ctx: jobs.JobContext) -> None:
    raise ValueError("the input had no rows")
