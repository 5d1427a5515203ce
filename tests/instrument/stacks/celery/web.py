"""A Flask app whose ``/enqueue`` sends a Celery task."""

from flask import Flask
from proj.tasks import add

app = Flask(__name__)


@app.get("/enqueue")
def enqueue() -> dict[str, str]:
    return {"task_id": add.delay(2, 3).id}
