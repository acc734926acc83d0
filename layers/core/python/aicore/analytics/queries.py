"""The saved queries: `queries/*.sql`, one source for Athena's named queries and the local runner.

Written in the SQL both Athena (Trino) and DuckDB read: `FROM events`, `detail.<field>`, the `dt`
partition. Where the two differ, the local runner defines Athena's function (`approx_percentile`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

QUERIES_DIR = Path(__file__).resolve().parent / "queries"


class UnknownQuery(KeyError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(name)
        self.message = f"no saved query {name!r}; the saved queries are: {', '.join(known)}"

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class SavedQuery:
    name: str  # the file's stem: `turns_per_npc_per_day`
    description: str  # its leading `--` comment
    sql: str

    @classmethod
    def read(cls, path: Path) -> SavedQuery:
        sql = path.read_text(encoding="utf-8").strip()
        comment = []
        for line in sql.splitlines():
            if not line.startswith("--"):
                break
            comment.append(line.removeprefix("--").strip())
        return cls(name=path.stem, description=" ".join(comment), sql=sql)


def saved_queries(folder: Path = QUERIES_DIR) -> list[SavedQuery]:
    return [SavedQuery.read(path) for path in sorted(folder.glob("*.sql"))]


def saved_query(name: str, folder: Path = QUERIES_DIR) -> SavedQuery:
    queries = {q.name: q for q in saved_queries(folder)}
    if name not in queries:
        raise UnknownQuery(name, sorted(queries))
    return queries[name]
