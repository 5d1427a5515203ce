"""The Celery app; the broker is the Redis server the test starts (CELERY_BROKER_URL)."""

import os

from celery import Celery

app = Celery("proj", broker=os.environ["CELERY_BROKER_URL"], include=["proj.tasks"])
app.conf.update(task_ignore_result=True, worker_hijack_root_logger=False)
