"""What a user typed, turned into a full-text condition for the database in use.

Both engines see the same words: runs of letters and digits in any script. Everything
else (punctuation, FTS operators, SQL metacharacters) only separates words, and each
word is quoted again for the engine, so no input can be a query syntax error. Words in
double quotes are a phrase; all words and phrases must match; the last word, if typed
bare, also matches as a prefix (search as you type). A query that reads as a phone
number also matches phone numbers containing its digits.

The PostgreSQL expressions must stay identical to the indexes of the full-text-search
migration, or the planner cannot use them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from piccolo.querystring import QueryString

from wacc.db.engine import is_sqlite
from wacc.lib.errors import ValidationError

MAX_LENGTH = 200
MAXWORDS = 20
# A one-letter prefix matches most of the index; it costs more than it finds.
MIN_PREFIX = 2
MIN_PHONE_DIGITS = 3
PG_CONFIG = "wacc_search"

WORD = re.compile(r"[^\W_]+")
_PHONE = re.compile(r"^\+?[0-9\s().-]+$")


@dataclass(frozen=True)
class SearchQuery:
    # Every phrase must match; the words of one phrase must be adjacent, in order.
    phrases: tuple[tuple[str, ...], ...]
    prefix: bool  # the last word of the last phrase matches as a prefix too
    digits: str | None  # the query read as part of a phone number

    @property
    def empty(self) -> bool:
        return not self.phrases and not self.digits


def parse(text: str, field: str = "q") -> SearchQuery:
    """The words of *text*; ValidationError (naming *field*) when there are too many."""
    text = unicodedata.normalize("NFC", text).strip()
    if len(text) > MAX_LENGTH:
        raise ValidationError.field(field, f"at most {MAX_LENGTH} characters")
    phrases: list[tuple[str, ...]] = []
    bare_last = False
    # Odd-numbered parts were inside quotes; an unclosed quote runs to the end.
    for index, part in enumerate(text.split('"')):
        if index % 2:
            words = tuple(w.lower() for w in WORD.findall(part))
            if words:
                phrases.append(words)
                bare_last = False
            continue
        for chunk in part.split():
            words = tuple(w.lower() for w in WORD.findall(chunk))
            if words:
                phrases.append(words)
                bare_last = True
    if sum(len(p) for p in phrases) > MAXWORDS:
        raise ValidationError.field(field, f"at most {MAXWORDS} words")
    prefix = bare_last and not text.endswith('"') and len(phrases[-1][-1]) >= MIN_PREFIX
    digits = re.sub(r"[^0-9]", "", text) if _PHONE.match(text) else ""
    return SearchQuery(tuple(phrases), prefix,
                       digits if len(digits) >= MIN_PHONE_DIGITS else None)


def require_words(query: SearchQuery, field: str = "q") -> None:
    if not query.phrases:
        raise ValidationError.field(field, "enter at least one word (letters or digits)")


def fts5(query: SearchQuery) -> str:
    """An FTS5 MATCH string: quoted phrases, implicitly ANDed."""
    parts = ['"' + " ".join(p) + '"' for p in query.phrases]
    if query.prefix:
        parts[-1] += "*"
    return " ".join(parts)


def tsquery(query: SearchQuery) -> str:
    """to_tsquery input. Words hold only letters and digits, so quoting them is safe."""
    parts = [" <-> ".join(f"'{w}'" for w in p) for p in query.phrases]
    if query.prefix:
        parts[-1] += ":*"
    return " & ".join(f"({p})" for p in parts)


def pg_document(text_sql: str) -> str:
    return f"to_tsvector('{PG_CONFIG}', regexp_replace({text_sql}, '[[:punct:]]+', ' ', 'g'))"


def pg_message_document(alias: str) -> str:
    return pg_document(f"coalesce({alias}.\"body\", '')")


def pg_contact_document(alias: str) -> str:
    return pg_document(f"coalesce({alias}.\"name\", '') || ' ' || coalesce({alias}.\"email\", '')")


def pg_tsquery(query: SearchQuery) -> QueryString:
    return QueryString(f"to_tsquery('{PG_CONFIG}', {{}})", tsquery(query))


def not_revoked(alias: str) -> str:
    """A message the sender deleted for everyone is not found, though its text is kept."""
    if is_sqlite():
        return f"json_extract({alias}.\"metadata\", '$.revoked') IS NULL"
    return f"({alias}.\"metadata\" -> 'revoked') IS NULL"


def message_match(alias: str, query: SearchQuery) -> QueryString:
    """A condition on message rows named *alias*: the body matches, and it is not revoked."""
    if not query.phrases:
        return QueryString("1 = 0")
    if is_sqlite():
        return QueryString(f"({alias}.rowid IN (SELECT rowid FROM message_fts WHERE message_fts "
                           f"MATCH {{}}) AND {not_revoked(alias)})", fts5(query))
    return QueryString(f"({pg_message_document(alias)} @@ {{}} AND {not_revoked(alias)})",
                       pg_tsquery(query))


def phone_match(alias: str, query: SearchQuery) -> QueryString:
    if query.digits is None:
        return QueryString("1 = 0")
    # Digits only, so nothing in the pattern is a LIKE wildcard.
    return QueryString(f"{alias}.\"phone_number\" LIKE {{}}", f"%{query.digits}%")


def contact_match(alias: str, query: SearchQuery) -> QueryString:
    """A condition on contact rows named *alias*: name or e-mail match, or the phone
    number contains the query's digits."""
    if not query.phrases:
        words = QueryString("1 = 0")
    elif is_sqlite():
        words = QueryString(f"{alias}.rowid IN (SELECT rowid FROM contact_fts WHERE contact_fts "
                            f"MATCH {{}})", fts5(query))
    else:
        words = QueryString(f"{pg_contact_document(alias)} @@ {{}}", pg_tsquery(query))
    return QueryString("({} OR {})", words, phone_match(alias, query))
