"""CSV import over real HTTP and a real job worker: column mapping, dedupe by phone
(update or skip), a per-row error report, progress on the bus, resuming after a crash
without importing anything twice; and every bad file refused with nothing changed."""

from __future__ import annotations

import asyncio
import csv
import io
import tracemalloc
from datetime import timedelta

import pytest

from tests.helpers import API, assert_error, bearer, register
from tests.support.contacts import IMPORT, finished, upload
from wacc.contacts import csvfile, importer
from wacc.contacts.tables import Contact, ContactImport, ContactTag
from wacc.lib.clock import utcnow


@pytest.fixture
async def owner(client):
    tokens = await register(client)
    return {"head": bearer(tokens["accessToken"]), "org": tokens["user"]["organizationId"]}


async def imported(client, head, data: bytes, **kwargs):
    r = await upload(client, head, data, **kwargs)
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "PENDING"
    return await finished(client, head, r.json()["id"])


def report_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_mapping_dedupe_update_and_error_report(client, owner, worker):
    head = owner["head"]
    for body in ({"name": "Plan", "key": "plan", "type": "SELECT", "options": ["basic", "pro"]},
                 {"name": "Seats", "key": "seats", "type": "NUMBER"},
                 {"name": "Langs", "key": "langs", "type": "MULTISELECT",
                  "options": ["en", "de", "fr"]}):
        assert (await client.post(f"{API}/custom-fields", headers=head, json=body)).status_code == 201
    vip = (await client.post(f"{API}/tags", headers=head, json={"name": "VIP"})).json()["id"]
    lead = (await client.post(f"{API}/tags", headers=head, json={"name": "lead"})).json()["id"]
    eu = (await client.post(f"{API}/tags", headers=head, json={"name": "Wholesale, EU"})).json()["id"]
    r = await client.post(f"{API}/contacts", headers=head, json={
        "phoneNumber": "+14155550001", "name": "Old Name", "email": "keep@example.com",
        "customFields": {"seats": 1}})
    existing = r.json()["id"]
    rows = [
        ["Full name", "Mobile", "Mail", "Labels", "Plan", "Seats", "Langs", "Ignored"],
        ["Ann", "+1 415 555 0002", "ann@example.com", "vip; lead", "pro", "3", "en;de", "x"],  # 2
        # 3: existing, updated; tags split on "," as people type them (issue 16), and a
        # tag whose name has a comma still counts as one
        ["New Name", "14155550001", "", "VIP,lead;Wholesale, EU", "", "7", "", ""],
        ["Bad Phone", "12", "", "", "", "", "", ""],  # 4
        ["Bad Mail", "+14155550004", "not-mail", "", "", "", "", ""],  # 5
        ["Bad Tag", "+14155550005", "", "nope", "", "", "", ""],  # 6
        ["Bad Plan", "+14155550006", "", "", "gold", "", "", ""],  # 7
        ["", "", "", "", "", "", "", ""],  # 8: blank, ignored
        ["Ann Again", "+14155550002", "", "", "", "", "", ""],  # 9: same phone as row 2
        ["Seats Word", "+14155550009", "", "", "", "many", "", ""],  # 10
        ["No Phone", "", "", "", "", "", "", ""],  # 11
        ["'=cmd|calc", "+14155550012", "", "", "", "", "", ""],  # 12: escaped formula
    ]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    mapping = {"Full name": "name", "Mobile": "phone", "Mail": "email", "Labels": "tags",
               "Plan": "custom.plan", "Seats": "custom.seats", "Langs": "custom.langs"}
    done = await imported(client, head, ("\ufeff" + buffer.getvalue()).encode(),
                          mapping=mapping, onDuplicate="update")
    assert done["status"] == "DONE", done
    assert {k: done[k] for k in ("processed", "created", "updated", "skipped", "failed")} == {
        "processed": 10, "created": 2, "updated": 2, "skipped": 0, "failed": 6}
    assert [(e["row"], e["column"]) for e in done["errors"]] == [
        (4, "Mobile"), (5, "Mail"), (6, "Labels"), (7, "Plan"), (10, "Seats"), (11, "Mobile")]
    assert done["hasReport"] is True

    ann = await Contact.select().where(Contact.phone_number == "+14155550002").output(
        load_json=True).first()
    assert ann["name"] == "Ann Again" and ann["email"] == "ann@example.com"
    assert ann["custom_fields"] == {"plan": "pro", "seats": 3, "langs": ["en", "de"]}
    assert {r["tag"] for r in await ContactTag.select().where(ContactTag.contact == ann["id"])} == {
        vip, lead}
    old = await Contact.select().where(Contact.id == existing).output(load_json=True).first()
    assert old["name"] == "New Name" and old["email"] == "keep@example.com"  # empty cell kept
    assert old["custom_fields"] == {"seats": 7}
    assert {r["tag"] for r in await ContactTag.select().where(ContactTag.contact == existing)} == {
        vip, lead, eu}
    formula = await Contact.select().where(Contact.phone_number == "+14155550012").first()
    assert formula["name"] == "=cmd|calc"
    assert await Contact.count() == 3

    r = await client.get(f"{API}/contacts/imports/{done['id']}/errors", headers=head)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    report = report_rows(r.text)
    assert [row["row"] for row in report] == ["4", "5", "6", "7", "10", "11"]
    bad_phone = report[0]
    assert bad_phone["column"] == "Mobile" and "12" in bad_phone["message"]
    assert bad_phone["Full name"] == "Bad Phone" and bad_phone["Ignored"] == ""
    listed = (await client.get(f"{API}/contacts/imports", headers=head)).json()
    assert [i["id"] for i in listed] == [done["id"]]


async def test_skip_keeps_existing_contacts_and_semicolons_and_regions(client, owner, worker):
    head = owner["head"]
    await client.post(f"{API}/contacts", headers=head,
                      json={"phoneNumber": "+4930123456", "name": "Keep Me"})
    data = "name;phone\nChanged;030 123456\nBerta;+49 30 654321\nBerta twice;030654321\n"
    done = await imported(client, head, data.encode(), onDuplicate="skip", defaultRegion="de")
    assert done["defaultRegion"] == "DE" and done["mapping"] == {"name": "name", "phone": "phone"}
    assert (done["created"], done["skipped"], done["updated"], done["failed"]) == (1, 2, 0, 0)
    names = {r["phone_number"]: r["name"] for r in await Contact.select()}
    assert names == {"+4930123456": "Keep Me", "+4930654321": "Berta"}


async def test_thousands_of_rows_with_progress_events(client, owner, worker, server):
    head, org = owner["head"], owner["org"]
    n = 2600
    lines = ["phone,name,email"] + [f"+1415{i:07d},Person {i},p{i}@example.com" for i in range(n)]
    lines[1000] = "+1415BAD,Broken,"
    bus = server.app.state["runtime"].bus
    async with bus.subscribe(f"org:{org}") as events:
        r = await upload(client, head, "\n".join(lines).encode())
        assert r.status_code == 202, r.text
        seen = []
        async with asyncio.timeout(60):
            async for _, payload in events:
                if payload.get("type") == "import:progress":
                    seen.append(payload)
                    if payload["status"] != "RUNNING":
                        break
    assert [e["processed"] for e in seen] == [500, 1000, 1500, 2000, 2500, 2600]
    assert seen[0]["total"] == n and seen[-1]["status"] == "DONE"
    assert seen[-1]["created"] == n - 1 and seen[-1]["failed"] == 1
    assert await Contact.count() == n - 1
    done = (await client.get(f"{API}/contacts/imports/{r.json()['id']}", headers=head)).json()
    assert done["errors"] == [{"row": 1001, "column": "phone",
                               "message": done["errors"][0]["message"]}]


async def test_resume_after_a_crash_imports_nothing_twice(client, owner, worker):
    head = owner["head"]
    n = 1300
    lines = ["phone,name"] + [f"+4930{i:07d},P{i}" for i in range(n)]
    lines[3] = "nonsense,Broken"  # a row error in the first, committed, batch
    done = await imported(client, head, "\n".join(lines).encode())
    assert (done["created"], done["failed"]) == (n - 1, 1)
    # Make it look like the worker died after committing the first batch of 500 rows.
    later = [f"+4930{i:07d}" for i in range(500, n)]
    await Contact.delete().where(Contact.phone_number.is_in(later))
    await ContactImport.update({
        ContactImport.status: "RUNNING", ContactImport.processed: 500, ContactImport.created: 499,
        ContactImport.failed: 1, ContactImport.report_key: None, ContactImport.finished_at: None,
        ContactImport.started_at: utcnow() - importer.STALE_AFTER - timedelta(minutes=1),
    }).where(ContactImport.id == done["id"])
    # A fresh claim refuses a RUNNING import whose worker may still be alive ...
    fresh = await ContactImport.select().where(ContactImport.id == done["id"]).first()
    assert fresh["status"] == "RUNNING"
    # ... and the sweep queues a stale one, which resumes after row 500.
    worker.enqueue(importer.RESUME_JOB)
    again = await finished(client, head, done["id"])
    assert (again["processed"], again["created"], again["updated"], again["skipped"],
            again["failed"]) == (n, n - 1, 0, 0, 1)
    assert await Contact.count() == n - 1
    report = report_rows((await client.get(f"{API}/contacts/imports/{done['id']}/errors",
                                           headers=head)).text)
    assert [r["row"] for r in report] == ["4"]  # the replayed batch's error is still reported


async def test_a_running_import_is_not_claimed_twice(client, owner, server):
    r = await upload(client, owner["head"], b"phone\n+14155550100\n")
    import_id = r.json()["id"]
    await ContactImport.update({ContactImport.status: "RUNNING",
                                ContactImport.started_at: utcnow()}).where(
        ContactImport.id == import_id)
    runtime = server.app.state["runtime"]
    assert await importer.run_import(runtime.media, runtime.bus, import_id) == "not claimed"
    assert await Contact.count() == 0


async def test_ten_megabyte_lines_and_ragged_rows_are_row_errors(client, owner, worker):
    head = owner["head"]
    huge = "x" * (10 * 1024 * 1024)
    data = (f"phone,name\n+14155550101,First\n+14155550102,{huge}\n"
            f"+14155550103,Extra,cells\n+14155550104,Last\n").encode()
    done = await imported(client, head, data)
    assert done["status"] == "DONE"
    assert (done["created"], done["failed"]) == (2, 2)
    assert [(e["row"], e["message"]) for e in done["errors"]] == [
        (3, f"a line is longer than {csvfile.MAX_LINE} characters"),
        (4, "3 cells but the header has 2 columns")]
    assert sorted(r["name"] for r in await Contact.select()) == ["First", "Last"]


async def test_bad_uploads_are_refused_and_change_nothing(client, owner):
    head = owner["head"]
    good = b"phone,name\n+14155550101,Ann\n"

    async def refused(r, *fields):
        err = assert_error(r, 400, "VALIDATION_ERROR")
        assert [d["field"] for d in err["details"]] == list(fields), err
        return err

    err = await refused(await upload(client, head, "phone,name\n+14155550101,Jos\xe9\n".encode(
        "latin-1")), "file")
    assert "byte offset 27" in err["details"][0]["message"] and "0xe9" in err["details"][0]["message"]
    err = await refused(await upload(client, head, "phone\n+1".encode("utf-16")), "file")
    assert "UTF-16" in err["details"][0]["message"]
    await refused(await upload(client, head, b"\xef\xbb\xbf"), "file")
    await refused(await upload(client, head, b"name,email\nAnn,a@example.com\n"), "mapping")
    err = await refused(await upload(client, head, good, mapping={
        "Mobile": "phone", "name": "nickname", "phone": "custom.nope"}),
        "mapping.Mobile", "mapping.name", "mapping.phone")
    assert "no column 'Mobile'" in err["details"][0]["message"]
    await refused(await upload(client, head, good, mapping={"phone": "phone", "name": "phone"}),
                  "mapping.name")
    await refused(await upload(client, head, b"phone,phone\n1,2\n"), "file")
    await refused(await upload(client, head, ("p" * 70_000 + "\n1\n").encode()), "file")
    await refused(await upload(client, head, good, onDuplicate="merge"), "onDuplicate")
    await refused(await upload(client, head, good, defaultRegion="XX"), "defaultRegion")
    r = await client.post(IMPORT, headers=head, files={"file": ("a.csv", good)},
                          data={"mapping": "{not json"})
    await refused(r, "mapping")
    await refused(await client.post(IMPORT, headers=head, json={"file": "x"}), "file")
    await refused(await client.post(IMPORT, headers=head, data={"onDuplicate": "skip"}), "file")
    assert await ContactImport.count() == 0 and await Contact.count() == 0


async def test_upload_size_limit_and_permissions(make_client):
    app = await make_client({"WACC_MEDIA_MAX_BYTES": "4096"})
    tokens = await register(app)
    head = bearer(tokens["accessToken"])
    big = b"phone,name\n" + b"+14155550101,Ann\n" * 400
    r = await app.post(IMPORT, headers=head, files={"file": ("big.csv", big, "text/csv")})
    err = assert_error(r, 400, "VALIDATION_ERROR")
    assert err["details"][0]["field"] == "file" and "4096" in err["details"][0]["message"]
    r = await app.post(IMPORT, files={"file": ("a.csv", b"phone\n+1415\n", "text/csv")})
    assert_error(r, 401, "AUTHENTICATION_ERROR")
    # The tables are bound to this app's engine here (another event loop): ask the API.
    assert (await app.get(f"{API}/contacts/imports", headers=head)).json() == []
    assert (await app.get(f"{API}/contacts", headers=head)).json()["items"] == []
    assert_error(await app.get(f"{API}/contacts/imports/nope", headers=head), 404, "NOT_FOUND")


async def test_a_lost_file_fails_the_import_and_changes_nothing(client, owner, server):


    runtime = server.app.state["runtime"]
    r = await upload(client, owner["head"], b"phone\n+14155550100\n")
    row = await ContactImport.select().where(ContactImport.id == r.json()["id"]).first()
    await runtime.media.delete(row["file_key"])
    assert await importer.run_import(runtime.media, runtime.bus, row["id"]) == "FAILED"
    done = await finished(client, owner["head"], row["id"])
    assert done["error"] == "the uploaded file is gone" and done["finishedAt"]
    assert await Contact.count() == 0


def test_the_resume_sweep_is_scheduled():
    from wacc.contacts import plugin

    assert ("*/5 * * * *", importer.RESUME_JOB) in plugin.wacc_schedule()


async def test_a_large_upload_is_streamed_not_held_in_memory(client, owner, server, tmp_path):
    """A 12 MB CSV goes from the request to the media store in pieces: the web process
    never holds the file whole (issue 14: 13 MB raised its memory by 87 MB)."""
    path = tmp_path / "big.csv"
    with path.open("w") as f:
        f.write("phone,name\n")
        for i in range(600_000):
            f.write(f"+4930{i:07d},Person {i}\n")
    size = path.stat().st_size
    assert size > 12 * 1024 * 1024
    tracemalloc.start()
    try:
        with path.open("rb") as f:  # the client streams it too
            r = await client.post(IMPORT, headers=owner["head"],
                                  files={"file": ("big.csv", f, "text/csv")})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert r.status_code == 202, r.text
    assert r.json()["size"] == size
    assert peak < size / 4, f"peak {peak / 1e6:.1f} MB while uploading {size / 1e6:.1f} MB"
    row = await ContactImport.select(ContactImport.file_key).where(
        ContactImport.id == r.json()["id"]).first()
    stored = await server.app.state["runtime"].media.get(row["file_key"])
    assert stored == path.read_bytes()
