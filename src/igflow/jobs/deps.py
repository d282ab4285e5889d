"""The queue as a FastAPI dependency (the app keeps one in ``app.state.jobs``)."""

from __future__ import annotations

from fastapi import Request

from igflow.jobs.queue import JobQueue


def get_queue(request: Request) -> JobQueue:
    queue: JobQueue = request.app.state.jobs
    return queue
