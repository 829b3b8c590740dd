"""A link carried on alerts and pages."""

from pydantic import BaseModel


class Link(BaseModel):
    href: str
    text: str = ""
