"""The deployment files agree with the code they run: what `make deploy-check`'s schemas cannot know. The image
copies every package the project installs, each container runs a real `baton` command and a probe the probe
accepts, the Kubernetes config loads, and every secret a config names has a place in the secret examples."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.cli import app
from incident.config import parse_config
from workflows import search_attributes as sa

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
PROBES = (["worker"], ["intake"], ["intake", "--alive"])


def k8s_documents() -> list[dict[str, Any]]:
    return [d for f in sorted((DEPLOY / "k8s").glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]


def containers() -> list[dict[str, Any]]:
    return [
        c for d in k8s_documents() if d["kind"] == "Deployment" for c in d["spec"]["template"]["spec"]["containers"]
    ]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def commands() -> set[str]:
    return {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}


def test_the_image_copies_every_package_and_module_the_project_installs() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    copied = set(re.findall(r"^COPY (?!--from)(.+?) \S+$", (DEPLOY / "Dockerfile").read_text(), re.M))
    sources = {part.rstrip("/") for line in copied for part in line.split()}
    packages = {pattern.rstrip("*") for pattern in project["packages"]["find"]["include"]}
    modules = {f"{m}.py" for m in project["py-modules"]}
    assert packages | modules | {"pyproject.toml", "README.md"} <= sources


def test_the_image_installs_no_extra() -> None:
    install = [line for line in (DEPLOY / "Dockerfile").read_text().splitlines() if "pip install" in line]
    assert install and all("[" not in line for line in install), install


def test_every_container_runs_a_baton_command_and_a_probe_that_exists() -> None:
    args = [c["args"] for c in containers()] + [s["command"] for s in compose()["services"].values() if "command" in s]
    assert sorted(a[0] for a in args) == ["intake", "intake", "worker", "worker"]
    assert {a[0] for a in args} <= commands()
    probes = [
        probe["exec"]["command"]
        for c in containers()
        for kind in ("startupProbe", "readinessProbe", "livenessProbe")
        if "exec" in (probe := c.get(kind, {}))
    ]
    probes += [s["healthcheck"]["test"][1:] for s in compose()["services"].values() if "healthcheck" in s]
    probes += [
        re.findall(r'"([^"]+)"', line)
        for line in (DEPLOY / "Dockerfile").read_text().splitlines()
        if "CMD [" in line and "probe" in line
    ]
    baton_probes = [p for p in probes if p[:3] == ["python", "-m", "gateway.probe"]]
    assert len(baton_probes) >= 6
    assert all(p[3:] in PROBES for p in baton_probes), baton_probes


def test_the_kubernetes_config_loads() -> None:
    (config,) = [d for d in k8s_documents() if d["metadata"]["name"] == "baton-config"]
    parse_config(config["data"]["baton.yaml"])


@pytest.mark.parametrize(
    ("config", "examples"),
    [
        ("k8s", [DEPLOY / "k8s" / "secrets.example.yaml"]),
        ("example", [DEPLOY / "secrets" / "intake.env.example", DEPLOY / "secrets" / "worker.env.example"]),
    ],
)
def test_every_secret_the_intake_must_have_has_a_place_in_the_examples(config: str, examples: list[Path]) -> None:
    if config == "k8s":
        (doc,) = [d for d in k8s_documents() if d["metadata"]["name"] == "baton-config"]
        text = doc["data"]["baton.yaml"]
    else:
        text = (ROOT / "baton.example.yaml").read_text()
    integrations = parse_config(text).integrations.intake().values()
    needed = {i.token.env_var for i in integrations} | {"BATON_GATEWAY_KEY"}
    written = "\n".join(p.read_text() for p in examples)
    assert {v for v in needed if v and v not in written} == set()


def test_the_deploy_guide_lists_every_search_attribute_and_the_cloud_command_creates_each() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| (Keyword|Int) \|$", guide, re.M))
    assert rows == {key.name: sa.type_name(key) for key in sa.ALL}
    command = guide[guide.index("tcld namespace search-attributes add") :].split("```")[0]
    assert set(re.findall(r"--search-attribute (\w+)=(\w+)", command)) == set(rows.items())


def test_every_manifest_the_guide_names_exists() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    named = set(re.findall(r"deploy/k8s/([\w.]+\.yaml)", guide)) | set(
        re.findall(r"^\| `([\w.]+\.yaml)` \|", guide, re.M)
    )
    assert named == {p.name for p in (DEPLOY / "k8s").glob("*.yaml")}
