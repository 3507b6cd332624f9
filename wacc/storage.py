"""The media store: where message media lives.

Local disk under the data directory by default; any S3-compatible store with
WACC_MEDIA_BACKEND=s3 (then web, worker and wa processes on different machines see the
same files). Keys are relative (``<org>/<yyyy>/<mm>/<id><ext>``), so rows do not
depend on the backend."""

from __future__ import annotations

import asyncio
import io
import mimetypes
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from wacc.config import ConfigError, Settings
from wacc.lib.errors import NotFoundError, ValidationError
from wacc.lib.ids import new_id


class MediaStore:
    """Limits and keys; subclasses store the bytes."""

    def __init__(self, settings: Settings) -> None:
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

    async def put(self, organization_id: str, data: bytes | BinaryIO, mime_type: str,
                  filename: str | None = None) -> str:
        """Store *data*: bytes, or a seekable binary file copied from its start in pieces
        (an upload the web server spooled to disk is never read into memory whole)."""
        if isinstance(data, bytes):
            size = len(data)
        else:
            size = data.seek(0, io.SEEK_END)
            data.seek(0)
        self.check(mime_type, size)
        now = datetime.now(UTC)
        ext = Path(filename).suffix if filename else (mimetypes.guess_extension(mime_type) or "")
        key = f"{organization_id}/{now:%Y}/{now:%m}/{new_id()}{ext[:10]}"
        await self._write(key, data, mime_type)
        return key

    async def get(self, key: str) -> bytes:
        _check_key(key)
        return await self._read(key)

    async def delete(self, key: str) -> None:
        """Remove a stored file; one already gone is not an error (erasure repeats)."""
        _check_key(key)
        await self._delete(key)

    async def _write(self, key: str, data: bytes | BinaryIO, mime_type: str) -> None:
        raise NotImplementedError

    async def _read(self, key: str) -> bytes:
        raise NotImplementedError

    async def _delete(self, key: str) -> None:
        raise NotImplementedError


def _check_key(key: str) -> None:
    if not key or key.startswith("/") or ".." in key.split("/"):
        raise ValidationError.field("media", "bad media key")


class LocalMediaStore(MediaStore):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.root = settings.data_path / "media"

    def path(self, key: str) -> Path:
        _check_key(key)
        resolved = (self.root / key).resolve()
        if self.root.resolve() not in resolved.parents:
            raise ValidationError.field("media", "bad media key")
        return resolved

    async def _write(self, key: str, data: bytes | BinaryIO, mime_type: str) -> None:
        await asyncio.to_thread(_write_file, self.path(key), data)

    async def _read(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self.path(key).read_bytes)
        except FileNotFoundError:
            raise NotFoundError("Media file not found") from None

    async def _delete(self, key: str) -> None:
        await asyncio.to_thread(self.path(key).unlink, missing_ok=True)


def _write_file(path: Path, data: bytes | BinaryIO) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    if isinstance(data, bytes):
        tmp.write_bytes(data)
    else:
        with tmp.open("wb") as out:
            shutil.copyfileobj(data, out, 1 << 20)
    tmp.replace(path)


class S3MediaStore(MediaStore):
    """Any S3-compatible store through boto3 (its calls run in a thread)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        try:
            import boto3
        except ImportError:
            raise ConfigError("WACC_MEDIA_BACKEND=s3 needs boto3: pip install 'wacc[s3]'") from None
        media = settings.media
        if not media.s3_bucket:
            raise ConfigError("WACC_MEDIA_S3_BUCKET: required when WACC_MEDIA_BACKEND=s3")
        self.bucket = media.s3_bucket
        self.prefix = media.s3_prefix
        kwargs: dict[str, Any] = {"region_name": media.s3_region}
        if media.s3_endpoint_url:
            kwargs["endpoint_url"] = media.s3_endpoint_url
        if media.s3_access_key_id:
            kwargs["aws_access_key_id"] = media.s3_access_key_id
            kwargs["aws_secret_access_key"] = media.s3_secret_access_key
        self._client = boto3.client("s3", **kwargs)

    async def _write(self, key: str, data: bytes | BinaryIO, mime_type: str) -> None:
        # boto3 reads a file Body in pieces (it must be seekable: it is rewound on retry).
        await asyncio.to_thread(self._client.put_object, Bucket=self.bucket,
                                Key=self.prefix + key, Body=data, ContentType=mime_type)

    async def _read(self, key: str) -> bytes:
        def read() -> bytes:
            try:
                response = self._client.get_object(Bucket=self.bucket, Key=self.prefix + key)
            except self._client.exceptions.NoSuchKey:
                raise NotFoundError("Media file not found") from None
            body: bytes = response["Body"].read()
            return body

        return await asyncio.to_thread(read)

    async def _delete(self, key: str) -> None:
        # S3 answers a delete of a missing key with success, as erasure wants.
        await asyncio.to_thread(self._client.delete_object, Bucket=self.bucket,
                                Key=self.prefix + key)


def make_media_store(settings: Settings) -> MediaStore:
    if settings.media.backend == "s3":
        return S3MediaStore(settings)
    return LocalMediaStore(settings)
