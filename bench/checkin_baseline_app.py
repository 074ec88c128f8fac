"""The baseline for bench_checkin_endpoint: the least a FastAPI check-in POST can be.

The same route and body as ``POST /api/checkins`` (a JSON body read into a pydantic
model, a small JSON answer), served by the same uvicorn settings, with no store, no
token check and no plan behind it: what the framework, uvicorn and the load generator
cost on their own.
"""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Answer(BaseModel):
    token: str
    status: str
    note: str = ""


class Recorded(BaseModel):
    status: str
    outcome: str


@app.post("/api/checkins")
async def checkin(body: Answer) -> Recorded:
    return Recorded(status=body.status, outcome="recorded")
