"""Recent GitHub deployments of a service's repository, as changes: the likeliest suspects for a page.

Links point at the repository's deployments page. For GitHub Enterprise the web address is derived from
`api_url`: `https://ghe.example.com/api/v3` -> `https://ghe.example.com`, `https://api.example.ghe.com` ->
`https://example.ghe.com` (and `https://api.github.com` -> `https://github.com`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from pydantic import AwareDatetime, BaseModel, TypeAdapter, ValidationError

from activities.context.common import ProviderError, get, within
from activities.http_rules import excerpt
from incident.config import Deploys, GitHubIntegration
from incident.context import Change, ContextPart

PER_PAGE = 30
_SHA = re.compile(r"^[0-9a-f]{40}$")
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class _User(BaseModel):
    login: str


class _Deployment(BaseModel):
    id: int
    sha: str
    ref: str
    task: str = "deploy"
    environment: str | None = None
    description: str | None = None
    creator: _User | None = None
    created_at: AwareDatetime


_DEPLOYMENTS = TypeAdapter(list[_Deployment])


def web_url(api_url: str) -> str:
    """The web address that goes with a GitHub API address (see the module docstring)."""
    parts = urlsplit(api_url.rstrip("/"))
    host = parts.netloc
    if host.startswith("api."):
        host = host[len("api.") :]
    path = parts.path
    if path.endswith("/api/v3"):
        path = path[: -len("/api/v3")]
    return f"{parts.scheme}://{host}{path}"


def to_change(d: _Deployment, service: str, link: str) -> Change:
    return Change(
        service=service,
        version=d.sha[:7] if _SHA.match(d.ref) else d.ref,
        author=d.creator.login if d.creator else None,
        description=d.description or d.task,
        link=link,
        at=d.created_at,
        source="github",
        kind="deploy",
    )


def _failure(resp: httpx.Response, repo: str) -> str:
    """Why GitHub refused, in the words a responder needs: bad token, rate limit, missing repo."""
    try:
        message = excerpt(str(resp.json().get("message", "")), limit=200)
    except (ValueError, AttributeError):
        message = ""
    status = resp.status_code
    http = f"HTTP {status}: {message}" if message else f"HTTP {status}"
    if status == 401:
        return f"GitHub rejected the token ({http}): check integrations.github.token"
    if status == 429 or (status == 403 and resp.headers.get("x-ratelimit-remaining") == "0"):
        reset = resp.headers.get("x-ratelimit-reset", "")
        until = f" until {datetime.fromtimestamp(int(reset), UTC):%H:%M:%S} UTC" if reset.isdigit() else ""
        return f"rate limited by GitHub{until} ({http})"
    if status == 403:
        return f"GitHub refused access to {repo} ({http}): the token may not read deployments"
    if status == 404:
        return f"{repo} not found on GitHub ({http}): wrong name, or the token cannot see it"
    return f"GitHub answered {http}"


async def _fetch(
    http: httpx.AsyncClient, gh: GitHubIntegration, repo: str, environment: str | None, timeout: float
) -> list[_Deployment]:
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    token = gh.token.reveal() if gh.token else None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    params = {"per_page": str(PER_PAGE)}
    if environment:
        params["environment"] = environment
    url = f"{gh.api_url.rstrip('/')}/repos/{repo}/deployments"
    resp = await get(http, url, what="GitHub", base=gh.api_url, timeout=timeout, params=params, headers=headers)
    if resp.status_code != 200:
        raise ProviderError(_failure(resp, repo))
    try:
        return _DEPLOYMENTS.validate_json(resp.content)
    except ValidationError:
        raise ProviderError("GitHub's answer is not a list of deployments") from None


async def gather_deployments(
    http: httpx.AsyncClient,
    gh: GitHubIntegration | None,
    deploys: Deploys,
    service: str,
    since: datetime,
    timeout: float,
) -> ContextPart:
    """Deployments created at or after `since` (the newest PER_PAGE looked at). Without an integration, the
    public API is asked without a token. Never raises."""
    if not deploys.github:
        return ContextPart(provider="github")
    repo = deploys.github.strip("/")
    if not _REPO.match(repo):
        return ContextPart(provider="github", ok=False, error=f"deploys.github is {repo!r}, not owner/repo")
    gh = gh or GitHubIntegration()
    try:
        found = await within(timeout, _fetch(http, gh, repo, deploys.environment, timeout))
    except ProviderError as e:
        return ContextPart(provider="github", ok=False, error=str(e))
    link = f"{web_url(gh.api_url)}/{repo}/deployments"
    changes = [to_change(d, service, link) for d in found if d.created_at >= since]
    return ContextPart(provider="github", changes=sorted(changes, key=lambda c: c.at, reverse=True))
