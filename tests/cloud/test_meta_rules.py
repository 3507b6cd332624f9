"""The cloud engine against the rules Meta enforces (through the strict fake Graph API):
errors classified by Meta's codes, session-fatal only for 190 or a Graph 401, the media
host on another origin, the pair rate limit keeping a customer's messages in order,
templates, media limits before upload, and the Graph API version setting."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.cloud.support import CUSTOMER, HOUR, Host, envelope, msg, settings, started
from tests.fakes.graph_api import API_VERSION, FakeGraphAPI
from wacc.engines.cloud import CloudEngine
from wacc.engines.cloud.errors import META_ERRORS, Kind, classify
from wacc.engines.cloud.graph import DEFAULT_API_VERSION
from wacc.engines.cloud.outbound import check_media
from wacc.engines.contract import (
    Disconnected,
    DisconnectReason,
    Media,
    NotConnectedError,
    OutboundMessage,
    Peer,
    PermanentEngineError,
    TransientEngineError,
)

# A WebP with the extended header's animation flag (byte 20, bit 1) set, and one without.
ANIMATED_WEBP = b"RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x02" + b"\x00" * 9
STATIC_WEBP = b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 16

# -- the one table ---------------------------------------------------------------------------


def test_only_190_is_session_fatal() -> None:
    fatal = {code for code, rule in META_ERRORS.items() if rule.kind is Kind.SESSION}
    assert fatal == {190}
    for code in (0, 3, 10, 200, 250, 299):
        assert classify(code, 403).kind is Kind.MESSAGE, code
    assert classify(None, 401).kind is Kind.SESSION  # a 401 from the Graph API itself
    assert classify(None, 401, from_graph=False).kind is Kind.RETRY  # from the media host
    assert classify(190, 401, from_graph=False).kind is Kind.RETRY
    assert classify(None, 403, from_graph=False).kind is Kind.RETRY


def test_retryable_codes_carry_metas_waits() -> None:
    for code in (1, 2, 4, 80007, 130429, 131000, 131016, 131048, 131056, 133004):
        assert META_ERRORS[code].kind is Kind.RETRY, code
    assert META_ERRORS[131056].wait == 6 and META_ERRORS[131056].per_recipient
    assert META_ERRORS[131048].wait and META_ERRORS[130429].wait
    for code in (100, 131026, 131047, 131051, 132000, 132001, 132015):
        assert META_ERRORS[code].kind is Kind.MESSAGE, code
    assert classify(None, 503).kind is Kind.RETRY and classify(None, 400).kind is Kind.MESSAGE


# -- session-fatal or not -------------------------------------------------------------------


@pytest.mark.parametrize("code", [0, 3, 10, 200, 299])
async def test_permission_codes_fail_the_message_not_the_session(api: FakeGraphAPI, tmp_path: Path,
                                                                 code: int) -> None:
    engine, host = await started(api, tmp_path)
    api.error_next(code, status=403)
    with pytest.raises(PermanentEngineError) as exc:
        await engine.send(msg("k1", body="hello"))
    assert exc.value.code == str(code)
    assert not any(isinstance(e, Disconnected) for e in host.events)
    assert (await engine.send(msg("k2", body="still connected"))).id.startswith("wamid.")
    await engine.stop()


async def test_only_a_190_disconnects_and_says_why(api: FakeGraphAPI, tmp_path: Path) -> None:
    engine, host = await started(api, tmp_path)
    api.error_next(190, status=401)
    with pytest.raises(NotConnectedError):  # the message waits for new credentials
        await engine.send(msg(body="hello"))
    (event,) = [e for e in host.events if isinstance(e, Disconnected)]
    assert event.reason is DisconnectReason.LOGGED_OUT and "190" in event.detail


async def test_a_401_from_the_media_host_leaves_the_session_connected(api: FakeGraphAPI,
                                                                     tmp_path: Path) -> None:
    engine, host = await started(api, tmp_path)
    media_id = api.add_media(b"\xff\xd8 photo", "image/jpeg")
    assert api.media_url != api.url  # another origin, as Meta's lookaside host is
    api.fail_next(status=401, path="media-host:")
    with pytest.raises(TransientEngineError) as exc:  # that file alone: retried later
        await engine.download_media(Media(mime_type="image/jpeg", fetch=media_id))
    assert exc.value.code == "MEDIA_HTTP_401" and "media host" in str(exc.value)
    assert not any(isinstance(e, Disconnected) for e in host.events)
    assert await engine.download_media(Media(mime_type="image/jpeg", fetch=media_id)) == b"\xff\xd8 photo"
    assert (await engine.send(msg(body="still connected"))).id.startswith("wamid.")
    await engine.stop()


async def test_the_media_host_refuses_a_request_without_the_token(api: FakeGraphAPI) -> None:
    import httpx

    media_id = api.add_media(b"data", "image/png")
    async with httpx.AsyncClient() as http:
        info = (await http.get(f"{api.url}/{API_VERSION}/{media_id}",
                               headers={"Authorization": f"Bearer {api.token}"})).json()
        assert info["url"].startswith(api.media_url)
        assert (await http.get(info["url"])).status_code == 401
        with_token = await http.get(info["url"], headers={"Authorization": f"Bearer {api.token}"})
        assert with_token.content == b"data"


async def test_the_fake_answers_with_metas_error_shape(api: FakeGraphAPI) -> None:
    import httpx

    async with httpx.AsyncClient() as http:  # a customer who never wrote: 131047
        r = await http.post(f"{api.url}/{API_VERSION}/{api.phone_number_id}/messages",
                            headers={"Authorization": f"Bearer {api.token}"},
                            json=envelope("text", {"body": "hello"}))
        bad_token = await http.get(f"{api.url}/{API_VERSION}/{api.phone_number_id}",
                                   headers={"Authorization": "Bearer nope"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert set(error) == {"message", "type", "code", "error_data", "fbtrace_id"}
    assert (error["code"], error["type"]) == (131047, "OAuthException")
    assert error["message"].startswith("(#131047)")
    assert set(error["error_data"]) == {"messaging_product", "details"}
    assert bad_token.status_code == 401 and bad_token.json()["error"]["code"] == 190


# -- throughput -------------------------------------------------------------------------------


async def test_pair_rate_limit_holds_later_messages_to_that_customer(api: FakeGraphAPI,
                                                                    tmp_path: Path) -> None:
    clock = [time.time()]
    host = Host(settings(api, last_inbound={CUSTOMER: time.time() - 60}), tmp_path)
    api.customer_wrote(CUSTOMER, time.time() - 60)
    engine = CloudEngine(host, clock=lambda: clock[0])
    await engine.start()
    api.error_next(131056)
    with pytest.raises(TransientEngineError) as first:
        await engine.send(msg("m1", body="first"))
    assert first.value.code == "131056" and first.value.retry_after == 6
    api.requests.clear()
    with pytest.raises(TransientEngineError) as second:  # not sent: it would overtake m1
        await engine.send(msg("m2", body="second"))
    assert second.value.code == "131056" and 0 < (second.value.retry_after or 0) <= 6
    assert api.requests == []
    clock[0] += 6.5
    await engine.send(msg("m1", body="first"))
    await engine.send(msg("m2", body="second"))
    assert [b["text"]["body"] for b in api.sent()] == ["first", "second"]
    await engine.stop()


@pytest.mark.parametrize(("code", "wait"), [(131048, 600), (130429, 1), (80007, 60)])
async def test_throughput_and_spam_limits_are_retried_after_metas_wait(engine: CloudEngine,
                                                                       api: FakeGraphAPI,
                                                                       code: int, wait: int) -> None:
    api.error_next(code)
    with pytest.raises(TransientEngineError) as exc:
        await engine.send(msg(body="hello"))
    assert exc.value.code == str(code) and exc.value.retry_after == wait


async def test_the_fake_enforces_pair_rate_and_throughput(engine: CloudEngine, api: FakeGraphAPI) -> None:
    api.pair_rate_seconds = 60
    await engine.send(msg("a", body="one"))
    with pytest.raises(TransientEngineError, match="pair rate limit"):
        await engine.send(msg("b", body="two"))
    # Other customers can be messaged at once; the number's throughput still applies.
    api.pair_rate_seconds, api.throughput_per_second = None, 1
    others = [Peer(wa_id=f"49151123456{i}@c.us") for i in range(2)]
    for peer in others:
        api.customer_wrote(peer.wa_id.partition("@")[0])
    with pytest.raises(TransientEngineError, match="130429"):  # two in one second
        for i, peer in enumerate(others):
            await engine.send(OutboundMessage(idempotency_key=f"o{i}", to=peer, body="hi"))


# -- the window and templates -------------------------------------------------------------------


async def test_stored_inbound_from_the_host_opens_the_window(api: FakeGraphAPI, tmp_path: Path) -> None:
    class StoredHost(Host):
        async def last_inbound(self, peer: object) -> float | None:
            return time.time() - HOUR

    host = StoredHost(settings(api), tmp_path)  # nothing in memory: a fresh engine
    api.customer_wrote(CUSTOMER, time.time() - HOUR)
    engine = CloudEngine(host)
    await engine.start()
    await engine.send(msg(body="reply after a restart"))
    assert [b["text"]["body"] for b in api.sent()] == ["reply after a restart"]
    host.last_inbound = lambda peer: _later(time.time() - 25 * HOUR)  # type: ignore[method-assign]
    with pytest.raises(PermanentEngineError) as exc:  # known closed: refused here
        await engine.send(msg("k2", body="too late"))
    assert exc.value.code == "WINDOW_CLOSED" and len(api.sent()) == 1
    await engine.stop()


async def _later(value: float) -> float:
    return value


async def test_templates_must_exist_with_the_right_parameters(engine: CloudEngine, api: FakeGraphAPI) -> None:
    api.add_template("order_ready", "en_US", body=2)
    with pytest.raises(PermanentEngineError) as exc:
        await engine.send(msg("t1", template={"name": "order_ready", "language": "pt_BR"}))
    assert exc.value.code == "132001" and "does not exist in pt_BR" in str(exc.value)
    one = [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}]
    with pytest.raises(PermanentEngineError) as exc:
        await engine.send(msg("t2", template={"name": "order_ready", "language": "en_US",
                                              "components": one}))
    assert exc.value.code == "132000" and "localizable_params (1)" in str(exc.value)
    two = [{"type": "body", "parameters": [{"type": "text", "text": "Ana"},
                                           {"type": "text", "text": "#42"}]}]
    await engine.send(msg("t3", template={"name": "order_ready", "language": "en_US", "components": two}))


# -- media limits ---------------------------------------------------------------------------------


def test_media_limits_are_metas() -> None:
    mb = 1024 * 1024
    assert check_media("IMAGE", "image/png", b"x" * (5 * mb)) is None
    assert "too large" in (check_media("IMAGE", "image/jpeg", b"x" * (5 * mb + 1)) or "")
    assert "does not accept image/gif" in (check_media("IMAGE", "image/gif", b"GIF89a") or "")
    assert check_media("VIDEO", "video/3gpp", b"x" * (16 * mb)) is None
    assert check_media("VIDEO", "video/quicktime", b"x") is not None
    assert check_media("AUDIO", "audio/ogg; codecs=opus", b"x") is None
    assert check_media("AUDIO", "audio/wav", b"x") is not None
    assert check_media("DOCUMENT", "application/pdf", b"x" * (100 * mb)) is None
    assert check_media("DOCUMENT", "application/zip", b"PK") is not None
    assert check_media("STICKER", "image/webp", STATIC_WEBP + b"x" * (100 * 1024 - len(STATIC_WEBP))) is None
    assert "100 KB" in (check_media("STICKER", "image/webp", STATIC_WEBP + b"x" * 100 * 1024) or "")
    assert check_media("STICKER", "image/webp", ANIMATED_WEBP + b"x" * 400 * 1024) is None
    assert "500 KB" in (check_media("STICKER", "image/webp", ANIMATED_WEBP + b"x" * 500 * 1024) or "")


async def test_media_meta_would_refuse_is_never_uploaded(engine: CloudEngine, api: FakeGraphAPI) -> None:
    big = Media(mime_type="image/png", filename="big.png", data=b"\x89PNG" + b"x" * (5 * 1024 * 1024))
    with pytest.raises(PermanentEngineError) as exc:
        await engine.send(msg("big", type="IMAGE", media=big))
    assert exc.value.code == "MEDIA_NOT_ACCEPTED" and "5 MB" in str(exc.value)
    with pytest.raises(PermanentEngineError, match="does not accept application/zip"):
        await engine.send(msg("zip", type="DOCUMENT", media=Media(mime_type="application/zip", data=b"PK")))
    assert api.requests == []


async def test_a_webp_image_goes_as_a_sticker(engine: CloudEngine, api: FakeGraphAPI) -> None:
    await engine.send(msg("s", type="IMAGE", body="dropped: stickers take no caption",
                          media=Media(mime_type="image/webp", filename="s.webp", data=STATIC_WEBP)))
    (media_id,) = api.media
    assert api.sent() == [envelope("sticker", {"id": media_id})]


async def test_the_fake_refuses_uploads_and_kinds_as_meta_does(engine: CloudEngine,
                                                               api: FakeGraphAPI) -> None:
    graph = engine._graph
    assert graph is not None
    with pytest.raises(PermanentEngineError, match="Param file must be a file with one of"):
        await graph.upload(f"{api.phone_number_id}/media", data={"messaging_product": "whatsapp",
                           "type": "image/gif"}, file=("a.gif", b"GIF89a", "image/gif"))
    media_id = api.add_media(STATIC_WEBP + b"x" * 200 * 1024, "image/webp")  # a static sticker > 100 KB
    with pytest.raises(PermanentEngineError) as exc:
        await graph.post(f"{api.phone_number_id}/messages", envelope("sticker", {"id": media_id}))
    assert exc.value.code == "131053"


# -- the Graph API version -------------------------------------------------------------------------


async def test_the_graph_version_is_a_setting_with_a_current_default(api: FakeGraphAPI,
                                                                    tmp_path: Path) -> None:
    assert DEFAULT_API_VERSION == API_VERSION == "v26.0"
    engine, _ = await started(api, tmp_path, api_version="v24.0")
    await engine.send(msg(body="hi"))
    assert api.requests[-1].path == f"/v24.0/{api.phone_number_id}/messages"
    await engine.stop()
    host = Host(settings(api, api_version="v19.0"), tmp_path)  # expired: Meta refuses it
    await CloudEngine(host).start()
    assert isinstance(host.events[-1], Disconnected)
