"""The baseline of the same run: a trivial FastAPI endpoint taking the same JSON body."""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

app = FastAPI()


class Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class Accepted(BaseModel):
    status: str


@app.post("/echo", status_code=202)
async def echo(body: Body) -> Accepted:
    return Accepted(status="accepted")


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        loop="uvloop",
        http="httptools",
        access_log=False,
    )
