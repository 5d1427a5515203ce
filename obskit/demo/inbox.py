"""A webhook receiver for Alertmanager's notifications, in a thread of the demo."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 1 << 20


class AlertInbox:
    """Collects Alertmanager webhook payloads (``version: 4``) posted to ``url``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.payloads: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self.send_response(413)
                    self.end_headers()
                    return
                try:
                    payload = json.loads(self.rfile.read(length))
                except ValueError:
                    self.send_response(400)
                    self.end_headers()
                    return
                with inbox._lock:
                    inbox.payloads.append(payload)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/alerts"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def ever_fired(self, alertname: str) -> bool:
        """Whether a notification ever said ``alertname`` was firing (it may have resolved
        since: a queue backlog drains once the traffic stops)."""
        with self._lock:
            payloads = list(self.payloads)
        return any(
            alert.get("status") == "firing"
            and alert.get("labels", {}).get("alertname") == alertname
            for payload in payloads
            for alert in payload.get("alerts", [])
        )

    def firing(self) -> dict[str, dict[str, Any]]:
        """The latest firing alert per alertname+service (labels and annotations)."""
        found: dict[str, dict[str, Any]] = {}
        with self._lock:
            payloads = list(self.payloads)
        for payload in payloads:
            for alert in payload.get("alerts", []):
                labels = alert.get("labels", {})
                key = f"{labels.get('alertname')}/{labels.get('service', '')}"
                if alert.get("status") == "firing":
                    found[key] = alert
                else:
                    found.pop(key, None)
        return found
