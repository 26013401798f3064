"""Rule errors say where and what was expected."""

from __future__ import annotations

from .._errors import ValidationError


class RuleError(ValidationError):
    """A rule that does not parse or validate. For text, `position` is the 0-based offset and
    `expected` what the parser looked for; for JSON, `path` is where in the document."""

    code = "invalid_rule"

    def __init__(self, message: str, *, position: int | None = None,
                 expected: str | None = None, path: str = "$") -> None:
        where = f"at position {position}: " if position is not None else ""
        wanted = f" (expected {expected})" if expected else ""
        super().__init__(f"{where}{message}{wanted}", path)
        self.position = position
        self.expected = expected
        if position is not None:  # a text rule: the position says where, no JSON path
            self.args = (self.message,)

    def to_json(self) -> dict[str, object]:
        data = super().to_json()
        data.update(position=self.position, expected=self.expected)
        if self.position is not None:
            data["message"] = self.message
        return data
