from __future__ import annotations

from piccolo.columns import JSONB, ForeignKey, OnDelete, Varchar
from piccolo.table import Table

from wacc.contacts.tables import Contact
from wacc.db.columns import Index, created_at, id_column, org_fk, updated_at
from wacc.orgs.tables import Organization


class Segment(Table, tablename="segment"):
    id = id_column()
    organization = org_fk(Organization)
    name = Varchar(length=120)
    conditions = JSONB(default={})
    created_at = created_at()
    updated_at = updated_at()


class ContactSegment(Table, tablename="contact_segment"):
    """A contact listed in a segment by hand. Unused for membership, which is computed
    from the conditions (segments/services.py); kept for a later static-list feature."""

    id = id_column()
    contact = ForeignKey(Contact, on_delete=OnDelete.cascade, null=False)
    segment = ForeignKey(Segment, on_delete=OnDelete.cascade, null=False)


INDEXES = [
    Index(ContactSegment, "contact", "segment", unique=True),
    Index(Segment, "organization"),
]
