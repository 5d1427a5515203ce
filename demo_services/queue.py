"""The order e-mails' queue on RabbitMQ: checkout publishes one message per paid order, the
mailer service consumes them. pika's connections are not thread-safe: each publishing thread
has its own. The pika instrumentation adds the trace context to each message's headers, so
the consumer's span joins the order's trace (and the analysis knows not to wait for it)."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Any

from demo_services.backends import AMQP_ENV

QUEUE = "order-emails"
log = logging.getLogger("queue")
_local = threading.local()


def amqp_url() -> str | None:
    return os.environ.get(AMQP_ENV) or None


def connect(url: str) -> Any:
    import pika

    return pika.BlockingConnection(pika.URLParameters(url))


def declare(channel: Any) -> None:
    channel.queue_declare(queue=QUEUE, durable=True)


def publish(url: str, message: dict[str, Any]) -> None:
    """Publish ``message`` on this thread's channel, reconnecting once if it was closed."""
    import pika

    from demo_services.metrics import PUBLISHED

    body = json.dumps({**message, "published_at": time.time()}).encode()
    for attempt in (1, 2):
        try:
            channel = getattr(_local, "channel", None)
            if channel is None or channel.is_closed:
                _local.connection = connect(url)
                _local.channel = channel = _local.connection.channel()
                declare(channel)
            channel.basic_publish(exchange="", routing_key=QUEUE, body=body,
                                  properties=pika.BasicProperties(content_type="application/json",
                                                                  delivery_mode=2))  # fmt: skip
            PUBLISHED.labels(QUEUE).inc()
            return
        except pika.exceptions.AMQPError:
            _local.channel = None
            if attempt == 2:
                raise
