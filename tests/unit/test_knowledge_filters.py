"""Knowledge filters: an NPC never retrieves what it should not know, whatever the tags."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from aicore.knowledge.filters import Audience
from aicore.knowledge.fusion import FusionWeights
from aicore.knowledge.index import KnowledgeIndex
from aicore.knowledge.models import Chunk, KnowledgeTags
from tests.knowledge_fakes import HashEmbedder

FACTIONS = ["Ember Guild", "Regent Council", "River Folk", "Ash Cult"]
REGIONS = ["Emberfall", "The Lake", "North Pass"]
NPCS = ["mira", "borin", "sable", "guard-7"]
WORDS = ["forge", "king", "letters", "library", "silver", "tax", "heron", "tide", "steel", "mine"]
SECRET = "the vault key hides under the third anvil"

tag_sets = st.builds(
    KnowledgeTags,
    factions=st.lists(st.sampled_from(FACTIONS), max_size=2).map(tuple),
    regions=st.lists(st.sampled_from(REGIONS), max_size=2).map(tuple),
    npcs=st.lists(st.sampled_from(NPCS), max_size=2).map(tuple),
)
npcs = st.builds(
    Audience.npc,
    st.sampled_from(NPCS),
    st.one_of(st.none(), st.sampled_from(FACTIONS)),
    st.one_of(st.none(), st.sampled_from(REGIONS)),
)
texts = st.lists(st.sampled_from(WORDS), min_size=1, max_size=8).map(" ".join)


def _index(chunks: list[Chunk]) -> KnowledgeIndex:
    embedder = HashEmbedder()
    vectors = embedder.embed([c.searchable() for c in chunks])
    return KnowledgeIndex.build("demo", "v1", embedder.name, chunks, vectors)


def _chunk(n: int, text: str, tags: KnowledgeTags) -> Chunk:
    return Chunk(chunk_id=f"d:{n}", document_id="d", title="Lore", text=text, tags=tags)


def _allowed(tags: KnowledgeTags, npc: Audience) -> bool:
    """The rule, written out independently of the code under test."""
    if not (tags.factions or tags.regions or tags.npcs):
        return True
    return bool(
        (npc.faction and npc.faction in tags.factions)
        or (npc.region and npc.region in tags.regions)
        or (npc.npc_id in tags.npcs)
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(texts, tag_sets), min_size=1, max_size=25),
    npcs,
    texts,
    st.sampled_from(FACTIONS),
)
def test_a_secret_tagged_for_one_faction_never_reaches_an_npc_of_another(
    corpus: list[tuple[str, KnowledgeTags]], npc: Audience, query: str, secret_faction: str
) -> None:
    # Given a random corpus and a secret known only to one faction (the query names it word for word)
    secret_tags = KnowledgeTags(factions=(secret_faction,))
    chunks = [_chunk(n, text, tags) for n, (text, tags) in enumerate(corpus)]
    chunks.append(_chunk(len(chunks), SECRET, secret_tags))
    index = _index(chunks)
    # When any NPC asks for it
    hits = index.search(f"{query} {SECRET}", HashEmbedder().embed([SECRET])[0], npc, 50, FusionWeights())
    # Then every chunk it gets is one its tags allow, and the secret only if it is of that faction
    by_id = {c.chunk_id: c for c in chunks}
    assert all(_allowed(by_id[h.chunk_id].tags, npc) for h in hits)
    secret_returned = any(h.text == SECRET for h in hits)
    assert secret_returned == (npc.faction == secret_tags.factions[0])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(texts, tag_sets), min_size=1, max_size=25), texts)
def test_the_public_sees_only_untagged_chunks_and_the_studio_sees_all(
    corpus: list[tuple[str, KnowledgeTags]], query: str
) -> None:
    chunks = [_chunk(n, text, tags) for n, (text, tags) in enumerate(corpus)]
    index = _index(chunks)
    vector = HashEmbedder().embed([query])[0]
    public = index.search(query, vector, Audience.public(), 50, FusionWeights())
    studio = index.search(query, vector, Audience.studio(), 50, FusionWeights())
    by_id = {c.chunk_id: c for c in chunks}
    assert all(by_id[h.chunk_id].tags.untagged for h in public)
    assert {h.chunk_id for h in public} <= {h.chunk_id for h in studio}
    untagged = [c.chunk_id for c in chunks if c.tags.untagged]
    assert {h.chunk_id for h in studio if h.chunk_id in untagged} == {h.chunk_id for h in public}


def test_tags_match_whatever_their_case_and_spacing() -> None:
    tags = KnowledgeTags(factions=("Emberfall  Townsfolk",), regions=("THE LAKE",))
    assert Audience.npc("mira", "emberfall townsfolk", None).may_know(tags)
    assert Audience.npc("x", None, "the lake").may_know(tags)
    assert not Audience.npc("x", "River Folk", "Emberfall").may_know(tags)
    assert Audience.npc("sable").may_know(KnowledgeTags(npcs=("sable",)))
    assert not Audience.npc("mira").may_know(KnowledgeTags(npcs=("sable",)))
