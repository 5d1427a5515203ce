"""A FastAPI app that calls itself: ``/chain`` with httpx, ``/chain-aiohttp`` with aiohttp."""

import os

import aiohttp
import httpx
from fastapi import FastAPI

app = FastAPI()
SELF = f"http://127.0.0.1:{os.environ['APP_PORT']}"
# one client for the app's life, as services do: a client per call would build a TLS context
# (the CA bundle read and parsed) on every request
client = httpx.AsyncClient()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


@app.get("/chain")
async def chain() -> dict[str, object]:
    answer = await client.get(f"{SELF}/hello")
    return {"downstream": answer.json()}


@app.get("/chain-aiohttp")
async def chain_aiohttp() -> dict[str, object]:
    async with aiohttp.ClientSession() as session, session.get(f"{SELF}/hello") as answer:
        return {"downstream": await answer.json()}
