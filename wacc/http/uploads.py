"""Multipart file uploads with a size limit that is checked before the body is read.

Routes that take files declare ``request_max_body_size=UPLOAD_BODY_CAP`` (the hard
ceiling, fixed when the route is built) and call :func:`read_upload` with the limit
from the settings, so an oversized upload is refused by its Content-Length with a clear
400 instead of being read into memory first.
"""

from __future__ import annotations

import io
from typing import Any

from litestar import Request
from litestar.datastructures import UploadFile

from wacc.lib.errors import ValidationError

UPLOAD_BODY_CAP = 64 * 1024 * 1024
# Room for the multipart boundaries and the small text fields beside the file.
MULTIPART_SLACK = 64 * 1024


def too_large(limit: int) -> str:
    """The size limit as a person reads it (the web UI shows this message as is)."""
    if limit >= 1024 * 1024:
        return f"larger than the limit of {limit / (1024 * 1024):g} MB"
    return f"larger than the limit of {limit} bytes"


async def receive_upload(request: Request[Any, Any, Any], field: str, limit: int,
                         what: str = "a file") -> tuple[UploadFile, int, Any]:
    """The form's file *field* as the server received it (spooled to a temporary file on
    disk past 1 MB, never held in memory whole; rewound), its size, and the whole form."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit + MULTIPART_SLACK:
        raise ValidationError.field(field, too_large(limit))
    form = await request.form()
    upload = form.get(field)
    if not isinstance(upload, UploadFile):
        raise ValidationError.field(field, f"required: {what} in a multipart form")
    size = upload.file.seek(0, io.SEEK_END)
    upload.file.seek(0)
    if size > limit:
        raise ValidationError.field(field, too_large(limit))
    return upload, size, form


async def read_upload(request: Request[Any, Any, Any], field: str, limit: int,
                      what: str = "a file") -> tuple[UploadFile, bytes, Any]:
    """The form's file *field*, its bytes (for a file small enough to hold), and the
    whole form (for the other fields)."""
    upload, _, form = await receive_upload(request, field, limit, what)
    return upload, await upload.read(), form
