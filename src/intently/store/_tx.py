"""What every backend's transaction shares: use as a context manager."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Self


class EndsOnExit:
    """Commit when the block ends normally, roll back when it raises."""

    def commit(self) -> None:
        raise NotImplementedError

    def commit_later(self, *, hand_over: bool = True) -> Future[None]:
        """A backend that cannot finish a commit in the background commits in place."""
        self.commit()
        done: Future[None] = Future()
        done.set_result(None)
        return done

    def rollback(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is None:
            self.commit()
        else:
            self.rollback()
