"""Loading a world's content into an environment: a diff against what is there, then the changes.

`push_world` compares each item's digest with the manifest of the last push: a dry run stops at
the plan; otherwise added and changed items are written, removed ones deleted, the world's
definition replaced, and a new content version recorded (only if nobody pushed in between:
a concurrent push gets 409). Pushing the same content again changes nothing and keeps the version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel

from aicore.auth import Caller, Role
from aicore.clock import Clock, now, stamp
from aicore.errors import Conflict, Forbidden, InvalidRequest, NotFound
from aicore.knowledge.models import NewDocument
from aicore.world.content import (
    LoreDocumentSpec,
    LoreFactSpec,
    NpcSpec,
    QuestTemplateSpec,
    WorldContent,
    content_items,
    content_problems,
    digest,
)
from aicore.world.definition import WorldDefinition
from aicore.world.models import LoreFact
from aicore.world.store import WorldStore

PUSH_ROLES = (Role.STUDIO, Role.ADMIN)


class ContentManifest(BaseModel):
    """What the last push loaded: a digest per item (`npc:mira` -> …) under a content version."""

    world_id: str
    version: int = 0
    digests: dict[str, str] = {}
    pushed_at: str | None = None
    pushed_by: str | None = None


class ContentStore(Protocol):
    def manifest(self, world_id: str) -> ContentManifest | None: ...
    def put_definition(self, definition: WorldDefinition) -> None: ...
    def delete_npc(self, world_id: str, npc_id: str) -> None: ...
    def delete_lore(self, world_id: str, fact_id: str) -> None: ...
    def put_quest_template(self, world_id: str, template: QuestTemplateSpec) -> None: ...
    def delete_quest_template(self, world_id: str, template_id: str) -> None: ...
    def record_push(self, manifest: ContentManifest, expected_version: int) -> bool:
        """Store the manifest if the stored one is still at `expected_version` (0: none); False if not.
        The world is then listed among the environment's worlds (the weather schedule visits it)."""
        ...


class Submission(Protocol):
    @property
    def document_id(self) -> str: ...


class LoreSubmitter(Protocol):
    """The knowledge base's upload (`LoreService.submit`): the document's ingestion flow starts."""

    def submit(
        self, caller: Caller, world_id: str, new: NewDocument, idempotency_key: str | None
    ) -> Submission: ...


class PushPlan(BaseModel):
    world_id: str
    dry_run: bool
    applied: bool
    from_version: int
    to_version: int
    added: list[str]
    changed: list[str]
    removed: list[str]
    unchanged: int
    documents: list[str] = []  # ids of the lore documents handed to the ingestion flow
    notes: list[str] = []


@dataclass
class PushDeps:
    content: ContentStore
    world: WorldStore
    lore: LoreSubmitter
    clock: Clock = now


def plan_push(content: WorldContent, current: ContentManifest | None, dry_run: bool) -> PushPlan:
    stored = current.digests if current else {}
    fresh = {ref: digest(item) for ref, item in content_items(content).items()}
    added = sorted(ref for ref in fresh if ref not in stored)
    changed = sorted(ref for ref, d in fresh.items() if ref in stored and stored[ref] != d)
    removed = sorted(ref for ref in stored if ref not in fresh)
    version = current.version if current else 0
    touched = bool(added or changed or removed)
    notes = [
        f"{ref}: the knowledge base keeps removed documents (it has no delete yet)"
        for ref in removed
        if ref.startswith("document:")
    ]
    return PushPlan(
        world_id=content.world.world_id,
        dry_run=dry_run,
        applied=False,
        from_version=version,
        to_version=version + 1 if touched else version,
        added=added,
        changed=changed,
        removed=removed,
        unchanged=len(fresh) - len(added) - len(changed),
        notes=notes,
    )


def push_world(
    deps: PushDeps, caller: Caller, world_id: str, content: WorldContent, dry_run: bool
) -> PushPlan:
    if not caller.has_any(*PUSH_ROLES):
        raise Forbidden("Only the world's studio (or an admin) pushes its content.")
    caller.require_world(world_id)
    if content.world.world_id != world_id:
        raise InvalidRequest(
            f"The content is of world '{content.world.world_id}': push it to its own world's route.",
            {"fields": [{"field": "world.world_id", "problem": "differs from the world in the path"}]},
        )
    if problems := content_problems(content):
        raise InvalidRequest(
            f"The content has {len(problems)} broken reference(s), the first: "
            f"{problems[0].path}: {problems[0].problem}.",
            {"fields": [{"field": p.path, "problem": p.problem} for p in problems[:10]]},
        )
    current = deps.content.manifest(world_id)
    plan = plan_push(content, current, dry_run)
    if dry_run or plan.to_version == plan.from_version:
        return plan
    documents = _apply(deps, caller, content, plan)
    manifest = ContentManifest(
        world_id=world_id,
        version=plan.to_version,
        digests={ref: digest(item) for ref, item in content_items(content).items()},
        pushed_at=stamp(deps.clock()),
        pushed_by=caller.subject,
    )
    if not deps.content.record_push(manifest, plan.from_version):
        raise Conflict(
            "Someone else pushed this world while you did: push again (your content is checked anew).",
            {"current_version": (deps.content.manifest(world_id) or manifest).version},
        )
    return plan.model_copy(update={"applied": True, "documents": documents})


def _apply(deps: PushDeps, caller: Caller, content: WorldContent, plan: PushPlan) -> list[str]:
    world_id = content.world.world_id
    items = content_items(content)
    documents: list[str] = []
    for ref in (*plan.added, *plan.changed):
        item = items[ref]
        if isinstance(item, NpcSpec):
            deps.world.put_npc(item.in_world(world_id))
        elif isinstance(item, LoreFactSpec):
            deps.world.put_lore(LoreFact(world_id=world_id, fact_id=item.fact_id, text=item.text))
        elif isinstance(item, LoreDocumentSpec):
            documents.append(_submit(deps.lore, caller, world_id, item))
        elif isinstance(item, QuestTemplateSpec):
            deps.content.put_quest_template(world_id, item)
    for ref in plan.removed:
        kind, _, item_id = ref.partition(":")
        if kind == "npc":
            deps.content.delete_npc(world_id, item_id)
        elif kind == "lore":
            deps.content.delete_lore(world_id, item_id)
        elif kind == "quest":
            deps.content.delete_quest_template(world_id, item_id)
    deps.content.put_definition(WorldDefinition.of(content, plan.to_version))
    return documents


def _submit(lore: LoreSubmitter, caller: Caller, world_id: str, document: LoreDocumentSpec) -> str:
    """A new or changed document is a new upload (its key names this content), so the knowledge
    base never mistakes it for a retry of the earlier text."""
    new = NewDocument(title=document.title, text=document.text, tags=document.tags)
    return lore.submit(caller, world_id, new, f"{document.key}.{digest(document)[:16]}").document_id


class ContentSummary(BaseModel):
    world_id: str
    version: int
    pushed_at: str | None
    pushed_by: str | None
    items: int


def content_summary(store: ContentStore, caller: Caller, world_id: str) -> ContentSummary:
    """What the last push loaded into this environment (studio, admin)."""
    if not caller.has_any(*PUSH_ROLES):
        raise Forbidden("Only the world's studio (or an admin) reads its content versions.")
    caller.require_world(world_id)
    manifest = store.manifest(world_id)
    if manifest is None:
        raise NotFound(
            f"No content was pushed to world '{world_id}' here: push it with `aicore world push`.",
            {"world_id": world_id},
        )
    return ContentSummary(
        world_id=world_id,
        version=manifest.version,
        pushed_at=manifest.pushed_at,
        pushed_by=manifest.pushed_by,
        items=len(manifest.digests),
    )
