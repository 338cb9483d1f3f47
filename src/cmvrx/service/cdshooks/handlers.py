"""One handler per hook: from a validated call to the cards to show.

The clinical work (FHIR → case/orders, ``cmvrx.check_order``) is wired in here once it
lands; a handler receives the validated request and context, and the service clock
reading (``as_of``), and must build its cards with ``cards.card`` only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from cmvrx.service.cdshooks.models import Card, HookRequest


@dataclass(frozen=True)
class HookCall:
    """A verified, validated hook invocation."""

    service_id: str
    request: HookRequest
    context: BaseModel
    as_of: datetime
    prefetch: dict[str, Any] = field(default_factory=dict)
    #: the deployment's opt-in (``cmvrx serve --no-dialysis-unless-recorded``)
    no_dialysis_unless_recorded: bool = False


Handler = Callable[[HookCall], list[Card]]


def patient_view(call: HookCall) -> list[Card]:
    """Where the CMV antiviral course stands (nothing for a patient with nothing to say)."""
    from cmvrx.service.cdshooks.patient_view import patient_view_cards

    return patient_view_cards(
        call.prefetch,
        as_of=call.as_of,
        no_dialysis_unless_recorded=call.no_dialysis_unless_recorded,
    )


def order_select(call: HookCall) -> list[Card]:
    """Regimen guidance as soon as a CMV antiviral is picked."""
    from cmvrx.service.cdshooks.order_select import order_select_cards

    context: Any = call.context
    return order_select_cards(
        call.prefetch,
        context.draftOrders.model_dump(),
        context.selections,
        as_of=call.as_of,
        no_dialysis_unless_recorded=call.no_dialysis_unless_recorded,
    )


def order_sign(call: HookCall) -> list[Card]:
    """Check every draft CMV antiviral order with the one order check."""
    from cmvrx.service.cdshooks.order_sign import order_sign_cards

    drafts = call.context.draftOrders.model_dump()  # type: ignore[attr-defined]
    return order_sign_cards(
        call.prefetch,
        drafts,
        as_of=call.as_of,
        no_dialysis_unless_recorded=call.no_dialysis_unless_recorded,
    )
