"""The inbox: conversation list, thread, contact panel and composer (templates/inbox/).

Pages and htmx fragments only read, through the features' services; every change
(send, note, assign, status, tags, snooze) goes from static/js/inbox.js to the JSON API.
The one addition is the media route: the API keeps files by key and has no download
endpoint, and a browser needs a URL for <img>, <video> and <audio>."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get
from litestar.params import PathParameter
from litestar.response import Template

from wacc.conversations import inbox as conversations
from wacc.http.deps import PrincipalDep, RuntimeDep
from wacc.lib.errors import NotFoundError
from wacc.messages import services as messages
from wacc.runtime import Runtime
from wacc.security.principal import Principal
from wacc.ui import inbox_view as view
from wacc.ui.render import page

READ = {"permission": "read:conversations"}
READ_MESSAGES = {"permission": "read:messages"}
ConversationId = Annotated[str, PathParameter(name="conversationId", min_length=1,
                                              max_length=64)]
MessageId = Annotated[str, PathParameter(name="messageId", min_length=1, max_length=64)]


def _fragment(request: Request, name: str, **context: Any) -> Template:
    return page(request, f"inbox/{name}", section="inbox", **context)


async def _list_context(request: Request, principal: Principal, names: dict[str, str],
                        selected: str | None) -> dict[str, Any]:
    filters = view.Filters.of(request.query_params)
    rows, next_cursor = await view.rows(principal, filters,
                                        request.query_params.get("cursor") or None, names)
    # An empty first page points somewhere a message can come from.
    empty = not rows and not request.query_params.get("cursor")
    return {"rows": rows, "next_cursor": next_cursor, "filters": filters,
            "selected": selected or request.query_params.get("selected") or "",
            "first_steps": await view.first_steps(principal) if empty else None}


async def _conversation_context(principal: Principal, rt: Runtime, conversation_id: str,
                                names: dict[str, str]) -> dict[str, Any]:
    conversation = await conversations.get(principal, conversation_id)
    items, earlier = await view.thread(principal, conversation_id, None, names)
    return {
        "conversation": conversation, "items": items, "earlier": earlier, "names": names,
        "panel": await view.contact_panel(principal, conversation),
        "canned": await view.canned(principal),
        "max_bytes": rt.media.max_bytes,
        "assist": await view.assist(principal),
        "window": await view.reply_window(principal, conversation),
        **await view.choices(principal),
    }


class InboxPages(Controller):
    include_in_schema = False

    @get("/inbox", opt=READ)
    async def inbox(self, request: Request, principal: PrincipalDep, rt: RuntimeDep) -> Template:
        return await self._page(request, principal, rt, None)

    @get("/inbox/{conversationId:str}", opt=READ)
    async def inbox_conversation(self, request: Request, principal: PrincipalDep, rt: RuntimeDep,
                                 conversation_id: ConversationId) -> Template:
        """The same page with one conversation open (a bookmark or a reload)."""
        return await self._page(request, principal, rt, conversation_id)

    async def _page(self, request: Request, principal: Principal, rt: Runtime,
                    conversation_id: str | None) -> Template:
        names = await view.team(principal)
        context: dict[str, Any] = {"conversation": None}
        if conversation_id:  # it carries the choices too
            context = await _conversation_context(principal, rt, conversation_id, names)
        else:
            context.update(await view.choices(principal))
        listing = await _list_context(request, principal, names, conversation_id)
        merged = {**context, **listing, "names": names}
        return page(request, "inbox/page.html", section="inbox", statuses=view.STATUSES,
                    **merged)

    @get("/ui/inbox/list", opt=READ)
    async def list_fragment(self, request: Request, principal: PrincipalDep) -> Template:
        """Rows for the filters in the query (and the next page with ``cursor``)."""
        names = await view.team(principal)
        return _fragment(request, "_list.html", names=names,
                         **await _list_context(request, principal, names, None))

    @get("/ui/inbox/conversation/{conversationId:str}", opt=READ)
    async def conversation_fragment(self, request: Request, principal: PrincipalDep, rt: RuntimeDep,
                                    conversation_id: ConversationId) -> Template:
        """Thread and contact panel, swapped in when a row is picked."""
        names = await view.team(principal)
        return _fragment(request, "_conversation.html",
                         **await _conversation_context(principal, rt, conversation_id, names))

    @get("/ui/inbox/conversation/{conversationId:str}/header", opt=READ)
    async def header_fragment(self, request: Request, principal: PrincipalDep,
                              conversation_id: ConversationId) -> Template:
        return _fragment(request, "_header.html", names=await view.team(principal),
                         conversation=await conversations.get(principal, conversation_id),
                         **await view.choices(principal))

    @get("/ui/inbox/conversation/{conversationId:str}/contact", opt=READ)
    async def contact_fragment(self, request: Request, principal: PrincipalDep,
                               conversation_id: ConversationId) -> Template:
        conversation = await conversations.get(principal, conversation_id)
        return _fragment(request, "_contact.html", conversation=conversation,
                         panel=await view.contact_panel(principal, conversation),
                         **await view.choices(principal))

    @get("/ui/inbox/conversation/{conversationId:str}/messages", opt=READ_MESSAGES)
    async def messages_fragment(self, request: Request, principal: PrincipalDep,
                                conversation_id: ConversationId) -> Template:
        """Older items (``cursor`` from the "Load earlier" button), or without a cursor
        the newest page, which the script merges in after a reconnect."""
        names = await view.team(principal)
        before = request.query_params.get("cursor") or None
        items, earlier = await view.thread(principal, conversation_id, before, names)
        return _fragment(request, "_messages.html", items=items, earlier=earlier,
                         conversation_id=conversation_id, names=names,
                         tail=before is None)

    @get("/ui/inbox/messages/{messageId:str}", opt=READ_MESSAGES)
    async def message_fragment(self, request: Request, principal: PrincipalDep,
                               message_id: MessageId) -> Template:
        """One bubble, for a live new message, ack, edit, reaction or revoke."""
        names = await view.team(principal)
        item = await view.one_message(principal, message_id, names)
        return _fragment(request, "_item.html", item=item, names=names)

    @get("/ui/inbox/media/{messageId:str}", opt=READ_MESSAGES)
    async def media(self, principal: PrincipalDep, rt: RuntimeDep, message_id: MessageId) -> Response[bytes]:
        """A message's file, for those who may read the message. Served so that it can
        never run in our origin: a sandbox CSP, no sniffing, and anything but plain
        image/video/audio as a download."""
        message = await messages.get(principal, message_id)
        if not message.media_url:
            raise NotFoundError("This message has no media")
        data = await rt.media.get(message.media_url)
        mime = (message.media_mime_type or "application/octet-stream").split(";")[0].strip()
        inline = bool(view.SAFE_INLINE.match(mime)) and "svg" not in mime
        name = (message.metadata.get("media") or {}).get("filename") or f"{message.id}"
        disposition = f"{'inline' if inline else 'attachment'}; filename*=UTF-8''{quote(name)}"
        return Response(content=data, media_type=mime if inline else "application/octet-stream",
                        headers={"Content-Disposition": disposition,
                                 "X-Content-Type-Options": "nosniff",
                                 "Content-Security-Policy": "default-src 'none'; sandbox",
                                 "Cache-Control": "private, max-age=3600"})
