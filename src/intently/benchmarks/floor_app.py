"""The HTTP floor: the least a Segment-compatible endpoint can do, as a FastAPI app on the same
uvicorn settings as `intently serve`: decode the body with msgspec, append the events as
received to SQLite in WAL mode with fsync on commit, answer; a batch (`/v1/batch`) or one event
(`/v1/track` and the other calls, as a browser sends them). No auth, no validation beyond the
decode, no pipeline, one commit per request.
`python -m intently.benchmarks.floor_app --port N --db PATH`."""

from __future__ import annotations

import argparse
import sqlite3
import threading
from typing import Any

import msgspec
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response


class _Batch(msgspec.Struct):
    batch: list[msgspec.Raw]


def build(db_path: str) -> FastAPI:
    db = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute("CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, payload BLOB)")
    lock = threading.Lock()
    decode = msgspec.json.Decoder(_Batch).decode
    app = FastAPI()

    def append(rows: list[msgspec.Raw] | list[bytes]) -> None:
        with lock:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT INTO events (payload) VALUES (?)",
                           [(bytes(r),) for r in rows])
            db.execute("COMMIT")

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"ok": True}

    @app.post("/v1/batch")
    async def batch(request: Request) -> Response:
        body = decode(await request.body())
        await run_in_threadpool(append, body.batch)
        return Response(b'{"success":true,"accepted":%d}' % len(body.batch),
                        media_type="application/json")

    @app.post("/v1/{kind}")
    async def one(request: Request, kind: str) -> Response:  # one event, as a browser sends
        body = await request.body()
        if not isinstance(msgspec.json.decode(body), dict):
            return Response(b'{"success":false}', status_code=400)
        await run_in_threadpool(append, [body])
        return Response(b'{"success":true,"accepted":1}', media_type="application/json")

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True)
    args = parser.parse_args()
    uvicorn.run(build(args.db), host="127.0.0.1", port=args.port, log_level="warning",
                access_log=False, http="httptools", timeout_graceful_shutdown=10)


if __name__ == "__main__":
    main()
