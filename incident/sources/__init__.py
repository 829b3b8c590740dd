"""Normalisers: each source's payload in, a list of Alerts out. Pure functions over validated pydantic models."""
