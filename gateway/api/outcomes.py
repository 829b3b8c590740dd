"""The façade's three errors as the incidents API answers them, and the answers each route documents."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from gateway.answers import ERROR_BODY
from gateway.client import Busy, NotFound, Refused, Unavailable
from gateway.intake.errors import RETRY_LATER, ApiError

WHY = {
    400: "the body is not JSON (not UTF-8, compressed, malformed)",
    401: "no token, or one that is no person's or agent's (checked before the body)",
    403: "the right token for the wrong call: an agent's on a human decision (the attempt is recorded on the "
    "incident), a person's where only agents may, an integration's token",
    404: "no such incident (or service)",
    409: "the incident refused: a boundary (`rule`, `verdict`), already resolved, approved twice, not yours to decide",
    413: "the body is over 1 MB",
    422: "a field is missing, unknown or wrong: `message` names it, `problems` lists every one",
    503: "Temporal cannot be reached: nothing was recorded; retry after Retry-After",
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"description": WHY[s], **ERROR_BODY} for s in statuses}


READS = documented(401, 403, 404, 422, 503)
ACTS = documented(400, 401, 403, 404, 409, 413, 422, 503)


@contextmanager
def answered() -> Iterator[None]:
    """NotFound → 404, Refused → 409 (with its rule and verdict), Unavailable → 503."""
    try:
        yield
    except NotFound as e:
        raise ApiError(404, "not_found", str(e)) from None
    except Busy as e:
        raise ApiError(409, "busy", str(e)) from None
    except Refused as e:
        raise ApiError(409, "refused", str(e), rule=e.rule, verdict=e.verdict) from None
    except Unavailable:
        raise ApiError(
            503, "temporal_unavailable", "Temporal cannot be reached: nothing was recorded; retry", RETRY_LATER
        ) from None
