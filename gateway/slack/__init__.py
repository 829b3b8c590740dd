"""The Slack app: request signing, the page's buttons and modals, the `/baton` command, and their routes."""
