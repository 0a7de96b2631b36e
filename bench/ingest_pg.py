"""The competitor of bench/ingest.py: a plain FastAPI endpoint inserting each request's events into PostgreSQL.

    python bench/ingest_pg.py --port 8790 --dsn postgresql://postgres@127.0.0.1:5432/DB

`POST /v1/events/{stream}` checks the bearer token, validates each NDJSON line with a pydantic
model and inserts the lines in one transaction (psycopg 3 `executemany`, from a pool of 16
connections); it answers only after COMMIT, which PostgreSQL makes durable (synchronous_commit
on: the WAL is flushed, commits of concurrent requests share a flush). Served by uvicorn with
uvloop and httptools, one process, like `shopflow ingest`.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import psycopg
from fastapi import FastAPI, Header, HTTPException, Request  # at module level: FastAPI resolves the annotations
from pydantic import BaseModel, ValidationError

TOKEN = "bench-token"
POOL = 16
TABLE_SQL = (
    "CREATE TABLE IF NOT EXISTS lines (id bigserial PRIMARY KEY, store integer NOT NULL, invoice text NOT NULL, "
    "line integer NOT NULL, qty integer, price numeric(10,2), sent_at double precision)"
)
INSERT_SQL = "INSERT INTO lines (store, invoice, line, qty, price, sent_at) VALUES (%s, %s, %s, %s, %s, %s)"


class Line(BaseModel):
    """One invoice line, as the endpoint validates it."""

    store: int
    invoice: str
    line: int
    qty: int | None = None
    price: Decimal | None = None
    sent_at: float | None = None


def build(dsn: str) -> Any:
    """The FastAPI app, its connection pool opened at start-up."""
    pool: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        for _ in range(POOL):
            pool.put_nowait(await psycopg.AsyncConnection.connect(dsn))
        yield
        while not pool.empty():
            await pool.get_nowait().close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/events/{stream}")
    async def post(stream: str, request: Request, authorization: str = Header("")) -> dict[str, int]:
        if authorization != f"Bearer {TOKEN}":
            raise HTTPException(401, "a valid token is needed")
        body = await request.body()
        try:
            events = [Line.model_validate_json(line) for line in body.splitlines() if line.strip()]
        except ValidationError as exc:
            raise HTTPException(422, str(exc)) from None
        con = await pool.get()
        try:
            async with con.transaction(), con.cursor() as cur:
                await cur.executemany(
                    INSERT_SQL, [(e.store, e.invoice, e.line, e.qty, e.price, e.sent_at) for e in events]
                )
        finally:
            pool.put_nowait(con)
        return {"accepted": len(events)}

    return app


def main() -> None:
    """Serve the competitor until killed."""
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dsn", required=True)
    args = parser.parse_args()
    with psycopg.connect(args.dsn, autocommit=True) as con:
        con.execute(TABLE_SQL)
    uvicorn.run(
        build(args.dsn),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        loop="uvloop",
        http="httptools",
        access_log=False,
    )


if __name__ == "__main__":
    main()
