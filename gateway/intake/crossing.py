"""What may cross into Temporal: a value the workflow could not decode exactly must be refused at the edge.

The intake encodes each alert (and change) with the data converter the workflows use and decodes it back; what
does not come back equal (a lone surrogate that cannot be UTF-8, a time that does not survive) is refused with a
4xx naming it, per member, so one bad alert never takes the others in its request down with it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from temporalio.contrib.pydantic import pydantic_data_converter

_CONVERTER = pydantic_data_converter.payload_converter


def problem(value: BaseModel) -> str | None:
    """None when `value` survives the trip to a workflow and back unchanged; else what is wrong."""
    try:
        back: Any = _CONVERTER.from_payloads(_CONVERTER.to_payloads([value]), [type(value)])[0]
    except Exception as e:  # the converter's own errors: encoding, decoding, validation
        return _short(e)
    if back != value:
        return "does not survive encoding unchanged"
    return None


def _short(e: Exception) -> str:
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    if "surrogate" in text:
        return "contains text that is not valid Unicode (a lone surrogate)"
    return text[:200]
