"""Who a Slack user is in baton: the person whose `slack:` member id they are. Anyone else may read, not decide."""

from __future__ import annotations

from incident.config import Config


class NotAPerson(Exception):
    """A Slack user baton cannot name: they may read, not decide."""


def members(config: Config) -> dict[str, list[str]]:
    """Slack member id -> the people in the config with that `slack:`."""
    out: dict[str, list[str]] = {}
    for name, person in config.people.items():
        if person.slack:
            out.setdefault(person.slack.strip(), []).append(name)
    return out


class People:
    """Slack member ids to people, and actors to the names people read."""

    def __init__(self, config: Config):
        self.config = config
        self.members = members(config)

    def person(self, user_id: str) -> str:
        names = self.members.get(user_id.strip(), []) if user_id else []
        if len(names) == 1:
            return names[0]
        if not names:
            raise NotAPerson(
                f"your Slack user {user_id or '(unknown)'} is not a person in baton's config; "
                f"ask an admin to add `slack: {user_id}`"
            )
        raise NotAPerson(
            f"your Slack user {user_id} is the `slack:` of {', '.join(names)} in baton's config; "
            "ask an admin to keep it on one person"
        )

    def display(self, actor: str | None) -> str:
        """`human:alice` -> `Alice` (the person's name in the config), else the actor as written."""
        if not actor:
            return "someone"
        kind, _, name = actor.partition(":")
        person = self.config.people.get(name) if kind == "human" else None
        return (person.name or name) if person else actor
