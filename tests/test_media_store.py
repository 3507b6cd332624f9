"""The media store: limits, local disk, and an S3-compatible store (moto's S3 server
over real HTTP), used end to end by the inbound pipeline and outbound sends."""

from __future__ import annotations

import base64

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.helpers import API, bearer, register
from tests.support.env import free_port
from tests.support.polling import until
from tests.support.whatsapp import CUSTOMER, connected_session, simulate
from wacc.config import ConfigError, load_settings
from wacc.lib.errors import NotFoundError, ValidationError
from wacc.sessions.rpc import rpc_of
from wacc.storage import LocalMediaStore, S3MediaStore, make_media_store


@pytest.fixture(scope="module")
def s3_endpoint():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    url = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="k",
                 aws_secret_access_key="s").create_bucket(Bucket="wacc-media")
    yield url
    server.stop()


def s3_settings(tmp_path, endpoint, **extra):
    return load_settings({
        "WACC_DATA_DIR": str(tmp_path), "WACC_MEDIA_BACKEND": "s3",
        "WACC_MEDIA_S3_BUCKET": "wacc-media", "WACC_MEDIA_S3_ENDPOINT_URL": endpoint,
        "WACC_MEDIA_S3_ACCESS_KEY_ID": "k", "WACC_MEDIA_S3_SECRET_ACCESS_KEY": "s", **extra})


async def test_local_round_trip_and_limits(tmp_path):
    store = make_media_store(load_settings({"WACC_DATA_DIR": str(tmp_path),
                                            "WACC_MEDIA_MAX_BYTES": "2048"}))
    assert isinstance(store, LocalMediaStore)
    key = await store.put("org1", b"%PDF-1.7 menu", "application/pdf", "menu.pdf")
    assert key.startswith("org1/") and key.endswith(".pdf")
    assert await store.get(key) == b"%PDF-1.7 menu"
    with pytest.raises(ValidationError) as too_big:
        await store.put("org1", b"x" * 4096, "image/png")
    assert "larger than the limit" in too_big.value.details[0]["message"]
    with pytest.raises(ValidationError) as bad_type:
        await store.put("org1", b"MZ", "application/x-msdownload")
    assert "not allowed" in bad_type.value.details[0]["message"]
    with pytest.raises(ValidationError):
        await store.get("../../etc/passwd")
    with pytest.raises(NotFoundError):
        await store.get("org1/2020/01/none.bin")
    await store.delete(key)
    await store.delete(key)  # gone already: erasure may repeat
    with pytest.raises(NotFoundError):
        await store.get(key)
    with pytest.raises(ValidationError):
        await store.delete("../outside")


async def test_s3_round_trip(tmp_path, s3_endpoint):
    store = make_media_store(s3_settings(tmp_path, s3_endpoint))
    assert isinstance(store, S3MediaStore)
    key = await store.put("org1", b"\x89PNG s3 bytes", "image/png")
    assert await store.get(key) == b"\x89PNG s3 bytes"
    listed = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                          aws_access_key_id="k", aws_secret_access_key="s").list_objects_v2(
        Bucket="wacc-media")["Contents"]
    assert [o["Key"] for o in listed] == [f"media/{key}"]
    assert not (tmp_path / "media").exists()  # nothing on local disk
    with pytest.raises(NotFoundError):
        await store.get("org1/2020/01/none.bin")
    await store.delete(key)
    await store.delete(key)
    with pytest.raises(NotFoundError):
        await store.get(key)


def test_s3_needs_a_bucket(tmp_path):
    with pytest.raises(ConfigError, match="WACC_MEDIA_S3_BUCKET"):
        make_media_store(load_settings({"WACC_DATA_DIR": str(tmp_path),
                                        "WACC_MEDIA_BACKEND": "s3"}))


async def test_pipeline_and_sends_use_the_s3_store(client, server, wa, worker, tmp_path,
                                                  s3_endpoint):
    """Inbound media lands in S3 and an outbound image is read back from it."""
    from wacc.messages.tables import Message

    runtime = server.app.state["runtime"]
    original = runtime.media
    runtime.media = make_media_store(s3_settings(tmp_path, s3_endpoint))
    try:
        owner = bearer((await register(client))["accessToken"])
        manager = await wa()
        manager.pipeline.media = runtime.media
        sid, _ = await connected_session(client, owner)
        image = base64.b64encode(b"\x89PNG inbound").decode()
        await simulate(client, owner, sid, "message", phone=CUSTOMER, type="IMAGE", id="S3IN",
                       media={"mimeType": "image/png", "data": image})
        row = await Message.select().where(Message.whatsapp_message_id == "S3IN").first()
        assert await runtime.media.get(row["media_url"]) == b"\x89PNG inbound"

        r = await client.post(f"{API}/whatsapp/sessions/{sid}/messages", headers=owner, json={
            "to": CUSTOMER, "type": "IMAGE", "body": "our logo",
            "media": {"mimeType": "image/png", "data": base64.b64encode(b"\x89PNG out").decode()}})
        mid = r.json()["id"]

        async def sent():
            m = (await client.get(f"{API}/messages/{mid}", headers=owner)).json()
            return m["status"] in ("SENT", "DELIVERED")

        await until(sent)
        outbox = await rpc_of(runtime).call(sid, "outbox")
        assert outbox[-1]["media"]["mimeType"] == "image/png"
    finally:
        runtime.media = original
