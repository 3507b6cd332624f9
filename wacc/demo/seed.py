"""Seed the demo organization (wacc.demo.data) through the features' services.

Customers' messages take the path of the simulator's customer phone: the simulator
engine runs here inside a `wa` session manager, so each message goes through the real
inbound pipeline (contact and conversation created, exactly once) rather than being
written as rows. The team's replies are queued like replies from the inbox: they are
PENDING until the `wa` role connects the session and the worker sends them.

Idempotent by the organization's slug: when ``demo`` exists nothing is touched. A
seed that fails half-way deletes the organization again, so the next try starts clean.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import msgspec

from wacc.automations import services as automations
from wacc.automations.schemas import AutomationCreate
from wacc.canned import services as canned
from wacc.canned.schemas import CannedResponseCreate
from wacc.contacts import services as contacts
from wacc.contacts.schemas import ContactCreate, ContactUpdate
from wacc.conversations import inbox as conversations
from wacc.conversations.schemas import AssignIn, ConversationPatch, NoteCreate, TagAttach
from wacc.customfields import services as customfields
from wacc.customfields.schemas import CustomFieldCreate
from wacc.db.engine import transaction
from wacc.demo import data
from wacc.logs import get_logger
from wacc.messages import services as messages
from wacc.messages.ingest import Pipeline
from wacc.messages.schemas import MessageSend
from wacc.orgs import services as orgs
from wacc.orgs.schemas import OrganizationOut, OrganizationUpdate
from wacc.runtime import Runtime
from wacc.security.principal import Principal
from wacc.security.roles import Role
from wacc.sessions import services as sessions
from wacc.sessions.manager import SessionManager
from wacc.sessions.schemas import SessionCreate
from wacc.tags import services as tags
from wacc.tags.schemas import TagCreate
from wacc.users import services as users

log = get_logger(__name__)
T = TypeVar("T")


def _valid(cls: type[T], **values: Any) -> T:
    """A request body as the API would decode it: constraints checked, enums converted
    (a struct built by calling it is checked for neither)."""
    return msgspec.convert(msgspec.to_builtins(cls(**values)), cls)


@dataclass
class Seeded:
    """What seeding did: ``created`` is False when the demo organization existed."""

    created: bool
    organization: OrganizationOut
    counts: dict[str, int] = field(default_factory=dict)
    session_phone: str | None = None


@dataclass
class _Team:
    owner: Principal
    agent: Principal

    def of(self, who: str) -> Principal:
        return self.owner if who == "owner" else self.agent


async def find() -> OrganizationOut | None:
    """The demo organization, found by its slug."""
    return next((o for o in await orgs.list_all() if o.slug == data.ORG_SLUG), None)


async def seed(rt: Runtime) -> Seeded:
    existing = await find()
    if existing is not None:
        return Seeded(created=False, organization=existing)
    async with transaction():
        await orgs.lock_for_create()
        existing = await find()  # someone else may have seeded while we looked
        if existing is not None:
            return Seeded(created=False, organization=existing)
        # The slug comes from the name: create as "Demo" (slug "demo"), then rename.
        org = await orgs.create(data.ORG_SLUG.capitalize())
        owner = await users.create(rt, org.id, data.OWNER_EMAIL, data.OWNER_NAME,
                                   data.PASSWORD, Role.OWNER)
        agent = await users.create(rt, org.id, data.AGENT_EMAIL, data.AGENT_NAME,
                                   data.PASSWORD, Role.AGENT)
        team = _Team(Principal(org.id, owner.id, Role.OWNER),
                     Principal(org.id, agent.id, Role.AGENT))
        org = await orgs.update(team.owner, org.id, _valid(OrganizationUpdate, name=data.ORG_NAME))
    session_id: list[str] = []
    try:
        counts, phone = await _fill(rt, team, session_id)
    except BaseException:
        try:  # its users, session, contacts and messages go with it
            await orgs.delete(team.owner, org.id, org.slug)
        except Exception:  # the first error is the one to report
            log.exception("the half-made demo organization was not deleted", org=org.id)
        for sid in session_id:
            shutil.rmtree(rt.settings.data_path / "sessions" / sid, ignore_errors=True)
        raise
    return Seeded(created=True, organization=org, counts=counts, session_phone=phone)


async def _fill(rt: Runtime, team: _Team, session_id: list[str]) -> tuple[dict[str, int], str]:
    owner, org_id = team.owner, team.owner.organization_id
    tag_ids = {name: (await tags.create_tag(owner, _valid(TagCreate, name=name, color=color))).id
               for name, color in data.TAGS.items()}
    for spec in data.CUSTOM_FIELDS:
        await customfields.create(owner, _valid(CustomFieldCreate, **spec))
    for shortcut, content in data.CANNED.items():
        await canned.create_canned(owner, _valid(CannedResponseCreate, shortcut=shortcut,
                                                 content=content))
    # Before the messages arrive, so the worker answers the customer who asks for hours.
    await automations.create_automation(owner, _valid(AutomationCreate, **data.AUTOMATION),
                                        rt.settings.public_url, rt.keyring)
    # Created disconnected so a running `wa` role leaves it alone until it is ready.
    session = await sessions.create(
        owner, _valid(SessionCreate, name=data.SESSION_NAME, settings={
            "phone": data.SESSION_PHONE, "name": data.ORG_NAME}, connect=False),
        set(rt.engines), rt.keyring)
    session_id.append(session.id)
    counts = {"inbound": 0, "replies": 0, "notes": 0}
    async with _CustomerPhone(rt, session.id, org_id) as phone:
        for person in data.PEOPLE:
            await _person(rt, team, phone, person, tag_ids, counts)
    # The `wa` role connects it (the simulator stays paired: a file in its directory).
    await sessions.set_desired(owner, session.id, True)
    counts.update(tags=len(tag_ids), custom_fields=len(data.CUSTOM_FIELDS),
                  canned_responses=len(data.CANNED), automations=1,
                  contacts=len(data.PEOPLE),
                  conversations=sum(1 for p in data.PEOPLE if p.steps))
    return counts, data.SESSION_PHONE


async def _person(rt: Runtime, team: _Team, phone: _CustomerPhone, person: data.Person,
                  tag_ids: dict[str, str], counts: dict[str, int]) -> None:
    org_id = team.owner.organization_id
    if person.steps:
        contact_id = await _conversation(rt, team, phone, person, tag_ids, counts)
        await contacts.update_contact(org_id, contact_id, _valid(
            ContactUpdate, email=person.email, custom_fields=person.fields or None))
    else:  # a customer from the shop's till, who has not written yet
        contact = await contacts.create_contact(org_id, _valid(
            ContactCreate, phone_number=person.phone, name=person.name, email=person.email,
            custom_fields=person.fields))
        contact_id = contact.id
    for name in person.tags:
        await contacts.add_tag(org_id, contact_id, tag_ids[name])


async def _conversation(rt: Runtime, team: _Team, phone: _CustomerPhone, person: data.Person,
                        tag_ids: dict[str, str], counts: dict[str, int]) -> str:
    """Play *person*'s conversation; returns their contact id."""
    thread: tuple[str, str] | None = None
    for step in person.steps:
        if step.inbound:
            await phone.send(person, step)
            counts["inbound"] += 1
            continue
        if thread is None:  # assigned before the first reply, as a teammate takes it
            thread = await _thread_of(team.owner.organization_id, person.phone)
            await _assign(rt, team, thread[0], person.assignee)
        await messages.queue(team.of(step.by), thread[0], _valid(MessageSend, body=step.body),
                             jobs=rt.jobs, bus=rt.bus, media=rt.media)
        counts["replies"] += 1
    if thread is None:
        thread = await _thread_of(team.owner.organization_id, person.phone)
        await _assign(rt, team, thread[0], person.assignee)
    await _triage(rt, team, thread[0], person, tag_ids, counts)
    return thread[1]


async def _thread_of(org_id: str, phone: str) -> tuple[str, str]:
    """(conversation id, contact id) of the customer the pipeline just stored."""
    contact = await contacts.resolve(org_id, contacts.wa_id_for(phone), phone, None)
    threads = await contacts.conversations_of(org_id, contact["id"])
    return threads[0].id, contact["id"]


async def _assign(rt: Runtime, team: _Team, conversation_id: str, who: str | None) -> None:
    if who is not None:
        await conversations.assign(team.owner, conversation_id,
                                   _valid(AssignIn, user_ids=[team.of(who).user_id or ""]),
                                   bus=rt.bus)


async def _triage(rt: Runtime, team: _Team, conversation_id: str, person: data.Person,
                  tag_ids: dict[str, str], counts: dict[str, int]) -> None:
    """Tags, the internal note, status and priority, as the team left them."""
    owner = team.owner
    for name in person.conversation_tags:
        await conversations.add_tag(owner, conversation_id, _valid(TagAttach, tag_id=tag_ids[name]),
                                    bus=rt.bus)
    if person.note:
        await conversations.add_note(team.of(person.assignee or "owner"), conversation_id,
                                     _valid(NoteCreate, content=person.note), bus=rt.bus)
        counts["notes"] += 1
    current = await conversations.get(owner, conversation_id)
    patch: dict[str, Any] = {}
    if person.status != current.status:
        patch["status"] = person.status
    if person.priority and person.priority != current.priority:
        patch["priority"] = person.priority
    if patch:
        await conversations.update(owner, conversation_id,
                                   _valid(ConversationPatch, version=current.version, **patch),
                                   bus=rt.bus)


class _CustomerPhone:
    """The simulator's customer phone, held in this process: a session manager runs the
    engine as the `wa` role would, minus leases and the RPC listener (nothing else
    needs to reach it while seeding)."""

    def __init__(self, rt: Runtime, session_id: str, org_id: str) -> None:
        settings = rt.settings
        self.session = {"id": session_id, "organization": org_id, "engine": "simulator"}
        self.manager = SessionManager(
            engines=rt.engines,
            pipeline=Pipeline(rt.bus, rt.media, reopen=settings.whatsapp.reopen),
            bus=rt.bus, keyring=rt.keyring, data_dir=settings.data_path,
            lease_seconds=settings.whatsapp.lease_seconds, rpc_host=settings.whatsapp.rpc_host,
            rpc_port=settings.whatsapp.rpc_port)
        self._count = 0

    async def __aenter__(self) -> _CustomerPhone:
        await self.manager.start_session(self.session)
        await self._engine().simulate("scan")  # pairs it, as scanning the QR code would
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.manager.stop_session(self.session["id"], release=False)
        await self.manager.pipeline.close()

    def _engine(self) -> Any:
        running = self.manager.running.get(self.session["id"])
        if running is None:
            raise RuntimeError("the demo's simulator session did not start")
        return cast(Any, running.engine)

    async def send(self, person: data.Person, step: data.Step) -> None:
        """The customer types *step* on their phone; returns once it is stored."""
        self._count += 1
        when = None if step.minutes_ago is None else time.time() - step.minutes_ago * 60
        await self._engine().simulate(
            "message", phone=person.phone, name=person.name, type=step.type, body=step.body,
            id=f"DEMO{self._count:05d}", timestamp=when, **step.extra)
