"""Many gateways: a window started through one applies at another that has been quiet, with no read on the alert's
path (the running windows are read in the background every `every` seconds, whether alerts come or not)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from gateway.maintenance import OpenWindows, Windows
from incident.maintenance import Matcher
from incident.models import Actor
from tests.helpers.config import alert
from tests.helpers.wait import until
from workflows.maintenance import maintenance_id


async def test_a_window_started_elsewhere_applies_at_a_quiet_intake(dev_env: WorkflowEnvironment) -> None:
    queue = f"test-{uuid.uuid4().hex[:8]}"
    quiet = OpenWindows(dev_env.client, queue, refresh=0.2)
    firing = alert("db-slow", service="checkout")
    assert await quiet.matching(firing) is None  # read once: nothing open
    view = await Windows(dev_env.client, queue).start(
        Matcher(service="checkout"), timedelta(hours=2), "db migration", Actor.human("alice")
    )
    # The other gateway gets no alert meanwhile; its background read finds the window all the same.
    await until(lambda: asyncio.sleep(0, result=dict(quiet._windows)), lambda w: view.id in w, timeout=15)
    assert await quiet.matching(firing) == view.id
    await dev_env.client.get_workflow_handle(maintenance_id(queue, view.id)).terminate()
