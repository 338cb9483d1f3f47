"""Card builders: the only way the service makes cards, so every card meets the spec.

Each builder returns a validated ``Card`` (see ``models``): a summary under 140
characters, an ``indicator`` from its value set, ``source.label``, a fresh ``uuid`` on
the card and on each suggestion, ``selectionBehavior`` whenever there are suggestions,
a ``description`` on every action. A summary that is too long is refused, never cut
(a truncated clinical sentence can change its meaning).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from cmvrx.service.cdshooks.models import (
    Action,
    Card,
    Coding,
    Indicator,
    Link,
    Source,
    Suggestion,
)

SOURCE_LABEL = "cmvrx — CMV treatment decision support (not a prescriber)"


def new_uuid() -> str:
    return str(uuid.uuid4())


def source(
    label: str = SOURCE_LABEL, *, url: str | None = None, topic: Coding | None = None
) -> Source:
    return Source(label=label, url=url, topic=topic)


def update_action(description: str, resource: Mapping[str, Any]) -> Action:
    """Replace a draft resource (same ``id``) by ``resource``."""
    if not resource.get("id") or not resource.get("resourceType"):
        raise ValueError("an update needs the whole resource with resourceType and id")
    return Action(type="update", description=description, resource=dict(resource))


def create_action(description: str, resource: Mapping[str, Any]) -> Action:
    if not resource.get("resourceType"):
        raise ValueError("a create needs the whole resource with its resourceType")
    return Action(type="create", description=description, resource=dict(resource))


def delete_action(description: str, resource_ids: Sequence[str]) -> Action:
    """Delete resources named ``Type/id``."""
    return Action(type="delete", description=description, resourceId=list(resource_ids))


def suggestion(
    label: str, actions: Sequence[Action], *, recommended: bool | None = None
) -> Suggestion:
    return Suggestion(
        label=label, uuid=new_uuid(), isRecommended=recommended, actions=list(actions) or None
    )


def card(
    summary: str,
    indicator: Indicator,
    *,
    detail: str | None = None,
    card_source: Source | None = None,
    suggestions: Sequence[Suggestion] = (),
    selection_behavior: Literal["at-most-one", "any"] | None = None,
    override_reasons: Sequence[Coding] = (),
    links: Sequence[Link] = (),
) -> Card:
    """One card. With suggestions and no ``selection_behavior``, ``at-most-one`` is used
    (the safe choice for alternative corrections of one order)."""
    if suggestions and selection_behavior is None:
        selection_behavior = "at-most-one"
    return Card(
        uuid=new_uuid(),
        summary=summary,
        detail=detail,
        indicator=indicator,
        source=card_source or source(),
        suggestions=list(suggestions) or None,
        selectionBehavior=selection_behavior if suggestions else None,
        overrideReasons=list(override_reasons) or None,
        links=list(links) or None,
    )
