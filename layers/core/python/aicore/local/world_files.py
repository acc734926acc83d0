"""A world's folder read into `WorldContent`, with every mistake named by its file and field.

    worlds/<world>/
      world.yaml            the world: name, calendar, clock, climates (WorldManifest)
      regions/<id>.yaml     one region per file (RegionSpec; the id is the file's name)
      factions/<id>.yaml    one faction per file, with its optional language (FactionSpec)
      npcs/<id>.yaml        one NPC per file: character sheet, region and faction (NpcSpec)
      lore/facts.yaml       short facts every NPC knows (a list of LoreFactSpec)
      lore/<key>.md         lore documents: YAML front matter (title, tags) then the text
      arcs/<id>.yaml        one story arc per file: its beats in order (ArcSpec)
      quests/<id>.yaml      quest templates: giver, hook, objectives, rewards (QuestTemplateSpec)

Laptop-side only (the CLI and the local runtime read files); an environment gets the content as
JSON through `POST /worlds/{world}/content`, validated there by the same models.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from aicore.world.content import (
    ArcSpec,
    FactionSpec,
    LoreDocumentSpec,
    LoreFactSpec,
    NpcSpec,
    Problem,
    QuestTemplateSpec,
    RegionSpec,
    WorldContent,
    WorldManifest,
    content_problems,
)

WORLD_FILE = "world.yaml"
FACTS_FILE = "lore/facts.yaml"
ITEM_FOLDERS: dict[str, tuple[type[BaseModel], str]] = {
    "regions": (RegionSpec, "region_id"),
    "factions": (FactionSpec, "faction_id"),
    "npcs": (NpcSpec, "npc_id"),
    "arcs": (ArcSpec, "arc_id"),
    "quests": (QuestTemplateSpec, "template_id"),
}
KNOWN_ENTRIES = {WORLD_FILE, "regions", "factions", "npcs", "lore", "arcs", "quests", "README.md"}
FRONT_MATTER = "---"


@dataclass(frozen=True)
class FileProblem:
    file: str
    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.problem}" if self.field else f"{self.file}: {self.problem}"


class WorldFilesError(ValueError):
    """The folder does not describe a valid world: every problem found, each with its file and field."""

    def __init__(self, folder: Path, problems: list[FileProblem]) -> None:
        self.folder = folder
        self.problems = problems
        listed = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{folder}: {len(problems)} problem(s) in the world's files:\n{listed}")


class _Reader:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.problems: list[FileProblem] = []
        self.sources: dict[tuple[str, str], str] = {}  # (kind, item id) -> file

    def relative(self, path: Path) -> str:
        return path.relative_to(self.folder).as_posix()

    def problem(self, file: str, field: str, problem: str) -> None:
        self.problems.append(FileProblem(file, field, problem))

    def yaml(self, path: Path) -> Any:
        try:
            return yaml.safe_load(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            self.problem(self.relative(path), "", "is not UTF-8 text")
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            self.problem(
                self.relative(path), "", f"is not valid YAML ({where}{getattr(error, 'problem', error)})"
            )
        return None

    def validated(self, model: type[BaseModel], raw: Any, file: str) -> BaseModel | None:
        if not isinstance(raw, dict):
            self.problem(file, "", "must be a mapping of fields (name: value)")
            return None
        try:
            return model.model_validate(raw)
        except ValidationError as error:
            for e in error.errors(include_url=False, include_input=False):
                self.problem(file, ".".join(str(p) for p in e["loc"]) or "(file)", e["msg"])
            return None


def load_world_folder(folder: Path) -> WorldContent:
    """The world described by `folder`; `WorldFilesError` lists every problem with its file."""
    folder = folder.resolve()
    if not (folder / WORLD_FILE).is_file():
        raise WorldFilesError(
            folder, [FileProblem(WORLD_FILE, "", "is missing: a world folder starts with it")]
        )
    reader = _Reader(folder)
    for entry in sorted(folder.iterdir()):
        if entry.name not in KNOWN_ENTRIES and not entry.name.startswith("."):
            reader.problem(
                entry.name,
                "",
                f"is not part of a world folder (expected: {', '.join(sorted(KNOWN_ENTRIES))})",
            )
    manifest = reader.validated(WorldManifest, reader.yaml(folder / WORLD_FILE), WORLD_FILE)
    items = {kind: _items(reader, kind) for kind in ITEM_FOLDERS}
    lore = _facts(reader)
    documents = _documents(reader)
    if reader.problems or manifest is None:
        raise WorldFilesError(folder, reader.problems)
    try:
        content = WorldContent(
            world=manifest,
            regions=tuple(items["regions"]),
            factions=tuple(items["factions"]),
            npcs=tuple(items["npcs"]),
            lore=tuple(lore),
            documents=tuple(documents),
            arcs=tuple(items["arcs"]),
            quests=tuple(items["quests"]),
        )
    except ValidationError as error:
        raise WorldFilesError(
            folder,
            [
                FileProblem(_folder_of(e["loc"]), "", e["msg"])
                for e in error.errors(include_url=False, include_input=False)
            ],
        ) from None
    if problems := content_problems(content):
        raise WorldFilesError(folder, [_located(reader, p) for p in problems])
    return content


def _items(reader: _Reader, kind: str) -> list[BaseModel]:
    model, id_field = ITEM_FOLDERS[kind]
    found: list[BaseModel] = []
    for path in _files(reader.folder / kind, ("*.yaml", "*.yml")):
        file = reader.relative(path)
        raw = reader.yaml(path)
        if raw is None and not any(p.file == file for p in reader.problems):
            reader.problem(file, "", "is empty")
            continue
        if isinstance(raw, dict):
            named = raw.setdefault(id_field, path.stem)
            if named != path.stem:
                reader.problem(file, id_field, f"must be the file's name ('{path.stem}') or left out")
                continue
        item = reader.validated(model, raw, file)
        if item is not None:
            found.append(item)
            reader.sources[(kind, path.stem)] = file
    return found


def _facts(reader: _Reader) -> list[LoreFactSpec]:
    path = reader.folder / FACTS_FILE
    if not path.is_file():
        return []
    raw = reader.yaml(path)
    if raw is None:
        return []
    if not isinstance(raw, list):
        reader.problem(FACTS_FILE, "", "must be a list of facts (- fact_id: …, text: …)")
        return []
    facts = []
    for index, entry in enumerate(raw):
        fact = reader.validated(LoreFactSpec, entry, FACTS_FILE)
        if fact is None:
            reader.problems[-1] = FileProblem(
                FACTS_FILE, f"{index}.{reader.problems[-1].field}", reader.problems[-1].problem
            )
            continue
        assert isinstance(fact, LoreFactSpec)
        facts.append(fact)
        reader.sources[("lore", fact.fact_id)] = FACTS_FILE
    return facts


def _documents(reader: _Reader) -> list[LoreDocumentSpec]:
    documents = []
    for path in _files(reader.folder / "lore", ("*.md",)):
        file = reader.relative(path)
        text = path.read_text(encoding="utf-8")
        front: Any = {}
        if text.startswith(FRONT_MATTER + "\n"):
            header, separator, body = text[len(FRONT_MATTER) + 1 :].partition(f"\n{FRONT_MATTER}\n")
            if not separator:
                reader.problem(file, "", "its front matter has no closing '---' line")
                continue
            try:
                front = yaml.safe_load(header) or {}
            except yaml.YAMLError as error:
                reader.problem(
                    file, "", f"its front matter is not valid YAML ({getattr(error, 'problem', error)})"
                )
                continue
            text = body
        if not isinstance(front, dict):
            reader.problem(file, "", "its front matter must be a mapping (title: …, tags: …)")
            continue
        document = reader.validated(LoreDocumentSpec, {"key": path.stem, **front, "text": text.strip()}, file)
        if document is not None:
            assert isinstance(document, LoreDocumentSpec)
            documents.append(document)
            reader.sources[("documents", path.stem)] = file
    return documents


def _files(folder: Path, patterns: Iterable[str]) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted({p for pattern in patterns for p in folder.glob(pattern) if p.is_file()})


def _folder_of(loc: tuple[int | str, ...]) -> str:
    if not loc:
        return WORLD_FILE
    return {"world": WORLD_FILE, "lore": FACTS_FILE, "documents": "lore/"}.get(str(loc[0]), f"{loc[0]}/")


def _located(reader: _Reader, problem: Problem) -> FileProblem:
    file = (
        WORLD_FILE
        if problem.kind == "world"
        else reader.sources.get((problem.kind, problem.item_id), problem.kind)
    )
    return FileProblem(file, problem.field, problem.problem)
