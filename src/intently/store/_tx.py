"""What every backend's transaction shares: use as a context manager."""

from __future__ import annotations

from typing import Self


class EndsOnExit:
    """Commit when the block ends normally, roll back when it raises."""

    def commit(self) -> None:
        raise NotImplementedError

    def rollback(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is None:
            self.commit()
        else:
            self.rollback()
