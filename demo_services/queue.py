"""The order e-mails' queue on RabbitMQ: checkout publishes one message per paid order, the
mailer service consumes them. pika's connections are not thread-safe: the publishing threads
share one connection, one publish at a time (a publish takes about a millisecond), so only
the first order pays for connecting. The pika instrumentation adds the trace context to each
message's headers, so the consumer's span joins the order's trace (and the analysis knows not
to wait for it)."""

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
_publisher: dict[str, Any] = {}  # "connection", "channel"
_publishing = threading.Lock()


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
    properties = pika.BasicProperties(content_type="application/json", delivery_mode=2)
    with _publishing:
        for attempt in (1, 2):
            try:
                channel = _publisher.get("channel")
                if channel is None or channel.is_closed:
                    _publisher["connection"] = connect(url)
                    _publisher["channel"] = channel = _publisher["connection"].channel()
                    declare(channel)
                channel.basic_publish(exchange="", routing_key=QUEUE, body=body,
                                      properties=properties)  # fmt: skip
                PUBLISHED.labels(QUEUE).inc()
                return
            except pika.exceptions.AMQPError:
                _publisher.pop("channel", None)
                if attempt == 2:
                    raise
