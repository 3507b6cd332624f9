"""Jobs by name: features register functions, any process enqueues them by name."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from huey.api import Huey, TaskWrapper

_EPOCH_KEY = "wacc:queue-epoch"


class Jobs:
    def __init__(self, huey: Huey) -> None:
        self.huey = huey
        self._tasks: dict[str, TaskWrapper] = {}

    def register(self, name: str, **options: Any) -> Callable[[Callable[..., Any]], TaskWrapper]:
        """Decorator: ``@jobs.register("messages.send")``."""

        def decorate(fn: Callable[..., Any]) -> TaskWrapper:
            wrapper = self.huey.task(name=name, **options)(fn)
            self._tasks[name] = wrapper
            return wrapper

        return decorate

    def names(self) -> list[str]:
        return sorted(self._tasks)

    def enqueue(self, name: str, *args: Any, delay: float | None = None,
                task_id: str | None = None) -> Any:
        """Queue job *name*; *task_id* names the task (the worker reports it back when
        the job ran, see :meth:`on_finished`)."""
        task = self._tasks[name]
        if delay:
            return task.schedule(args=args, delay=delay, id=task_id)
        if task_id is not None:
            return self.huey.enqueue(task.s(*args, id=task_id))
        return task(*args)

    def on_finished(self, report: Callable[[str], None]) -> None:
        """Call *report(task id)* in the worker each time a task ran to its end: it
        succeeded, or it failed with no retry left."""

        @self.huey.post_execute()
        def finished(task: Any, value: Any, exc: BaseException | None) -> None:
            if exc is None or not task.retries:
                report(task.id)

    def epoch(self) -> str:
        """A name for the queue's current contents. A Redis restarted without its data
        (no persistence) is a new queue with a new epoch: jobs handed to the old one that
        had not run are gone and must be handed over again (wacc.outbox). Blocks: call it
        in a thread."""
        storage = self.huey.storage
        storage.put_if_empty(_EPOCH_KEY, uuid.uuid4().hex.encode())
        value = storage.peek_data(_EPOCH_KEY)
        return value.decode() if isinstance(value, bytes) else str(value)
