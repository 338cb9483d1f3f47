"""FHIR R4 mapping layer: inbound resources to a case, course events and draft orders;
outbound plans to RequestGroup/CarePlan; a FHIR search client; the code bindings.

Submodules are imported on use (``cmvrx.fhir.inbound``, ``.outbound``, ``.client``,
``.codes``) so that ``import cmvrx`` stays light; ``httpx`` is imported only by the
client, and only when it is called.
"""
