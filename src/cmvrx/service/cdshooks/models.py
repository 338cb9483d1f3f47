"""The CDS Hooks 2.0 wire format as pydantic models: request, response, discovery, feedback.

Field names are the spec's (camelCase). The response models enforce the spec's
invariants (``HL7/cds-hooks`` ``input/fsh/invariants``): cds-resp-2 (delete needs
``resourceId``), -3 (``appContext`` only on smart links), -4 (override reasons have a
``display``), -5 (every suggestion action has a ``description``), -6 (suggestions ⇒
``selectionBehavior``), -7; a ``summary`` under 140 characters; ``indicator`` from its
value set; the request's cds-r-1 (``fhirAuthorization`` ⇒ ``fhirServer``) and the
feedback's cds-fb-1..3. ``wire()`` renders a model with no null or empty value.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Indicator = Literal["info", "warning", "critical"]
SUMMARY_MAX = 139  # "<140 characters"


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Inbound(BaseModel):
    """What a client sends: unknown fields are tolerated (the spec grows), not kept."""

    model_config = ConfigDict(extra="ignore", frozen=True)


# --------------------------------------------------------------------------- request


class FhirAuthorization(_Inbound):
    access_token: str = Field(min_length=1, repr=False)
    token_type: Literal["Bearer"]
    expires_in: int = Field(gt=0)
    scope: str = Field(min_length=1)
    subject: str = Field(min_length=1)
    patient: str | None = None


class HookRequest(_Inbound):
    hook: str = Field(min_length=1, max_length=100)
    hookInstance: str = Field(min_length=1, max_length=200)  # noqa: N815 - spec name
    fhirServer: str | None = Field(default=None, min_length=1, max_length=2000)  # noqa: N815
    fhirAuthorization: FhirAuthorization | None = Field(default=None, repr=False)  # noqa: N815
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None
    extension: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _cds_r_1(self) -> HookRequest:
        if self.fhirAuthorization is not None and self.fhirServer is None:
            raise ValueError("fhirServer is required when fhirAuthorization is given (cds-r-1)")
        return self

    @field_validator("fhirServer")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("fhirServer must be an http(s) URL")
        return value


class _PatientContext(_Inbound):
    userId: str = Field(min_length=1)  # noqa: N815
    patientId: str = Field(min_length=1)  # noqa: N815
    encounterId: str | None = None  # noqa: N815


class PatientViewContext(_PatientContext):
    """``patient-view`` (hook library, maturity 5)."""


class _Bundle(_Inbound):
    model_config = ConfigDict(extra="allow", frozen=True)
    resourceType: Literal["Bundle"]  # noqa: N815
    entry: list[dict[str, Any]] | None = None


class OrderSignContext(_PatientContext):
    """``order-sign`` (hook library, maturity 5)."""

    draftOrders: _Bundle  # noqa: N815


class OrderSelectContext(OrderSignContext):
    """``order-select`` (hook library, maturity 4)."""

    selections: list[str] = Field(min_length=1)


# --------------------------------------------------------------------------- response


class Coding(_Wire):
    code: str = Field(min_length=1)
    system: str | None = None
    display: str | None = None


class Source(_Wire):
    label: str = Field(min_length=1)
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None


class Action(_Wire):
    type: Literal["create", "update", "delete"]
    description: str = Field(min_length=1)
    resource: dict[str, Any] | None = None
    resourceId: list[str] | None = None  # noqa: N815

    @model_validator(mode="after")
    def _shape(self) -> Action:
        if self.type == "delete" and (self.resourceId is None or self.resource is not None):
            raise ValueError("a delete action needs resourceId and no resource (cds-resp-2)")
        if self.type in ("create", "update") and not self.resource:
            raise ValueError(f"a {self.type} action needs the whole resource")
        return self


class Suggestion(_Wire):
    label: str = Field(min_length=1)
    uuid: str | None = None
    isRecommended: bool | None = None  # noqa: N815
    actions: list[Action] | None = None


class Link(_Wire):
    label: str = Field(min_length=1)
    url: str = Field(min_length=1)
    type: Literal["absolute", "smart"]
    appContext: str | None = None  # noqa: N815
    autolaunchable: bool | None = None

    @model_validator(mode="after")
    def _cds_resp_3(self) -> Link:
        if self.appContext is not None and self.type != "smart":
            raise ValueError("appContext is only for smart links (cds-resp-3)")
        return self


class Card(_Wire):
    uuid: str | None = None
    summary: str = Field(min_length=1, max_length=SUMMARY_MAX)
    detail: str | None = None
    indicator: Indicator
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None  # noqa: N815
    overrideReasons: list[Coding] | None = None  # noqa: N815
    links: list[Link] | None = None

    @model_validator(mode="after")
    def _invariants(self) -> Card:
        if self.suggestions and self.selectionBehavior is None:
            raise ValueError(
                "selectionBehavior is required when there are suggestions (cds-resp-6)"
            )
        for reason in self.overrideReasons or ():
            if not reason.display:
                raise ValueError("every override reason needs a display (cds-resp-4)")
        return self


class CdsResponse(_Wire):
    cards: list[Card]
    systemActions: list[Action] | None = None  # noqa: N815


# --------------------------------------------------------------------------- discovery


class CdsService(_Wire):
    hook: str
    title: str | None = None
    description: str
    id: str
    prefetch: dict[str, str] | None = None
    usageRequirements: str | None = None  # noqa: N815


class Discovery(_Wire):
    services: list[CdsService]


# --------------------------------------------------------------------------- feedback


class AcceptedSuggestion(_Inbound):
    id: str = Field(min_length=1, max_length=100)


class OverrideReason(_Inbound):
    reason: Coding | None = None
    userComment: str | None = Field(default=None, max_length=4000)  # noqa: N815

    @model_validator(mode="after")
    def _cds_fb_3(self) -> OverrideReason:
        if self.reason is None and not self.userComment:
            raise ValueError("an overrideReason needs a reason and/or a userComment (cds-fb-3)")
        return self


class FeedbackItem(_Inbound):
    card: str = Field(min_length=1, max_length=100)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = None  # noqa: N815
    overrideReason: OverrideReason | None = None  # noqa: N815
    outcomeTimestamp: datetime  # noqa: N815

    @model_validator(mode="after")
    def _cds_fb(self) -> FeedbackItem:
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("an accepted outcome lists its acceptedSuggestions (cds-fb-2)")
        if self.outcomeTimestamp.utcoffset() is None:
            raise ValueError("outcomeTimestamp needs a time zone")
        return self


class FeedbackRequest(_Inbound):
    feedback: list[FeedbackItem] = Field(min_length=1, max_length=100)


# --------------------------------------------------------------------------- JSON hygiene


def wire(model: BaseModel) -> dict[str, Any]:
    """The model as spec JSON: no ``null``, ``""``, ``[]`` or ``{}`` anywhere, except the
    top-level ``cards`` array, which may be empty ("no guidance")."""
    data = model.model_dump(mode="json", exclude_none=True)
    cleaned = strip_empty(data)
    assert isinstance(cleaned, dict)
    if isinstance(model, CdsResponse):
        cleaned.setdefault("cards", [])
    return cleaned


def strip_empty(value: object) -> object:
    """``value`` with every null/empty string/list/object removed, depth first."""
    if isinstance(value, dict):
        return {k: kept for k, v in value.items() if (kept := _stripped(v)) is not _DROP}
    if isinstance(value, list):
        return [v for v in map(_stripped, value) if v is not _DROP]
    return value


_DROP = object()  # what ``_stripped`` gives for a value to leave out


def _stripped(value: object) -> object:
    """``strip_empty(value)``, or ``_DROP`` when that is empty (null, "", [] or {})."""
    if value is None:
        return _DROP
    if isinstance(value, dict | list):
        value = strip_empty(value)
    elif not isinstance(value, str):
        return value  # a number or a bool: kept as is (no recursion for leaves)
    return value if value else _DROP
