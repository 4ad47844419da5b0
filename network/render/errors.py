"""The one exception rendering raises: a single line naming the device and what is wrong."""

from __future__ import annotations

from core.errors import JinbaoError


class RenderError(JinbaoError):
    """A device could not be rendered (unknown platform, missing/inconsistent field, missing secret)."""

    def __init__(self, hostname: str, detail: str, field: str | None = None) -> None:
        self.hostname = hostname
        self.detail = detail
        self.field = field
        where = f" field '{field}'" if field else ""
        # One line, always: these messages end up in CI logs and progress bars.
        super().__init__(f"device {hostname}:{where} {detail}".replace("\n", " "))

    def __reduce__(self) -> tuple[type[RenderError], tuple[str, str, str | None]]:
        # Rendered in worker processes by render_many: the error must survive pickling intact.
        return (type(self), (self.hostname, self.detail, self.field))
