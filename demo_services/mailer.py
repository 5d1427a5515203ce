"""mailer: sends the order e-mails, consuming them from RabbitMQ's ``order-emails`` queue.

It is off every request's path: a checkout returns once its message is published. The
``queue-consumer-slow=MS`` fault (``POST /admin/faults {"handle_ms": MS}``) makes each e-mail
take that long to hand to the (simulated) mail relay; messages are taken one at a time, so a
slow consumer leaves a growing backlog, seen in ``messaging_queue_depth`` and
``messaging_consumer_lag_seconds``, not in the shop's latency.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from demo_services import queue, store
from demo_services.common import Faults, create_app, serve
from demo_services.metrics import CONSUMED, CONSUMER_LAG, QUEUE_DEPTH

NAME = "mailer"
app = create_app(NAME, {"handle_ms": ("DEMO_MAILER_HANDLE_MS", 5, 0, 60_000)})
faults: Faults = app.extensions["faults"]
log = logging.getLogger(NAME)
DB_URL = store.database_url()
AMQP_URL = queue.amqp_url()
pool = store.Pool(DB_URL, NAME, size=2) if DB_URL else None
DEPTH_POLL_S = 1.0


def handle(channel: Any, method: Any, properties: Any, body: bytes) -> None:
    message = json.loads(body)
    time.sleep(faults["handle_ms"] / 1000)  # the mail relay's answer
    if pool is not None:
        with pool.connection() as conn:
            conn.execute("INSERT INTO sent_email (order_id) VALUES (%s) ON CONFLICT DO NOTHING",
                         (str(message.get("order_id", "")),))  # fmt: skip
    channel.basic_ack(delivery_tag=method.delivery_tag)
    CONSUMED.labels(queue.QUEUE).inc()
    published = message.get("published_at")
    if isinstance(published, int | float):
        CONSUMER_LAG.labels(queue.QUEUE).set(max(0.0, time.time() - published))


def consume(url: str) -> None:
    """Consume forever; reconnect after a broken connection."""
    while True:
        try:
            connection = queue.connect(url)
            channel = connection.channel()
            queue.declare(channel)
            channel.basic_qos(prefetch_count=1)
            channel.basic_consume(queue=queue.QUEUE, on_message_callback=handle)
            channel.start_consuming()
        except Exception as err:  # the broker went away: keep trying, as a real consumer does
            log.warning("consumer stopped (%s); reconnecting", err)
            time.sleep(1)


def watch_depth(url: str) -> None:
    """The queue's ready messages, every second, for ``messaging_queue_depth``."""
    while True:
        try:
            connection = queue.connect(url)
            channel = connection.channel()
            while True:
                ready = channel.queue_declare(queue=queue.QUEUE, durable=True, passive=True)
                QUEUE_DEPTH.labels(queue.QUEUE).set(ready.method.message_count)
                connection.sleep(DEPTH_POLL_S)
        except Exception as err:
            log.warning("queue depth unavailable (%s); retrying", err)
            time.sleep(1)


if __name__ == "__main__":
    if AMQP_URL:
        QUEUE_DEPTH.labels(queue.QUEUE).set(0)
        CONSUMER_LAG.labels(queue.QUEUE).set(0)
        threading.Thread(target=consume, args=(AMQP_URL,), daemon=True, name="consumer").start()
        threading.Thread(target=watch_depth, args=(AMQP_URL,), daemon=True, name="depth").start()
    else:
        log.info("no RabbitMQ: no order e-mails to send")
    serve(app, NAME)
