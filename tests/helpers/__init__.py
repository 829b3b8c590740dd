"""Shared test helpers: configs, waiting on conditions, loopback HTTP, Temporal harnesses."""
