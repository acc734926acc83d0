"""`aicore world push PATH`: a world's folder, validated here, sent to an environment's studio route.

The same call loads the demo world at `make run` (`LocalRuntime`), so the local runtime is seeded
exactly as a studio loads a world into the cloud.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from aicore.local.lambdas import REPO_ROOT
from aicore.world.content import WorldContent
from aicore.world.push import PushPlan

PUSH_TIMEOUT_S = 120
DEMO_WORLD = REPO_ROOT / "worlds" / "demo"


class PushRefused(RuntimeError):
    """The environment answered with an error envelope (or not with an envelope at all)."""

    def __init__(self, status: int, answer: dict[str, Any]) -> None:
        error = answer.get("error") or {}
        message = error.get("message") or answer.get("message") or "no message"
        super().__init__(f"HTTP {status} {error.get('code', '')}: {message}".replace("  ", " "))
        self.status = status
        self.answer = answer


def push_content(base_url: str, content: WorldContent, token: str, dry_run: bool = False) -> PushPlan:
    """POST the content to `{base_url}/worlds/{world}/content` and return the plan it answered."""
    world = content.world.world_id
    query = "?dry_run=true" if dry_run else ""
    request = urllib.request.Request(
        f"{base_url.rstrip('/')}/worlds/{world}/content{query}",
        data=content.model_dump_json().encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=PUSH_TIMEOUT_S) as response:
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        body = error.read() or b"{}"
        try:
            refused = json.loads(body)
        except ValueError:
            refused = {"message": body[:200].decode("utf-8", "replace")}
        raise PushRefused(error.code, refused) from None
    return PushPlan.model_validate(answer["data"])


def describe(plan: PushPlan) -> str:
    """The plan as a person reads it: what a push adds (+), changes (~) and removes (-)."""
    if plan.to_version == plan.from_version:
        head = f"{plan.world_id}: content version {plan.from_version}, nothing to change"
    else:
        verb = "would go" if plan.dry_run else "went"
        head = f"{plan.world_id}: content version {plan.from_version} {verb} to {plan.to_version}"
    lines = [head + (" (dry run)" if plan.dry_run else "")]
    lines += [f"  + {ref}" for ref in plan.added]
    lines += [f"  ~ {ref}" for ref in plan.changed]
    lines += [f"  - {ref}" for ref in plan.removed]
    lines.append(f"  {plan.unchanged} unchanged")
    lines += [f"  note: {note}" for note in plan.notes]
    if plan.documents:
        lines.append(f"  {len(plan.documents)} lore document(s) handed to the ingestion flow")
    return "\n".join(lines)
