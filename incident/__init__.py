"""The incident domain in pure Python: models, config, policy and schedule math. No I/O, no Temporal client."""
