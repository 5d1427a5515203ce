"""``/chain`` calls ``/hello`` of the same site with requests."""

import os

import requests
from django.http import JsonResponse

SELF = f"http://127.0.0.1:{os.environ['APP_PORT']}"


def hello(request):
    return JsonResponse({"hello": "world"})


def chain(request):
    answer = requests.get(f"{SELF}/hello", timeout=10)
    return JsonResponse({"downstream": answer.json()})
