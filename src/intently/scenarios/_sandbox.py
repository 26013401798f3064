"""The template sandbox with a budget: a scenario's author (or whoever holds an admin key) can
write any template, and a template runs on every event that triggers it, so rendering is
bounded in time, in output size and in the size of any value it makes.

Jinja's sandbox already refuses unsafe attributes; this adds the budget. Going over it raises
`TemplateBudgetError`, which the scenario journals as a failed send (never a failed ingest).
"""

from __future__ import annotations

import gc
import time
import weakref
from collections.abc import Iterator
from typing import Any

from jinja2.runtime import new_context
from jinja2.sandbox import SandboxedEnvironment, SecurityError

MAX_OUTPUT_CHARS = 256 * 1024
"""Largest rendered subject or body, and largest string or list a template may make."""
MAX_RANGE = 10_000
MAX_SECONDS = 0.25
"""Rendering time for one message: CPU time of the rendering thread, with the cyclic garbage
collector paused, so that what is counted is the template's own work. Wall time would fail
good messages whenever the machine is busy or a full collection of a large heap (a million
customers' timers) lands inside a render."""


class TemplateBudgetError(SecurityError):
    """A template went over its time or size budget."""


class BudgetEnvironment(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.deadline = float("inf")
        self.not_before = float("inf")
        # per template, its globals in one plain dict: Jinja would merge its chain of globals
        # into every render's context (a third of the cost of rendering a short message)
        self._scopes: weakref.WeakKeyDictionary[Any, dict[str, Any]] = (
            weakref.WeakKeyDictionary())
        self.globals["range"] = self._range
        for name in ("center", "indent", "truncate", "wordwrap"):
            self.filters[name] = self._bounded_filter(self.filters[name])

    # -- the budget
    def start(self) -> None:
        self.deadline = time.thread_time() + MAX_SECONDS
        # a thread's CPU time grows no faster than the clock, so before this moment the budget
        # cannot be spent: the clock is a call into the vDSO, the thread's CPU time a system
        # call (about 1 µs, ten times a message)
        self.not_before = time.perf_counter() + MAX_SECONDS

    def tick(self) -> None:
        if time.perf_counter() > self.not_before and time.thread_time() > self.deadline:
            raise TemplateBudgetError(f"rendering took over {MAX_SECONDS} s")

    def render(self, template: Any, context: dict[str, Any]) -> str:
        """Render within the budget: time checked at every loop step and call, output capped."""
        collecting = gc.isenabled()
        gc.disable()  # bounded work, and output bounded in size: no cycles worth a pause here
        try:
            self.start()
            scope = self._scopes.get(template)
            if scope is None:
                scope = self._scopes[template] = dict(template.globals)
            # what `template.generate` does, with the globals merged once: the context holds
            # them and the message's values (no template here imports another, so the
            # context need not list which names were globals)
            ctx = new_context(self, template.name, template.blocks, {**scope, **context}, True)
            parts: list[str] = []
            size = 0
            for chunk in template.root_render_func(ctx):
                size += len(chunk)
                if size > MAX_OUTPUT_CHARS:
                    raise TemplateBudgetError(f"output over {MAX_OUTPUT_CHARS} characters")
                parts.append(chunk)
                self.tick()
            return "".join(parts)
        finally:
            if collecting:
                gc.enable()

    # -- hooks the sandbox calls
    def call(self, context: Any, obj: Any, *args: Any, **kwargs: Any) -> Any:
        self.tick()
        return super().call(context, obj, *args, **kwargs)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        self.tick()
        if operator == "*":
            seq, n = (left, right) if isinstance(left, str | list | tuple) else (right, left)
            if isinstance(seq, str | list | tuple) and isinstance(n, int) and (
                    len(seq) * n > MAX_OUTPUT_CHARS):
                raise TemplateBudgetError(f"a value of {len(seq) * n} items is too large")
        elif operator == "**" and isinstance(right, int | float) and abs(right) > 256:
            raise TemplateBudgetError("exponent over 256")
        return super().call_binop(context, operator, left, right)

    def _range(self, *args: int) -> _TimedRange:
        numbers = range(*args)
        if len(numbers) > MAX_RANGE:
            raise TemplateBudgetError(f"range of {len(numbers)} items; at most {MAX_RANGE}")
        return _TimedRange(numbers, self)

    def _bounded_filter(self, fn: Any) -> Any:
        def bounded(*args: Any, **kwargs: Any) -> Any:
            widths = [a for a in (*args[1:], *kwargs.values()) if isinstance(a, int)]
            if any(w > MAX_OUTPUT_CHARS for w in widths):
                raise TemplateBudgetError(f"width over {MAX_OUTPUT_CHARS}")
            return fn(*args, **kwargs)

        for attr in ("jinja_pass_arg",):
            if hasattr(fn, attr):
                setattr(bounded, attr, getattr(fn, attr))
        return bounded


class _TimedRange:
    """A range whose every step checks the time budget (nested loops make no calls)."""

    def __init__(self, numbers: range, env: BudgetEnvironment) -> None:
        self.numbers = numbers
        self.env = env

    def __len__(self) -> int:
        return len(self.numbers)

    def __iter__(self) -> Iterator[int]:
        tick = self.env.tick
        for i in self.numbers:
            tick()
            yield i
