"""One typed HTTP API: every operation of every installed app documents its success answer with a schema, so a
client (the UI included) parses answers into models instead of guessing fields."""

from __future__ import annotations

from typing import Any

from shipml.apps import installed
from shipml.core.api import create_app


def undocumented(spec: dict[str, Any]) -> list[str]:
    """The operations whose 2xx answers declare no content schema."""
    missing = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "delete", "patch"):
                continue
            ok = {k: v for k, v in operation["responses"].items() if k.startswith("2")}
            schemas = [c.get("schema") for r in ok.values() for c in (r.get("content") or {}).values()]
            if not ok or not all(s for s in schemas) or not schemas or any(s == {} for s in schemas):
                missing.append(f"{method.upper()} {path}")
    return missing


def test_every_operation_documents_its_answer() -> None:
    spec = create_app(installed()).openapi()
    operations = sum(1 for item in spec["paths"].values() for m in item if m in ("get", "post", "put", "delete"))
    assert operations > 50
    assert undocumented(spec) == []
