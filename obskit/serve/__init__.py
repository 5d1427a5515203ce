"""``obskit serve``: an embedded trace backend for laptops and CI.

OTLP/HTTP in (``POST /v1/traces``), a durable SQLite store, and Jaeger's query API out, so
``obskit analyze --jaeger http://127.0.0.1:16686`` works without Jaeger.
"""

from obskit.serve.server import Backend, ServeConfig

__all__ = ["Backend", "ServeConfig"]
