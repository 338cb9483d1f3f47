"""The services cmvrx offers (``GET /cds-services``): one per hook, with prefetch templates."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from pydantic import BaseModel

from cmvrx.service import prefetch
from cmvrx.service.cdshooks import handlers
from cmvrx.service.cdshooks.models import (
    CdsService,
    Discovery,
    OrderSelectContext,
    OrderSignContext,
    PatientViewContext,
)

_USAGE = (
    "Decision support, not a prescriber. Needs the prefetch data (or fhirServer with"
    " fhirAuthorization); without either the service answers HTTP 412."
)


@dataclass(frozen=True)
class ServiceSpec:
    id: str
    hook: str
    title: str
    description: str
    context: type[BaseModel]
    handler: handlers.Handler


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        id="cmvrx-patient-view",
        hook="patient-view",
        title="CMV treatment course check",
        description="Where a CMV antiviral course stands: re-dosing for today's kidneys,"
        " cytopenias, electrolytes, tests overdue, maintenance eligible to stop.",
        context=PatientViewContext,
        handler=handlers.patient_view,
    ),
    ServiceSpec(
        id="cmvrx-order-select",
        hook="order-select",
        title="CMV antiviral regimen guidance",
        description="Regimen guidance as soon as a CMV antiviral is selected.",
        context=OrderSelectContext,
        handler=handlers.order_select,
    ),
    ServiceSpec(
        id="cmvrx-order-sign",
        hook="order-sign",
        title="CMV antiviral order check",
        description="Checks each draft CMV antiviral order against renal function, counts,"
        " indication and the other drafts; suggests the corrected order.",
        context=OrderSignContext,
        handler=handlers.order_sign,
    ),
)

BY_ID = {s.id: s for s in SERVICES}


@lru_cache(maxsize=1)
def discovery() -> Discovery:
    templates = prefetch.templates()
    return Discovery(
        services=[
            CdsService(
                hook=s.hook,
                title=s.title,
                description=s.description,
                id=s.id,
                prefetch=templates,
                usageRequirements=_USAGE,
            )
            for s in SERVICES
        ]
    )
