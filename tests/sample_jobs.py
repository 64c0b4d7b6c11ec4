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


def square_many(contexts: list[jobs.JobContext]) -> list[object]:
    """The batch form: one call for the whole batch; a negative input fails its own job only."""
    return [ValueError(f"{c.params['x']} is negative") if c.params["x"] < 0
            else {"square": c.params["x"] ** 2, "batch": len(contexts)} for c in contexts]


@jobs.job("test", "square", many=square_many)
def square(ctx: jobs.JobContext, x: int) -> dict[str, int]:
    if x < 0:
        raise ValueError(f"{x} is negative")
    return {"square": x * x, "batch": 1}
