"""The `spark:` section of `shopflow.yml`: where Spark runs for tables with `engine: spark`.

```yaml
spark:
  master: local[*]            # default; spark://host:7077 for a standalone cluster, sc://host:15002 for Spark Connect
  conf:                       # passed to the SparkSession as they are
    spark.driver.memory: 4g
```
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from shopflow.config.base import StrictModel

_MASTER = re.compile(r"^(local(\[(\*|\d+)(,\d+)?\])?|spark://.+|sc://.+|yarn|k8s://.+)$")


class SparkConfig(StrictModel):
    """How shopflow reaches Spark: the master URL, the application name and Spark settings."""

    master: str = Field("local[*]", description="local[*], local[N], spark://host:port, sc://host:port, yarn, k8s://...")
    app_name: str = Field("shopflow", description="the Spark application's name")
    conf: dict[str, str] = Field(default_factory=dict, description="Spark settings, e.g. spark.driver.memory: 4g")

    @field_validator("master")
    @classmethod
    def _known_master(cls, value: str) -> str:
        if not _MASTER.match(value.strip()):
            raise ValueError(
                f"master {value!r} is not a Spark master URL; use local[*], local[N], spark://host:port, "
                "sc://host:port (Spark Connect), yarn or k8s://..."
            )
        return value.strip()

    @field_validator("conf", mode="before")
    @classmethod
    def _text_values(cls, value: object) -> object:
        # YAML reads `spark.sql.shuffle.partitions: 4` as a number and `...enabled: true` as a bool;
        # Spark takes every setting as text.
        if isinstance(value, dict):
            return {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()}
        return value

    @property
    def is_connect(self) -> bool:
        """True for a Spark Connect master (`sc://`)."""
        return self.master.startswith("sc://")
