"""Audit vignettes: a base record (``vignettes/_base.yaml``) changed by each vignette
(``replace`` by id, ``drop`` ids, ``add`` resources), and the (order_id, kind) set the
audit must find. Also writes them as a Bulk Data export (NDJSON per type + manifest)."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent / "vignettes"
VIGNETTES = sorted(p for p in HERE.glob("*.yaml") if not p.name.startswith("_"))


def base() -> dict[str, Any]:
    return dict(yaml.safe_load((HERE / "_base.yaml").read_text()))


def load(path: Path) -> tuple[list[dict[str, Any]], datetime, set[tuple[str | None, str]]]:
    """(resources, as_of, expected (order_id, kind) set) of one vignette."""
    spec = yaml.safe_load(path.read_text()) or {}
    doc = base()
    resources: list[dict[str, Any]] = copy.deepcopy(doc["resources"])
    drop = set(spec.get("drop") or ())
    for r in spec.get("replace") or ():
        drop.add(r["id"])
    resources = [r for r in resources if r["id"] not in drop]
    resources += [*(spec.get("replace") or ()), *(spec.get("add") or ())]
    as_of = datetime.fromisoformat(str(spec.get("as_of") or doc["as_of"]))
    expect = {(e[0] or None, e[1]) for e in spec.get("expect") or ()}
    return resources, as_of, expect


def write_export(
    folder: Path, records: list[tuple[str, list[dict[str, Any]]]], as_of: datetime
) -> Path:
    """A Bulk Data export of several records; each record's ids get its prefix."""
    folder.mkdir(parents=True, exist_ok=True)
    by_type: dict[str, list[str]] = {}
    for prefix, resources in records:
        for r in resources:
            r = _prefixed(r, prefix)
            by_type.setdefault(r["resourceType"], []).append(json.dumps(r))
    output = []
    for kind, lines in sorted(by_type.items()):
        (folder / f"{kind}.ndjson").write_text("\n".join(lines) + "\n")
        output.append({"type": kind, "url": f"{kind}.ndjson", "count": len(lines)})
    manifest = {
        "transactionTime": as_of.isoformat(),
        "request": "$export",
        "requiresAccessToken": False,
        "output": output,
        "error": [],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def _prefixed(resource: dict[str, Any], prefix: str) -> dict[str, Any]:
    text = json.dumps(resource)
    text = text.replace('"Patient/p1"', f'"Patient/{prefix}p1"')
    r: dict[str, Any] = json.loads(text)
    r["id"] = prefix + str(r["id"])
    return r
