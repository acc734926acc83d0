"""Data for knowledge base tests and benches: a labelled lore set and a deterministic corpus.

The labelled set: 60 lore passages and 30 queries, each with the passage that answers it. Written
for this purpose, in three kinds:
- `paraphrase`: the query shares no word (after stemming, stop words aside) with its answer, so
  keyword search cannot find it; meaning must.
- `keyword`: the query names something rare (a name, a term of the world) that meaning alone
  blurs with its neighbours.
- `trap`: a query word also appears, prominently, in a passage that does not answer it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

LORE: dict[str, str] = {
    "forge": (
        "Emberfall's great forge sits on a vent of the volcano, so"
        " its fire has not gone out in three hundred years."
    ),
    "goose": "The Gilded Goose is the only inn in Emberfall; Mira serves mutton stew and rents six beds.",
    "regent": "Since the king vanished, a council of five regents governs the town and meets every new moon.",
    "library": "The Sunken Library lies under the eastern lake and can be entered only when the tide is low.",
    "borin": (
        "Borin Ironhand, a dwarf smith, once made blades for the"
        " royal guard and still works beside the great forge."
    ),
    "sable": "Sable is a hooded wanderer who trades secrets on the roads around the town.",
    "heron": "Letters of the old monarch are sealed with wax pressed into the shape of a crowned heron.",
    "tithe": "Every smith pays a tithe of one ingot in ten to the regents' treasury.",
    "bandits": "Bandits of the Grey Pass let caravans through if the town pays them each spring.",
    "mine": "The north mine closed after a cave-in killed eleven miners two winters ago.",
    "moons": "The world has two moons, Ash and Ember; when both are full the tide is highest.",
    "festival": "At midsummer the townsfolk float paper lanterns on the lake to honour the drowned scholars.",
    "scholars": (
        "The library's builders were scholars of the Azure Order who drowned when the valley flooded."
    ),
    "flood": "Two centuries ago the river was dammed by a landslide and the valley filled into a lake.",
    "ferry": "Old Tamsin rows a ferry across the lake for two copper coins a passenger.",
    "tamsin": "Tamsin lost both sons in the flood of the north mine and distrusts the regents.",
    "salt": "Traders from the coast bring salt, which is worth more than silver in the mountains.",
    "wolves": "In deep winter white wolves come down from the peaks and hunt goats near the walls.",
    "walls": "The town walls were raised from black basalt quarried on the volcano's flank.",
    "temple": "The Temple of the Flame keeps an eternal brazier lit from the forge itself.",
    "priestess": "High Priestess Orla reads omens in the sparks that fly from the temple brazier.",
    "omens": "A shower of green sparks is taken as a sign that a stranger will bring ruin.",
    "ale": "Mira brews a dark ale with juniper berries gathered on the slopes.",
    "juniper": "Juniper grows only on the southern slopes, where the ground stays warm from the volcano.",
    "hot-springs": "Hot springs bubble below the southern cliffs; the sick bathe there to ease their joints.",
    "healer": "The healer Bren sets bones and sells willow-bark tea for fevers.",
    "willow": "Willow trees line the lake shore; their bark is stripped each autumn for medicine.",
    "market": "A market fills the square every fifth day, selling cheese, wool, iron tools and salt.",
    "cheese": "Goat cheese from Emberfall is aged in the cold caves of the north mine's lower galleries.",
    "wool": "Shepherds shear their flocks before the spring thaw and sell the wool to weavers.",
    "weavers": "The weavers' guild dyes cloth red with madder root and sells it to the coast.",
    "guilds": (
        "Three guilds hold power in town: smiths, weavers and miners; each sends one voice to the council."
    ),
    "council-seats": (
        "Besides the three guild voices, two council seats belong to the temple and the old nobility."
    ),
    "nobility": "The last noble house, the Varens, live in a crumbling manor above the vineyards.",
    "vineyards": "Vines on the volcanic soil give a sharp white wine called Ember Tears.",
    "wine": "Ember Tears is sold by the cask to merchants who carry it across the mountains.",
    "mountains": "The Sawtooth Mountains cut the town off from the capital for four months of snow.",
    "capital": "The capital, Highmoor, lies nine days' ride to the west beyond the Sawtooth range.",
    "road": "The only road to Highmoor climbs through the Grey Pass, where the bandits wait.",
    "courier": "A courier on a black mare rides to Highmoor twice a month with the council's letters.",
    "mare": "The courier's black mare, Soot, is said to be the fastest horse in the valley.",
    "horses": "Horses are scarce in town; most goods travel on the backs of mules.",
    "mules": "The mule drivers charge by weight and refuse to cross the pass after dark.",
    "night": "Nobody crosses the Grey Pass after sunset because of the bandits and the cold.",
    "cold": "Winter nights fall far below freezing; travellers are found frozen in the drifts each year.",
    "drifts": "Snow drifts block the pass from late autumn until the thaw.",
    "thaw": "When the snow melts, the lake rises and the library's entrance stays underwater for weeks.",
    "entrance": "The library's entrance is a bronze door carved with an open eye.",
    "eye": "The open eye is the sign of the Azure Order, who valued knowledge above gold.",
    "gold": "There is little gold in Emberfall; coins are mostly copper and silver.",
    "coins": "The regents mint their own copper coins stamped with a hammer.",
    "hammer": "The hammer is the town's emblem and hangs on a banner above the council hall.",
    "hall": "The council hall is a stone building above the market square.",
    "graveyard": "The dead are buried on the hill behind the temple, facing the volcano.",
    "volcano": "The volcano, called the Old Smith, rumbles once a year but has not erupted in living memory.",
    "eruption": "The last eruption buried the first town, whose ruins lie beneath the lava fields.",
    "ruins": "Children dare each other to climb into the ruins under the lava fields.",
    "children": "Children of the town learn letters from the temple priests.",
    "letters-school": "The temple school teaches reading, sums and the names of the saints.",
    "saints": "Saint Ignis, patron of smiths, is said to have carried fire down from the mountain.",
    # Look-alikes: passages of one kind that differ by their names, which meaning alone blurs.
    "horse-soot": "Soot is a black mare who carries the courier's saddlebags through the pass.",
    "horse-cinder": "Cinder is a grey gelding who pulls the miller's cart to the market.",
    "horse-quill": "Quill is a dappled mare who carries the temple scribe on his rounds.",
    "horse-brand": "Brand is a chestnut draught horse who hauls ore carts for the smiths.",
    "horse-hob": "Hob is an old brown cob who draws the ferryman's sledge on the frozen lake.",
    "horse-wren": "Wren is a small bay pony who carries the healer to the outlying farms.",
    "wine-tears": "Ember Tears is a sharp white wine from vines on the volcanic slopes.",
    "wine-dusk": "Dusk Garnet is a heavy red wine aged in oak beside the hot springs.",
    "wine-frost": "Frostmead is a sweet wine pressed from grapes left to freeze on the vine.",
    "wine-cinderblush": "Cinderblush is a pale rosé that the nobility serve at weddings.",
    "wine-slate": "Slate Hollow is a dry white wine from the terraces above the quarry.",
    "wine-ashen": "Ashen Crown is a smoky red wine kept for the regents' feasts.",
    "saint-ignis": "Saint Ignis is honoured by smiths, for he carried fire down from the mountain.",
    "saint-maren": "Saint Maren is honoured by fishers, for she calmed the lake in a storm.",
    "saint-oswin": "Saint Oswin is honoured by shepherds, for he found a lost flock in the snow.",
    "saint-petra": "Saint Petra is honoured by masons, for she raised the first wall in a night.",
    "saint-halden": "Saint Halden is honoured by miners, for he led them out of a collapsed shaft.",
    "saint-elsbet": "Saint Elsbet is honoured by healers, for she cured the valley of the grey fever.",
    "priest-orla": "Orla is the high priestess; she reads the sparks of the temple brazier at dawn.",
    "priest-cadoc": "Cadoc is a temple priest; he keeps the records of births and burials.",
    "priest-ysolde": "Ysolde is a temple priestess; she teaches the children their letters.",
    "priest-bram": "Bram is a temple priest; he tends the brazier through the night.",
    "priest-nessa": "Nessa is a temple priestess; she blesses the caravans before the pass.",
    "priest-ivo": "Ivo is a young temple priest; he sings the dawn hymn from the bell tower.",
    "boat-tamsin": "Tamsin rows the ferry across the lake for two copper coins.",
    "boat-gorrim": "Gorrim poles a flat barge of ore down the river to the smelters.",
    "boat-lise": "Lise sails a fishing skiff on the lake and sells trout at the market.",
    "boat-odo": "Odo keeps the rowing boats that the scholars' divers use at low tide.",
    "boat-ferris": "Ferris paddles a reed canoe to gather willow bark along the shore.",
    "boat-marta": "Marta steers the regents' barge on festival days.",
}


# Passages are searched as chunks are: a paragraph in which the fact is one sentence among others.
FILLER = (
    "Smoke from the chimneys hangs low over the rooftops on windless mornings.",
    "Children chase each other between the stalls while their parents haggle.",
    "The bells of the temple ring at dawn, at noon and at dusk.",
    "Most houses are built of dark stone with roofs of slate.",
    "Travellers remark on the smell of sulphur that drifts down from the heights.",
    "The streets are steep and paved with worn cobbles.",
    "In the evenings people gather by the fountain to trade news.",
    "Dogs doze in the sun on the steps of the council hall.",
    "Merchants complain every year about the state of the road.",
    "Old songs tell of heroes who walked these hills long ago.",
    "The townsfolk are wary of strangers but generous once trust is earned.",
    "Snow lingers on the peaks well into the summer months.",
    "Lamps are lit along the main street when the sun goes down.",
    "Goats graze on the terraces above the last houses.",
    "A cold wind blows from the north for most of the year.",
    "Gossip travels faster than any courier in this valley.",
)


def in_context(key: str) -> str:
    """The passage of `key` as a chunk: its fact among three sentences of everyday town life."""
    rng = random.Random(key)
    sentences = rng.sample(FILLER, 3)
    sentences.insert(rng.randint(0, 3), LORE[key])
    return " ".join(sentences)


@dataclass(frozen=True)
class LabelledQuery:
    text: str
    answer: str  # the key in LORE of the passage that answers it
    kind: str  # paraphrase, keyword or trap


QUERIES: tuple[LabelledQuery, ...] = (
    # Meaning only: no word in common with the answer.
    LabelledQuery("Who is in charge now that the monarch is gone?", "regent", "paraphrase"),
    LabelledQuery("Where can a traveller sleep and eat?", "goose", "paraphrase"),
    LabelledQuery("How do I reach the drowned archive of books?", "library", "paraphrase"),
    LabelledQuery("Why did digging for ore stop in the hills above town?", "mine", "paraphrase"),
    LabelledQuery("What predators threaten livestock when it snows?", "wolves", "paraphrase"),
    LabelledQuery("Who can mend a broken arm?", "healer", "paraphrase"),
    LabelledQuery("What mark is on the ruler's correspondence?", "heron", "paraphrase"),
    LabelledQuery("Which beer is made at the tavern?", "ale", "paraphrase"),
    LabelledQuery("Where do ailing folk soak their aching bodies?", "hot-springs", "paraphrase"),
    LabelledQuery("How long is the kingdom's seat a journey away?", "capital", "paraphrase"),
    LabelledQuery("Tell me of those that constructed the submerged archive.", "scholars", "paraphrase"),
    LabelledQuery("How do people celebrate in the warmest season?", "festival", "paraphrase"),
    # Names and terms of the world, among look-alikes.
    LabelledQuery("Who rides Quill?", "horse-quill", "keyword"),
    LabelledQuery("What does Hob pull?", "horse-hob", "keyword"),
    LabelledQuery("Whom does Wren carry?", "horse-wren", "keyword"),
    LabelledQuery("Where is Dusk Garnet aged?", "wine-dusk", "keyword"),
    LabelledQuery("When is Cinderblush served?", "wine-cinderblush", "keyword"),
    LabelledQuery("Who honours Saint Oswin?", "saint-oswin", "keyword"),
    LabelledQuery("Why is Saint Halden honoured?", "saint-halden", "keyword"),
    LabelledQuery("What does Cadoc keep?", "priest-cadoc", "keyword"),
    LabelledQuery("What does Nessa bless?", "priest-nessa", "keyword"),
    LabelledQuery("What does Gorrim carry on the river?", "boat-gorrim", "keyword"),
    LabelledQuery("Who uses Odo's boats?", "boat-odo", "keyword"),
    LabelledQuery("Varens manor", "nobility", "keyword"),
    # A query word sits, prominently, in a passage that does not answer it.
    LabelledQuery("What does the smiths' guild pay to the treasury?", "tithe", "trap"),
    LabelledQuery("Which council seats are not held by guilds?", "council-seats", "trap"),
    LabelledQuery("What happens to the library door when the snow melts?", "thaw", "trap"),
    LabelledQuery("What is the emblem on the council hall banner?", "hammer", "trap"),
    LabelledQuery("What sign do green sparks from the brazier carry?", "omens", "trap"),
    LabelledQuery("How are goods carried over the pass without horses?", "horses", "trap"),
    LabelledQuery("Where is the goat cheese aged?", "cheese", "trap"),
    LabelledQuery("Who rides the council's letters to the capital?", "courier", "trap"),
    LabelledQuery("What lies under the lava fields?", "eruption", "trap"),
)


def lore_corpus(
    total_chars: int = 1_000_000, document_chars: int = 62_500, seed: int = 7
) -> list[tuple[str, str]]:
    """(title, markdown text) documents of about `document_chars` each, `total_chars` in all: the
    labelled passages recombined under headings, so every run builds the same corpus."""
    rng = random.Random(seed)
    passages = list(LORE.values())
    documents: list[tuple[str, str]] = []
    produced = 0
    while produced < total_chars:
        number = len(documents) + 1
        parts = [f"# Chronicle {number}"]
        size = 0
        while size < document_chars and produced + size < total_chars:
            if rng.random() < 0.15:
                heading = f"\n## Chapter {rng.randint(1, 99)}: {rng.choice(list(LORE))}\n"
                parts.append(heading)
                size += len(heading)
            paragraph = " ".join(rng.sample(passages, rng.randint(2, 5)))
            parts.append(paragraph)
            size += len(paragraph) + 2
        text = "\n\n".join(parts)
        documents.append((f"Chronicle {number}", text))
        produced += len(text)
    return documents
