"""The search attributes incidents keep current, so the Temporal UI and `baton incidents` can filter on them."""

from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey

INCIDENT_ID = SearchAttributeKey.for_keyword("IncidentId")
INCIDENT_STATUS = SearchAttributeKey.for_keyword("IncidentStatus")
INCIDENT_SEVERITY = SearchAttributeKey.for_keyword("IncidentSeverity")
INCIDENT_SERVICE = SearchAttributeKey.for_keyword("IncidentService")
INCIDENT_LEAD = SearchAttributeKey.for_keyword("IncidentLead")
"""Who leads the incident (unset while nobody does): `IncidentLead = "alice"`."""
INCIDENT_CHANNEL = SearchAttributeKey.for_keyword("IncidentChannel")
"""The Slack channel the incident posts in (its id, C…), once it has one: `/baton note` in it finds the incident."""
BOUNDARY_REFUSALS = SearchAttributeKey.for_int("BoundaryRefusals")
"""Requests the boundaries refused (never or undefined): `BoundaryRefusals > 0` finds what the policy forgot."""

ALL = (
    INCIDENT_ID,
    INCIDENT_STATUS,
    INCIDENT_SEVERITY,
    INCIDENT_SERVICE,
    INCIDENT_LEAD,
    INCIDENT_CHANNEL,
    BOUNDARY_REFUSALS,
)


def type_name(key: SearchAttributeKey) -> str:
    """`Keyword`, `Int`: how `temporal server start-dev --search-attribute NAME=TYPE` spells the key's type."""
    return {
        SearchAttributeIndexedValueType.KEYWORD: "Keyword",
        SearchAttributeIndexedValueType.INT: "Int",
    }[key.indexed_value_type]
