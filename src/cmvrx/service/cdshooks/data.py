"""The data a hook call needs: the prefetch, else the EHR's FHIR server, else HTTP 412.

CDS Hooks 2.0 §"Providing FHIR Resources": a prefetch key the client left out means "not
attempted or could not"; an OperationOutcome in its place is an error, not data; ``null``
(a read) or an empty Bundle (a search) mean "no data" and are used as such. Every key
the service asked for that is missing or an error is fetched from ``fhirServer`` with the
``fhirAuthorization`` bearer token (``cmvrx.fhir.client.FhirClient``: the token is held
for the calls of this request only, never logged, never stored) — only an https server,
and only one the client registered when it lists its servers; with no ``fhirServer``, one
the service may not call, or when the server cannot give it, the call is answered 412
naming the keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cmvrx.errors import CmvrxError
from cmvrx.service.security import fhir_server_refusal


class DataMissingError(CmvrxError):
    """The data the service needs could not be had: answered HTTP 412."""

    def __init__(self, message: str, keys: list[str]) -> None:
        super().__init__(message)
        self.keys = keys


def unusable_keys(templates: Mapping[str, str], given: Mapping[str, Any]) -> list[str]:
    """The template keys the prefetch does not satisfy (absent, or an OperationOutcome)."""
    return sorted(k for k in templates if k not in given or _is_error(given[k]))


def _is_error(value: object) -> bool:
    if type(value) is dict:  # the usual JSON object: no ABC check
        return value.get("resourceType") == "OperationOutcome"
    return isinstance(value, Mapping) and value.get("resourceType") == "OperationOutcome"


def complete(
    templates: Mapping[str, str],
    given: Mapping[str, Any],
    *,
    context: Mapping[str, Any],
    fhir_server: str | None,
    access_token: str | None,
    transport: Any = None,
    listed_servers: tuple[str, ...] = (),
) -> dict[str, Any]:
    """``given`` with every unusable key fetched from ``fhir_server``; ``DataMissingError`` when
    that cannot be done (no server, a server the service may not call — not https, or not
    in ``listed_servers`` when the client lists some —, a token the context cannot fill,
    the server failing)."""
    missing = unusable_keys(templates, given)
    data = {k: v for k, v in given.items() if k in templates and k not in missing}
    if not missing:
        return data
    if fhir_server is None:
        raise DataMissingError(
            "prefetch data missing and no fhirServer given: " + ", ".join(missing), missing
        )
    refusal = fhir_server_refusal(fhir_server, listed_servers)
    if refusal is not None:
        raise DataMissingError(
            f"prefetch data missing ({', '.join(missing)}) and not fetched: {refusal}", missing
        )
    from cmvrx.fhir.client import FhirClient, FhirServerError

    wanted = {k: templates[k] for k in missing}
    try:
        with FhirClient(fhir_server, access_token, transport=transport) as client:
            data.update(client.prefetch(wanted, context))
    except FhirServerError as exc:
        raise DataMissingError(
            f"prefetch data missing ({', '.join(missing)}) and the fhirServer could not give"
            f" it: {exc}",
            missing,
        ) from None
    return data
