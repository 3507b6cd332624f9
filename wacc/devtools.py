"""Developer commands that regenerate committed files (tests fail when these drift).

    python -m wacc.devtools docs             # docs/configuration.md + docs/permissions.md tables
    python -m wacc.devtools index-migration  # a migration for newly declared INDEXES
    (auto migrations: PICCOLO_CONF=wacc.piccolo_conf piccolo migrations new wacc --auto)
"""

from __future__ import annotations

import ast
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from wacc.config import describe
from wacc.schema import ALL_INDEXES, MIGRATIONS_DIR
from wacc.security.roles import PERMISSIONS, Role

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
BEGIN, END = "<!-- BEGIN GENERATED{} -->", "<!-- END GENERATED{} -->"


def _fmt_default(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(value) if value else "(empty)"
    if value == "":
        return "(empty)"
    return str(value).lower() if isinstance(value, bool) else str(value)


def configuration_table() -> str:
    rows = ["| Variable | wacc.toml | Type | Default | Description |", "|---|---|---|---|---|"]
    for info in describe():
        doc = info.doc
        if info.choices:
            doc += f" One of: {', '.join(info.choices)}."
        if info.secret:
            doc += f" Secret: `{info.env}_FILE` reads it from a file."
        rows.append(
            f"| `{info.env}` | `{info.section}.{info.name}` | {info.type} | "
            f"`{_fmt_default(info.default)}` | {doc} |"
        )
    return "\n".join(rows)


def permissions_table() -> str:
    roles = list(Role)
    rows = [
        "| Permission | " + " | ".join(r.value for r in roles) + " | What it allows |",
        "|---|" + "---|" * len(roles) + "---|",
    ]
    for perm, (description, holders) in PERMISSIONS.items():
        marks = " | ".join("✓" if r in holders else "–" for r in roles)
        rows.append(f"| `{perm}` | {marks} | {description} |")
    return "\n".join(rows)


def endpoint_rows() -> list[tuple[str, str, str]]:
    """(method, path, permission) for every API route of the app with its plugins."""
    import base64

    from wacc.app import create_app
    from wacc.config import load_settings
    from wacc.security.crypto import Keyring

    # Built-in features only: installed third-party plugins do not belong in our docs.
    settings = load_settings({"WACC_DATA_DIR": "/nonexistent-wacc-docs", "WACC_PLUGINS": "none",
                              "WACC_SECRET_KEY": base64.b64encode(bytes(32)).decode()})
    app = create_app(settings, keyring=Keyring((bytes(32),)))
    rows = []
    for route in app.routes:
        if not route.path.startswith("/api/v1"):
            continue
        for handler in getattr(route, "route_handlers", []):
            for method in sorted(handler.http_methods - {"OPTIONS"}):
                opt = handler.opt
                perm = "public" if opt.get("public") else opt.get("permission", "(none)")
                rows.append((method, route.path.replace(":str", ""), perm))
    return sorted(rows, key=lambda r: (r[1], r[0]))


def endpoints_table() -> str:
    rows = ["| Method | Path | Permission |", "|---|---|---|"]
    rows += [f"| {m} | `{p}` | `{perm}` |" for m, p, perm in endpoint_rows()]
    return "\n".join(rows)


def replace_generated(text: str, table: str, name: str = "") -> str:
    tag = f": {name}" if name else ""
    begin, end = BEGIN.format(tag), END.format(tag)
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise SystemExit(f"generated-section markers {begin!r} missing")
    return pattern.sub(lambda _: f"{begin}\n{table}\n{end}", text)


def generated_docs() -> dict[Path, str]:
    """Each generated doc's expected full text (the drift test compares these)."""
    config = DOCS / "configuration.md"
    perms = DOCS / "permissions.md"
    perms_text = replace_generated(perms.read_text(), permissions_table())
    perms_text = replace_generated(perms_text, endpoints_table(), "endpoints")
    return {
        config: replace_generated(config.read_text(), configuration_table()),
        perms: perms_text,
    }


def write_docs() -> None:
    for path, text in generated_docs().items():
        path.write_text(text)
        print(f"wrote {path.relative_to(REPO)}")


def migrated_index_statements() -> set[str]:
    found: set[str] = set()
    for path in MIGRATIONS_DIR.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "STATEMENTS" for t in node.targets
            ):
                found.update(ast.literal_eval(node.value))
    return found


def write_index_migration() -> None:
    pending = [i.ddl() for i in ALL_INDEXES if i.ddl() not in migrated_index_statements()]
    if not pending:
        print("no new indexes")
        return
    now = datetime.now(UTC)
    mid = now.strftime("%Y-%m-%dT%H:%M:%S:%f")
    path = MIGRATIONS_DIR / f"wacc_{now.strftime('%Y_%m_%dt%H_%M_%S_%f')}.py"
    body = "".join(f"    {s!r},\n" for s in pending)
    path.write_text(
        f'"""Multi-column indexes and unique constraints (see wacc.db.columns.Index).\n\n'
        f"Written out as DDL so this migration never changes when the code does; a later\n"
        f'index gets a migration of its own (python -m wacc.devtools index-migration).\n"""\n\n'
        f"from piccolo.apps.migrations.auto.migration_manager import MigrationManager\n\n"
        f'ID = "{mid}"\nVERSION = "1.38.0"\nDESCRIPTION = "multi-column indexes"\n\n'
        f"STATEMENTS = [\n{body}]\n\n\n"
        f"async def forwards():\n"
        f'    manager = MigrationManager(migration_id=ID, app_name="wacc", '
        f"description=DESCRIPTION)\n\n"
        f"    async def create_indexes():\n"
        f"        from piccolo.apps.migrations.tables import Migration\n\n"
        f"        for statement in STATEMENTS:\n"
        f"            await Migration._meta.db.run_ddl(statement)\n\n"
        f"    manager.add_raw(create_indexes)\n"
        f"    return manager\n"
    )
    print(f"wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    commands = {"docs": write_docs, "index-migration": write_index_migration}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        raise SystemExit(__doc__)
    commands[sys.argv[1]]()
