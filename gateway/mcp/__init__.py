"""`baton mcp`: the agent's tools over the Model Context Protocol (identity, tools, serving)."""
