"""The Spark session factory runs a real (local[*]) job, and a grouped pandas UDF gives the numpy answer."""

import numpy as np
import pandas as pd

from shipml.core import spark


def test_a_grouped_job_on_local_spark_matches_numpy():
    session = spark.session("shipml-test")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"key": rng.integers(0, 5, 200).astype(str), "value": rng.normal(size=200)})

    def per_group(group: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"key": [group["key"].iloc[0]], "total": [group["value"].sum()]})

    result = (session.createDataFrame(frame).groupBy("key").applyInPandas(per_group, "key string, total double")
              .toPandas().set_index("key")["total"].sort_index())
    expected = frame.groupby("key")["value"].sum().sort_index()
    assert np.allclose(result.to_numpy(), expected.to_numpy())
    assert session.sparkContext.master.startswith("local")
