"""Deterministic generator of varied, grammatical English sentences for the speech dataset.

`sentences(seed, n)` returns n distinct sentences (plain ASCII, capitalised, ending in . or ?);
the same seed always gives the same list. Word lists and templates are this project's own.
"""

from __future__ import annotations

import random

NAMES = ("Mara", "Tobias", "Ingrid", "Felix", "Noor", "Caspar", "Lena", "Rafael", "Odile", "Hamish",
         "Priya", "Bruno", "Selma", "Declan", "Yusuf", "Greta")
PEOPLE = ("teacher", "farmer", "pilot", "sailor", "baker", "doctor", "neighbour", "gardener", "driver",
          "nurse", "painter", "student", "fisherman", "librarian")
PERSON_ADJECTIVES = ("quiet", "gentle", "curious", "stubborn", "clumsy", "cheerful", "tired", "patient",
                     "young", "elderly", "busy", "nervous")
# (singular, plural) of things a person can carry
THINGS = (("kettle", "kettles"), ("lantern", "lanterns"), ("bicycle", "bicycles"), ("violin", "violins"),
          ("parcel", "parcels"), ("ladder", "ladders"), ("notebook", "notebooks"), ("blanket", "blankets"),
          ("pebble", "pebbles"), ("compass", "compasses"), ("basket", "baskets"), ("umbrella", "umbrellas"),
          ("hammer", "hammers"), ("teapot", "teapots"), ("bucket", "buckets"), ("candle", "candles"),
          ("scarf", "scarves"), ("key", "keys"), ("envelope", "envelopes"), ("shovel", "shovels"))
THING_ADJECTIVES = ("yellow", "heavy", "broken", "tiny", "ancient", "muddy", "bright", "rusty", "silver",
                    "shiny", "wet", "wooden", "striped", "dusty", "spare", "borrowed")
# (past tense, base form) of verbs that take a thing as object
VERBS = (("painted", "paint"), ("carried", "carry"), ("mended", "mend"), ("found", "find"),
         ("pushed", "push"), ("cleaned", "clean"), ("dropped", "drop"), ("sold", "sell"),
         ("hid", "hide"), ("measured", "measure"), ("wrapped", "wrap"), ("counted", "count"),
         ("polished", "polish"), ("packed", "pack"), ("lost", "lose"), ("fetched", "fetch"))
ANIMALS = ("dog", "goat", "cat", "pony", "goose", "fox", "puppy", "donkey")
ANIMAL_VERBS = ("chased", "followed", "watched", "ignored", "woke", "frightened")
INTRANSITIVE = ("waited", "laughed", "slept", "whistled", "shivered", "wandered off", "sang softly",
                "stopped", "hurried home", "fell silent", "sat down", "yawned")
PLACES = ("near the station", "behind the old mill", "across the square", "under the bridge",
          "beside the harbour", "in the back yard", "at the top of the hill", "along the canal",
          "inside the barn", "past the library", "by the front door", "on the kitchen table")
TIMES = ("Yesterday", "Last winter", "Every morning", "On Sunday", "Before dawn", "After lunch",
         "Late at night", "Once a week", "Last spring", "This evening")
ADVERBS = ("slowly", "carefully", "quickly", "gladly", "twice", "without a word", "by accident", "again")
WEATHER = ("it rained", "the wind rose", "the snow melted", "the fog lifted", "the sun came out",
           "the clouds gathered")
STATES = ("too heavy", "still wet", "a little rusty", "far too small", "missing", "perfectly clean",
          "older than it looked")
NUMBERS = ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twelve")


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _thing(rng: random.Random) -> str:
    """A singular thing: 'the rusty kettle', 'an umbrella', "Mara's kettle" or 'the kettle'."""
    noun = rng.choice(THINGS)[0]
    form = rng.randrange(4)
    if form == 0:
        return f"the {rng.choice(THING_ADJECTIVES)} {noun}"
    if form == 1:
        return f"{_article(noun)} {noun}"
    if form == 2:
        return f"{rng.choice(NAMES)}'s {noun}"
    return f"the {noun}"


def _things(rng: random.Random) -> str:
    return f"{rng.choice(NUMBERS)} {rng.choice(THING_ADJECTIVES)} {rng.choice(THINGS)[1]}"


def _person(rng: random.Random) -> str:
    """Someone who can act: a name or 'the <adjective> <person>'."""
    if rng.random() < 0.55:
        return rng.choice(NAMES)
    return f"the {rng.choice(PERSON_ADJECTIVES)} {rng.choice(PEOPLE)}"


def _animal(rng: random.Random, animal: str) -> str:
    owner = rng.choice((f"{rng.choice(NAMES)}'s", "the", f"the {rng.choice(PEOPLE)}'s"))
    return f"{owner} {animal}"


def _sentence(rng: random.Random) -> str:
    form = rng.randrange(11)
    verb, base = rng.choice(VERBS)
    if form == 0:
        text = f"{_person(rng)} {verb} {_thing(rng)} {rng.choice(PLACES)}."
    elif form == 1:
        text = f"{rng.choice(TIMES)}, {_person(rng)} {verb} {_things(rng)} {rng.choice(ADVERBS)}."
    elif form == 2:
        text = f"Did {_person(rng)} {base} {_thing(rng)} {rng.choice(PLACES)}?"
    elif form == 3:
        text = f"{_person(rng)} {rng.choice(INTRANSITIVE)} while {rng.choice(WEATHER)}."
    elif form == 4:
        text = f"When {rng.choice(WEATHER)}, {_person(rng)} {verb} {_thing(rng)}."
    elif form == 5:
        text = f"There were {_things(rng)} {rng.choice(PLACES)}."
    elif form == 6:
        text = f"Why did {_person(rng)} {base} {_things(rng)}?"
    elif form == 7:
        text = f"{_person(rng)} {verb} {_thing(rng)}, and {_person(rng)} {rng.choice(INTRANSITIVE)}."
    elif form == 8:
        first, second = rng.sample(ANIMALS, 2)
        text = (f"{_animal(rng, first)} {rng.choice(ANIMAL_VERBS)} {_animal(rng, second)} "
                f"{rng.choice(PLACES)}.")
    elif form == 9:
        text = f"{rng.choice(NAMES)} said that the {rng.choice(THINGS)[0]} was {rng.choice(STATES)}."
    else:
        when = rng.choice(TIMES)
        text = f"How many {rng.choice(THINGS)[1]} did {_person(rng)} {base} {when[0].lower()}{when[1:]}?"
    return text[0].upper() + text[1:]


def sentences(seed: int, n: int) -> list[str]:
    """`n` distinct sentences, deterministic for `seed`."""
    rng = random.Random(f"sentences-{seed}")
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        text = _sentence(rng)
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out
