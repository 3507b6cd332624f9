"""Jobs by name: features register functions, any process enqueues them by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from huey.api import Huey, TaskWrapper


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

    def enqueue(self, name: str, *args: Any, delay: float | None = None) -> Any:
        task = self._tasks[name]
        if delay:
            return task.schedule(args=args, delay=delay)
        return task(*args)
