"""Path and query parameters shared by controllers.

Path parameters are named after the resource they identify (orgId, userId, keyId …);
the tenancy test relies on that to fill every route with another organization's ids.
"""

from __future__ import annotations

from typing import Annotated

from litestar.params import PathParameter


def _id(name: str) -> PathParameter:
    return PathParameter(name=name, min_length=1, max_length=64)


OrgId = Annotated[str, _id("orgId")]
UserId = Annotated[str, _id("userId")]
InviteId = Annotated[str, _id("inviteId")]
KeyId = Annotated[str, _id("keyId")]
SessionId = Annotated[str, _id("sessionId")]
ConversationId = Annotated[str, _id("conversationId")]
MessageId = Annotated[str, _id("messageId")]
