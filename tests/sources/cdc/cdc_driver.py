"""Run one change data capture extraction in its own process (for the kill -9 tests).

Usage: python cdc_driver.py '<json: url, slot, tables, lake>'
"""

from __future__ import annotations

import json
import sys

from shopflow.config.model import PipelineConfig
from shopflow.engine import connect
from shopflow.pipeline.extract_cdc import extract_cdc
from shopflow.sources.cdc.settings import CdcSettings, CdcTable


def main() -> None:
    args = json.loads(sys.argv[1])
    settings = CdcSettings(url=args["url"], slot=args["slot"], publication=args["slot"],
                           tables=tuple(CdcTable.parse(t) for t in args["tables"]))
    config = PipelineConfig(pipeline="cdc", lake=args["lake"], sources=[])
    extract_cdc(connect(), config, "shop", settings, "driver")


if __name__ == "__main__":
    main()
