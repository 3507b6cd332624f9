"""The media store: files on local disk under the data directory.

Keys are relative paths (``<org>/<yyyy>/<mm>/<id><ext>``) so the same rows work with
another backend later (an S3-compatible store is the planned second one)."""

from __future__ import annotations

import asyncio
import mimetypes
from datetime import UTC, datetime
from pathlib import Path

from wacc.config import Settings
from wacc.lib.errors import ValidationError
from wacc.lib.ids import new_id


class MediaStore:
    def __init__(self, settings: Settings) -> None:
        self.root = settings.data_path / "media"
        self.max_bytes = settings.media.max_bytes
        self.allowed = settings.media.allowed_types

    def check(self, mime_type: str, size: int) -> None:
        """Refuse a file that is too big or of a type we do not keep."""
        if size > self.max_bytes:
            raise ValidationError.field(
                "media", f"file of {size} bytes is larger than the limit of {self.max_bytes}")
        mime = (mime_type or "").split(";")[0].strip().lower()
        if not any(mime == a or (a.endswith("/") and mime.startswith(a)) or
                   (a.endswith(".") and mime.startswith(a)) for a in self.allowed):
            raise ValidationError.field("media", f"files of type {mime or 'unknown'!r} are not allowed")

    async def put(self, organization_id: str, data: bytes, mime_type: str,
                  filename: str | None = None) -> str:
        self.check(mime_type, len(data))
        now = datetime.now(UTC)
        ext = Path(filename).suffix if filename else (mimetypes.guess_extension(mime_type) or "")
        key = f"{organization_id}/{now:%Y}/{now:%m}/{new_id()}{ext[:10]}"
        path = self.root / key
        await asyncio.to_thread(_write, path, data)
        return key

    def path(self, key: str) -> Path:
        resolved = (self.root / key).resolve()
        if self.root.resolve() not in resolved.parents:
            raise ValidationError.field("media", "bad media key")
        return resolved


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)
