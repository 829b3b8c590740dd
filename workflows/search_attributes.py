"""The search attributes incidents keep current, so the Temporal UI and `baton incidents` can filter on them."""

from temporalio.common import SearchAttributeKey

INCIDENT_ID = SearchAttributeKey.for_keyword("IncidentId")
INCIDENT_STATUS = SearchAttributeKey.for_keyword("IncidentStatus")
INCIDENT_SEVERITY = SearchAttributeKey.for_keyword("IncidentSeverity")
INCIDENT_SERVICE = SearchAttributeKey.for_keyword("IncidentService")

ALL = (INCIDENT_ID, INCIDENT_STATUS, INCIDENT_SEVERITY, INCIDENT_SERVICE)
