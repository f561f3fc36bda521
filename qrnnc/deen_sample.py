"""A small synthetic German->English parallel sample, generated from a hand-written grammar.

No licence-clean De-En corpus ships in a package that can be installed here, so
the zoo's translation entry (`deen`) trains on this sample instead: correct
German sentences with their correct English translations, drawn from a small
grammar and lexicon written for this repository (Apache-2.0, like the rest of
it). It is a real, if small, translation task, not a word-for-word cipher: the
two sides differ in word order and word count. It is not natural text, and
BLEU on it is not comparable with WMT or IWSLT numbers.

Lexicon: 70 nouns (gender, plural; 6 of them mass nouns such as Milch / milk),
51 verbs in the present tense for ich, du, er/sie/es, wir, ihr, sie (42 full
verbs, 3 of them separable, stem changes included: sieht, isst, fährt, nimmt,
lädt ein; sein; the modals wollen, können, müssen, möchten; wissen, glauben,
sagen, hoffen before dass), 17 adjectives, the subject and object pronouns
(object "sie" is left out: her or them cannot be told apart), 10 adverbs, the
question words was, wer, wo, and the numbers two to ten ("ein" is only the
article: einen Hund is "a dog", never "one dog").

Constructions (the German side first; English uses do-support where needed):

    svo          Der kleine Hund sieht einen alten Mann. / The small dog sees an old man.
                 articles by gender and case (der/den, ein/einen), adjective endings after
                 the definite and indefinite article and without one (nom. and acc.),
                 plurals, numbers (drei große Hunde / three big dogs), pronoun objects
    svo_neg      Ich sehe den Hund nicht. / I do not see the dog.
    svo_kein     Er hat keinen Hund. / He has no dog.
    sv_adv       Sie schläft oft. / She often sleeps.   Er läuft schnell. / He runs fast.
    sv_neg       Der Hund schläft nicht. / The dog does not sleep.
    copula       Die Katzen sind nicht müde. / The cats are not tired.
    question     Siehst du den Hund? / Do you see the dog?   Ist er alt? / Is he old?
    wh_question  Was isst die Katze? / What does the cat eat?   Wer schläft? / Who sleeps?
                 Wo arbeitet der Mann? / Where does the man work?
    modal        Ich will den Apfel nicht essen. / I do not want to eat the apple.
                 Kannst du schwimmen? / Can you swim?   Er muss arbeiten. / He has to work.
    fronted      Heute ruft der Mann den Arzt an. / Today the man calls the doctor.
    subordinate  Ich weiß, dass der Hund die Katze nicht sieht. / I know that the dog does
                 not see the cat.   ..., weil ich schlafen will. / ... because I want to sleep.

Separable verbs (anrufen, einladen, anschauen) split in main clauses and join
at the end of subordinate clauses and after modals. Sentences are at most
MAX_TOKENS tokens on each side (qrnnc.tasks.text.tokenize). Nouns and verbs are
paired by simple semantic tags (people read, animals and people eat food), so
most sentences make sense; the grammar does not need them to.

Not made, to keep every sentence right: the dative and prepositions, tenses other
than the present, formal Sie, reflexives, possessives, weak nouns (der Junge /
den Jungen), kein outside plain statements, negated questions, negation of
möchten, and nicht with an indefinite object or subject.

`pairs(seed, n)` draws n distinct pairs (no German sentence twice);
`write(out, seed, sizes)` writes train/valid/test.{de,en}, 20,000 / 1,000 /
1,000 pairs by default, cut from one stream of distinct pairs so that no pair
is in two splits. The same seed gives the same files.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from qrnnc.tasks.text import tokenize

SIZES = {"train": 20_000, "valid": 1_000, "test": 1_000}
MAX_TOKENS = 12
SUBJ, OBJ = "nom", "acc"


# The lexicon ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Noun:
    de: str
    de_pl: str | None  # None: a mass noun (Milch), never plural nor with ein
    gender: str  # m, f, n
    en: str
    en_pl: str | None
    tags: frozenset[str]


def _nouns(gender: str, rows: str) -> list[Noun]:
    """One noun a line: `Hund Hunde dog dogs tag,tag`; `-` for the plural of a mass noun."""
    nouns = []
    for line in rows.strip().splitlines():
        de, de_pl, en, en_pl, tags = line.split()
        mass = de_pl == "-"
        nouns.append(
            Noun(
                de,
                None if mass else de_pl,
                gender,
                en,
                None if mass else en_pl,
                frozenset(tags.split(",")),
            )
        )
    return nouns


NOUNS: tuple[Noun, ...] = (
    *_nouns(
        "m",
        """
        Hund Hunde dog dogs animal
        Vogel Vögel bird birds animal
        Fisch Fische fish fish animal,food,cook
        Mann Männer man men person
        Vater Väter father fathers person,kin
        Bruder Brüder brother brothers person,kin
        Sohn Söhne son sons person,kin
        Onkel Onkel uncle uncles person,kin
        Freund Freunde friend friends person
        Lehrer Lehrer teacher teachers person
        Arzt Ärzte doctor doctors person
        Koch Köche cook cooks person
        Apfel Äpfel apple apples food,small
        Kuchen Kuchen cake cakes food
        Ball Bälle ball balls thing,small
        Stein Steine stone stones small
        Schlüssel Schlüssel key keys thing,small
        Brief Briefe letter letters text,open
        Tisch Tische table tables thing
        Stuhl Stühle chair chairs thing
        Hut Hüte hat hats thing,clothes
        Baum Bäume tree trees plant
        Garten Gärten garden gardens place
        Bus Busse bus buses vehicle
        Kaffee - coffee - drink
        Tee - tea - drink
        Saft - juice - drink
        """,
    ),
    *_nouns(
        "f",
        """
        Katze Katzen cat cats animal
        Maus Mäuse mouse mice animal
        Kuh Kühe cow cows animal
        Frau Frauen woman women person
        Mutter Mütter mother mothers person,kin
        Schwester Schwestern sister sisters person,kin
        Tochter Töchter daughter daughters person,kin
        Tante Tanten aunt aunts person,kin
        Blume Blumen flower flowers plant
        Birne Birnen pear pears food,small
        Banane Bananen banana bananas food,small
        Suppe Suppen soup soups food,cook
        Tasse Tassen cup cups thing,small
        Flasche Flaschen bottle bottles thing,small,open
        Lampe Lampen lamp lamps thing
        Tür Türen door doors open
        Uhr Uhren clock clocks thing
        Zeitung Zeitungen newspaper newspapers text
        Tasche Taschen bag bags thing,open
        Jacke Jacken jacket jackets thing,clothes
        Stadt Städte city cities place
        Milch - milk - drink
        """,
    ),
    *_nouns(
        "n",
        """
        Kind Kinder child children person
        Mädchen Mädchen girl girls person
        Pferd Pferde horse horses animal
        Schaf Schafe sheep sheep animal
        Buch Bücher book books text,open
        Lied Lieder song songs song
        Spiel Spiele game games game
        Haus Häuser house houses place
        Dorf Dörfer village villages place
        Auto Autos car cars vehicle
        Fahrrad Fahrräder bicycle bicycles thing
        Fenster Fenster window windows open
        Bild Bilder picture pictures thing
        Ei Eier egg eggs food,small,cook
        Glas Gläser glass glasses thing,small
        Bett Betten bed beds thing
        Messer Messer knife knives thing,small
        Hemd Hemden shirt shirts thing,clothes
        Geschenk Geschenke present presents thing,open
        Brot - bread - food
        Wasser - water - drink
        """,
    ),
)
ANIMATE = frozenset({"person", "animal"})
PERSON = frozenset({"person"})


@dataclass(frozen=True)
class Verb:
    de: tuple[str, str, str, str, str, str]  # ich du er wir ihr sie
    en: str  # base form
    en3: str  # he/she/it form
    subj: frozenset[str]  # tags a subject noun needs (pronouns always fit)
    obj: frozenset[str] = frozenset()  # tags an object noun may have; empty: intransitive only
    intransitive: bool = False  # also used without an object
    prefix: str = ""  # separable prefix: ruft ... an, anrufen
    tail: str = ""  # English particle after the verb: look at
    adverbs: tuple[str, ...] = ()  # the manner and place adverbs it takes without an object

    @property
    def where(self) -> bool:
        """Takes wo (where) and hier: not the verbs of motion (those take wohin, hierher)."""
        return "hier" in self.adverbs

    @property
    def inf(self) -> str:
        return self.prefix + self.de[3]


def _regular(stem: str) -> tuple[str, str, str, str, str, str]:
    """Present tense of a regular verb (kauf-): e inserted after t/d (arbeitest, findet),
    only -t for du where the stem ends in s, ß or z (tanzt)."""
    e = "e" if stem.endswith(("t", "d")) or stem.endswith(("chn", "ffn")) else ""
    du = stem + e + ("t" if stem.endswith(("s", "ß", "z")) else "st")
    return (stem + "e", du, stem + e + "t", stem + "en", stem + e + "t", stem + "en")


def _strong(stem: str, du: str, er: str) -> tuple[str, str, str, str, str, str]:
    """A stem-changing verb: regular but for the du and er forms (sehen: siehst, sieht)."""
    forms = _regular(stem)
    return (forms[0], du, er, forms[3], forms[4], forms[5])


ANY = "person animal thing small food drink text plant place vehicle clothes open song game"
GOODS = "thing small food drink text clothes"
FINDABLE = "person animal thing small food text plant place vehicle clothes open game"


def verb(
    de: tuple[str, str, str, str, str, str],
    en: str,
    obj: str = "",
    subj: frozenset[str] = ANIMATE,
    *,
    alone: str | None = None,
    prefix: str = "",
    tail: str = "",
) -> Verb:
    """en: "see sees"; obj: the object tags, space-separated ("" for no object); alone: the
    adverbs the verb takes without an object (None: it needs one)."""
    base, third = en.split()
    return Verb(
        de,
        base,
        third,
        subj,
        frozenset(obj.split()),
        alone is not None,
        prefix,
        tail,
        tuple((alone or "").split()),
    )


VERBS: tuple[Verb, ...] = (
    verb(_strong("seh", "siehst", "sieht"), "see sees", ANY),
    verb(_regular("hör"), "hear hears", "person animal song"),
    verb(_strong("ess", "isst", "isst"), "eat eats", "food", alone=""),
    verb(_regular("trink"), "drink drinks", "drink", alone=""),
    verb(_strong("les", "liest", "liest"), "read reads", "text", PERSON, alone="gut laut hier"),
    verb(_regular("schreib"), "write writes", "text song", PERSON, alone="gut schnell hier"),
    verb(_regular("kauf"), "buy buys", GOODS + " animal vehicle", PERSON),
    verb(
        ("habe", "hast", "hat", "haben", "habt", "haben"), "have has", GOODS + " animal kin vehicle"
    ),
    verb(("mag", "magst", "mag", "mögen", "mögt", "mögen"), "like likes", ANY),
    verb(_regular("such"), "look looks", FINDABLE, tail="for"),
    verb(_regular("find"), "find finds", FINDABLE),
    verb(_regular("kenn"), "know knows", "person animal place song", PERSON),
    verb(_regular("brauch"), "need needs", GOODS + " vehicle"),
    verb(_strong("nehm", "nimmst", "nimmt"), "take takes", GOODS, PERSON),
    verb(_strong("trag", "trägst", "trägt"), "carry carries", GOODS + " animal", PERSON),
    verb(_strong("wasch", "wäschst", "wäscht"), "wash washes", "thing clothes animal", PERSON),
    verb(_strong("treff", "triffst", "trifft"), "meet meets", "person", PERSON),
    verb(_regular("frag"), "ask asks", "person", PERSON),
    verb(_regular("besuch"), "visit visits", "person place", PERSON),
    verb(_regular("lieb"), "love loves", "person animal place song", PERSON),
    verb(_strong("fang", "fängst", "fängt"), "catch catches", "small animal"),
    verb(_strong("werf", "wirfst", "wirft"), "throw throws", "small", PERSON),
    verb(_strong("halt", "hältst", "hält"), "hold holds", "small animal text", PERSON),
    verb(_strong("vergess", "vergisst", "vergisst"), "forget forgets", "small text song", PERSON),
    verb(_regular("öffn"), "open opens", "open", PERSON),
    verb(_regular("koch"), "cook cooks", "cook", PERSON, alone="gut schnell hier"),
    verb(_regular("mal"), "paint paints", "person animal plant place", PERSON),
    verb(_regular("bring"), "bring brings", GOODS),
    verb(_strong("fahr", "fährst", "fährt"), "drive drives", "vehicle", PERSON),
    verb(_regular("sing"), "sing sings", "song", PERSON, alone="gut laut hier"),
    verb(_regular("spiel"), "play plays", "game", alone="gut hier"),
    verb(_regular("ruf"), "call calls", "person", PERSON, prefix="an"),
    verb(_strong("lad", "lädst", "lädt"), "invite invites", "person", PERSON, prefix="ein"),
    verb(_regular("schau"), "look looks", FINDABLE, prefix="an", tail="at"),
    verb(_strong("schlaf", "schläfst", "schläft"), "sleep sleeps", alone="gut hier"),
    verb(_strong("lauf", "läufst", "läuft"), "run runs", alone="schnell langsam"),
    verb(_regular("komm"), "come comes", alone="schnell langsam"),
    verb(_regular("tanz"), "dance dances", subj=PERSON, alone="gut hier"),
    verb(_regular("arbeit"), "work works", subj=PERSON, alone="gut schnell hier"),
    verb(_regular("lach"), "laugh laughs", subj=PERSON, alone="laut"),
    verb(_regular("schwimm"), "swim swims", alone="gut schnell langsam hier"),
    verb(_regular("wart"), "wait waits", alone="hier"),
)
TRANSITIVE = tuple(v for v in VERBS if v.obj)
INTRANSITIVE = tuple(v for v in VERBS if v.intransitive)


@dataclass(frozen=True)
class Adjective:
    de: str  # predicative: der Kaffee ist teuer
    stem: str  # before an ending: teur-e, müd-e
    en: str
    tags: frozenset[str]


_THINGS = frozenset({"thing", "small", "vehicle", "clothes", "open", "text"})
_COLOURED = _THINGS | {"animal", "plant"}
_CONCRETE = _COLOURED | {"person", "place", "food"}
ADJECTIVES: tuple[Adjective, ...] = (
    Adjective("groß", "groß", "big", _CONCRETE),
    Adjective("klein", "klein", "small", _CONCRETE),
    Adjective("alt", "alt", "old", _CONCRETE - {"food"} | {"song"}),
    Adjective("jung", "jung", "young", ANIMATE),
    Adjective("neu", "neu", "new", _THINGS | {"song", "game"}),
    Adjective("rot", "rot", "red", _COLOURED),
    Adjective("blau", "blau", "blue", _THINGS),
    Adjective("grün", "grün", "green", _THINGS | {"plant"}),
    Adjective("schwarz", "schwarz", "black", _COLOURED),
    Adjective("weiß", "weiß", "white", _COLOURED),
    Adjective("schön", "schön", "beautiful", _CONCRETE - {"food"} | {"song"}),
    Adjective("müde", "müd", "tired", ANIMATE),
    Adjective("teuer", "teur", "expensive", _THINGS - {"text"}),
    Adjective("schnell", "schnell", "fast", frozenset({"vehicle", "animal"})),
    Adjective("freundlich", "freundlich", "friendly", ANIMATE),
    Adjective("lecker", "lecker", "delicious", frozenset({"food"})),
    Adjective("kalt", "kalt", "cold", frozenset({"drink"})),
)

NUMBERS = (
    ("zwei", "two"),
    ("drei", "three"),
    ("vier", "four"),
    ("fünf", "five"),
    ("sechs", "six"),
    ("sieben", "seven"),
    ("acht", "eight"),
    ("neun", "nine"),
    ("zehn", "ten"),
)
# Person slots: 0 ich, 1 du, 2 er/sie/es, 3 wir, 4 ihr, 5 sie (they)
SUBJECT_PRONOUNS = (
    ("ich", "I", 0),
    ("du", "you", 1),
    ("er", "he", 2),
    ("sie", "she", 2),
    ("es", "it", 2),
    ("wir", "we", 3),
    ("ihr", "you", 4),
    ("sie", "they", 5),
)
OBJECT_PRONOUNS = (
    ("mich", "me", 0),
    ("dich", "you", 1),
    ("ihn", "him", 2),
    ("uns", "us", 3),
    ("euch", "you", 4),
)
SEIN = ("bin", "bist", "ist", "sind", "seid", "sind")
BE = ("am", "are", "is", "are", "are", "are")


@dataclass(frozen=True)
class Modal:
    de: tuple[str, str, str, str, str, str]
    en: str  # want / have: a full verb with do-support, "to" after it; can / would: an auxiliary
    en3: str
    then: str  # between the English verb and the infinitive
    auxiliary: bool  # English can / would: no do-support, "cannot"
    negatable: bool


MODALS = (
    Modal(
        ("will", "willst", "will", "wollen", "wollt", "wollen"), "want", "wants", "to", False, True
    ),
    Modal(("muss", "musst", "muss", "müssen", "müsst", "müssen"), "have", "has", "to", False, True),
    Modal(("kann", "kannst", "kann", "können", "könnt", "können"), "can", "can", "", True, True),
    Modal(
        ("möchte", "möchtest", "möchte", "möchten", "möchtet", "möchten"),
        "would",
        "would",
        "like to",
        True,
        False,
    ),
)
# Adverbs after the verb in both languages (he runs fast), frequency adverbs before the English
# verb (he often sleeps), and the two time adverbs that front a German clause (heute sieht ...).
MANNER = {"gut": "well", "schnell": "fast", "langsam": "slowly", "laut": "loudly", "hier": "here"}
FREQUENCY = (("oft", "often"), ("immer", "always"), ("nie", "never"))
FRONT = (("heute", "today"), ("jetzt", "now"))
THAT_VERBS = (
    (_regular("glaub"), "think", "thinks"),
    (("weiß", "weißt", "weiß", "wissen", "wisst", "wissen"), "know", "knows"),
    (_regular("sag"), "say", "says"),
    (_regular("hoff"), "hope", "hopes"),
)


# Phrases ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Phrase:
    de: str
    en: str
    person: int  # as a subject: 2 (singular) or 5 (plural); pronouns their own
    pronoun: bool = False
    noun: str = ""  # the German noun, so that an object is not its subject's noun again


_DEF = {("m", SUBJ): "der", ("m", OBJ): "den", ("f", SUBJ): "die", ("f", OBJ): "die"}
_DEF |= {("n", SUBJ): "das", ("n", OBJ): "das"}
_INDEF = {("m", SUBJ): "ein", ("m", OBJ): "einen", ("f", SUBJ): "eine", ("f", OBJ): "eine"}
_INDEF |= {("n", SUBJ): "ein", ("n", OBJ): "ein"}
_STRONG = {("m", SUBJ): "er", ("m", OBJ): "en", ("f", SUBJ): "e", ("f", OBJ): "e"}
_STRONG |= {("n", SUBJ): "es", ("n", OBJ): "es"}


def noun_phrase(
    noun: Noun, det: str, case: str, adj: Adjective | None = None, number: int = 0
) -> Phrase:
    """German and English noun phrase. det: the (der), a (ein), no (kein), the_pl (die),
    bare (plural, or a mass noun in the singular), no_pl (keine), num (drei, number 2..10)."""
    plural = det in ("the_pl", "bare", "no_pl", "num") and noun.de_pl is not None
    g = noun.gender
    if det == "the":
        art, ending = _DEF[g, case], "en" if (g, case) == ("m", OBJ) else "e"
    elif det == "the_pl":
        art, ending = "die", "en"
    elif det in ("a", "no"):
        art, ending = _INDEF[g, case], _STRONG[g, case]  # ein-words take the strong ending
        art = "k" + art if det == "no" else art
    elif det == "no_pl":
        art, ending = "keine", "en"
    elif det == "num":
        art, ending = NUMBERS[number - 2][0], "e"
    elif det == "bare":
        art, ending = "", "e" if plural else _STRONG[g, case]
    else:
        raise ValueError(f"noun_phrase: unknown determiner {det!r}")
    head_de = noun.de_pl if plural else noun.de
    head_en = noun.en_pl if plural else noun.en
    de = [art, adj.stem + ending if adj else "", head_de]
    en_det = {"the": "the", "the_pl": "the", "no": "no", "no_pl": "no", "bare": ""}.get(det)
    if det == "a":
        en_det = "an" if (adj.en if adj else head_en)[0] in "aeiou" else "a"
    elif det == "num":
        en_det = NUMBERS[number - 2][1]
    en = [en_det, adj.en if adj else "", head_en]
    return Phrase(_join(de), _join(en), 5 if plural else 2, noun=noun.de)


def _join(words: list[str]) -> str:
    return " ".join(w for w in words if w)


# A generator draws one sentence pair from the grammar ---------------------------------------------


ALL_DETS = ("the", "the", "the_pl", "a", "bare", "num")  # "the" twice: drawn twice as often
SUBJECT_DETS = ("the", "the", "the_pl", "a", "num")
DEFINITE = ("the", "the_pl")


class Draw:
    """The random choices of one sentence, from one random.Random."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, items):
        return items[self.rng.randrange(len(items))]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def noun(self, tags: frozenset[str], *, count: bool = False) -> Noun:
        fits = [n for n in NOUNS if n.tags & tags and (n.de_pl is not None or not count)]
        return self.pick(fits)

    def adjective(self, noun: Noun, tags: frozenset[str], p: float = 0.35) -> Adjective | None:
        """An adjective for the noun in its role here (`tags`: a fish eaten is delicious, a fish
        seen is not); a mass noun takes only those of food and drink (cold milk)."""
        if not self.chance(p):
            return None
        role = noun.tags & tags
        food = frozenset({"food", "drink"})
        fits = [a for a in ADJECTIVES if a.tags & role and (noun.de_pl or a.tags <= food)]
        return self.pick(fits) if fits else None

    def phrase(
        self, tags: frozenset[str], case: str, dets: tuple[str, ...], adj: float = 0.35
    ) -> Phrase:
        """A noun phrase with one of `dets` (a mass noun takes the or bare)."""
        noun = self.noun(tags)
        det = self.pick(dets)
        if noun.de_pl is None:
            det = {"a": "bare", "the_pl": "the", "num": "bare", "no_pl": "no"}.get(det, det)
        number = self.rng.randint(2, 10) if det == "num" else 0
        return noun_phrase(noun, det, case, self.adjective(noun, frozenset(tags), adj), number)

    def pronoun(self, pronouns: tuple[tuple[str, str, int], ...] = SUBJECT_PRONOUNS) -> Phrase:
        de, en, person = self.pick(pronouns)
        return Phrase(de, en, person, pronoun=True)

    def subject(
        self,
        tags: frozenset[str],
        pronoun: float = 0.4,
        adj: float = 0.35,
        dets: tuple[str, ...] = SUBJECT_DETS,
    ) -> Phrase:
        """A pronoun or a noun phrase with `tags`; a negated clause takes dets=DEFINITE
        (ein Hund schläft nicht reads as a specific dog; kein Hund schläft is not made)."""
        if self.chance(pronoun):
            return self.pronoun()
        return self.phrase(tags, SUBJ, dets, adj)

    def object(
        self,
        verb: Verb,
        subject: Phrase,
        dets: tuple[str, ...] = ALL_DETS,
        pronoun: float = 0.15,
        adj: float = 0.35,
        *,
        inverted: bool = False,
    ) -> Phrase:
        """A noun phrase the verb takes, or an object pronoun for a verb of people. Where the
        verb comes before the subject (inverted), a pronoun object only after a pronoun
        subject: sieht er mich, but not sieht der Mann mich (German puts mich first)."""
        if inverted and not subject.pronoun:
            pronoun = 0
        if verb.obj & PERSON and self.chance(pronoun):
            return self.pronoun(
                tuple(p for p in OBJECT_PRONOUNS if not _same_speaker(subject.person, p[2]))
            )
        phrase = self.phrase(verb.obj, OBJ, dets, adj)
        while phrase.noun == subject.noun:  # der Arzt ruft den Arzt an: draw again
            phrase = self.phrase(verb.obj, OBJ, dets, adj)
        return phrase


def _same_speaker(subject: int, obj: int) -> bool:
    """ich/wir with mich/uns, du/ihr with dich/euch: reflexive, not made here."""
    return {subject, obj} <= {0, 3} or {subject, obj} <= {1, 4}


# English verb groups ----------------------------------------------------------------------------


def en_finite(base: str, third: str, person: int) -> str:
    return third if person == 2 else base


def en_clause(
    subject: str, person: int, base: str, third: str, rest: str, *, neg=False, ask=False
) -> str:
    """An English clause with a full verb: do-support for negation and questions."""
    if ask:
        return _join([en_finite("do", "does", person), subject, "not" if neg else "", base, rest])
    if neg:
        return _join([subject, en_finite("do", "does", person), "not", base, rest])
    return _join([subject, en_finite(base, third, person), rest])


def en_modal(subject: str, person: int, modal: Modal, rest: str, *, neg=False, ask=False) -> str:
    """rest: the infinitive and what follows it (eat the apple)."""
    rest = _join([modal.then, rest])
    if not modal.auxiliary:
        return en_clause(subject, person, modal.en, modal.en3, rest, neg=neg, ask=ask)
    if ask:
        return _join([modal.en, subject, rest])
    return _join([subject, "cannot" if neg else modal.en, rest])


def sentence(de: str, en: str, mark: str = ".") -> tuple[str, str]:
    """Capitalize the first letter, add the final mark; German commas stay as written."""
    return de[0].upper() + de[1:] + mark, en[0].upper() + en[1:] + mark


# Clauses: a German clause as parts, put in main, question or verb-final order --------------------


@dataclass(frozen=True)
class Clause:
    subject: Phrase
    finite: str  # the German finite verb
    middle: str  # objects, nicht, adverbs
    end: str  # the infinitive, the separable prefix or the predicate adjective
    joined: str  # the finite verb as it stands at the end of a subordinate clause
    en: str  # the English clause, statement order
    en_ask: str  # the English yes/no question

    def main(self) -> str:
        return _join([self.subject.de, self.finite, self.middle, self.end])

    def question(self) -> str:
        return _join([self.finite, self.subject.de, self.middle, self.end])

    def fronted(self, adverb: str) -> str:
        return _join([adverb, self.finite, self.subject.de, self.middle, self.end])

    def final(self) -> str:
        """Verb-final order, for weil and dass: the finite verb last."""
        if self.joined != self.finite:  # separable: ruft an -> anruft
            return _join([self.subject.de, self.middle, self.joined])
        return _join([self.subject.de, self.middle, self.end, self.finite])


def verb_clause(subject: Phrase, verb: Verb, obj: Phrase | None, *, neg=False, middle="") -> Clause:
    """A full verb, with its object or without one; nicht after the object."""
    p = subject.person
    de_mid = _join([obj.de if obj else "", middle, "nicht" if neg else ""])
    rest = _join([verb.tail, obj.en if obj else ""])
    return Clause(
        subject,
        verb.de[p],
        de_mid,
        verb.prefix,
        verb.prefix + verb.de[p],
        en_clause(subject.en, p, verb.en, verb.en3, rest, neg=neg),
        en_clause(subject.en, p, verb.en, verb.en3, rest, ask=True),
    )


def modal_clause(
    subject: Phrase, modal: Modal, verb: Verb, obj: Phrase | None, *, neg=False
) -> Clause:
    p = subject.person
    de_mid = _join([obj.de if obj else "", "nicht" if neg else ""])
    rest = _join([verb.en, verb.tail, obj.en if obj else ""])
    return Clause(
        subject,
        modal.de[p],
        de_mid,
        verb.inf,
        modal.de[p],
        en_modal(subject.en, p, modal, rest, neg=neg),
        en_modal(subject.en, p, modal, rest, ask=True),
    )


def copula_clause(subject: Phrase, adj: Adjective, *, neg=False) -> Clause:
    p = subject.person
    be = BE[p]
    return Clause(
        subject,
        SEIN[p],
        "nicht" if neg else "",
        adj.de,
        SEIN[p],
        _join([subject.en, be, "not" if neg else "", adj.en]),
        _join([be, subject.en, adj.en]),
    )


# Constructions ----------------------------------------------------------------------------------


NOT_IT = tuple(p for p in SUBJECT_PRONOUNS if p[0] != "es")  # for the verbs of saying


def _svo(d: Draw) -> tuple[str, str]:
    verb = d.pick(TRANSITIVE)
    subject = d.subject(verb.subj)
    c = verb_clause(subject, verb, d.object(verb, subject))
    return sentence(c.main(), c.en)


def _svo_neg(d: Draw) -> tuple[str, str]:
    """nicht goes with a definite object or a pronoun (an indefinite one takes kein)."""
    verb = d.pick(TRANSITIVE)
    subject = d.subject(verb.subj, dets=DEFINITE)
    obj = d.object(verb, subject, DEFINITE, pronoun=0.25)
    c = verb_clause(subject, verb, obj, neg=True)
    return sentence(c.main(), c.en)


def _svo_kein(d: Draw) -> tuple[str, str]:
    verb = d.pick(TRANSITIVE)
    subject = d.subject(verb.subj)
    c = verb_clause(subject, verb, d.object(verb, subject, ("no", "no_pl"), pronoun=0))
    return sentence(c.main(), c.en)


def _sv_adv(d: Draw) -> tuple[str, str]:
    """A manner or place adverb after the verb in both languages (er läuft schnell / he runs
    fast), a frequency adverb before the English verb (er schläft oft / he often sleeps)."""
    verb = d.pick(INTRANSITIVE)
    subject = d.subject(verb.subj)
    p = subject.person
    if verb.adverbs and d.chance(0.5):
        adverb = d.pick(verb.adverbs)
        c = verb_clause(subject, verb, None, middle=adverb)
        return sentence(c.main(), _join([c.en, MANNER[adverb]]))
    de_adv, en_adv = d.pick(FREQUENCY)
    de = _join([subject.de, verb.de[p], de_adv])
    return sentence(de, _join([subject.en, en_adv, en_finite(verb.en, verb.en3, p)]))


def _sv_neg(d: Draw) -> tuple[str, str]:
    verb = d.pick(INTRANSITIVE)
    c = verb_clause(d.subject(verb.subj, dets=DEFINITE), verb, None, neg=True)
    return sentence(c.main(), c.en)


def _copula_parts(d: Draw, *, neg: bool, pronoun: float) -> Clause:
    """sein + a predicative adjective (uninflected in German); a pronoun subject only for
    the adjectives of people and animals."""
    adj = d.pick(ADJECTIVES)
    subject = d.phrase(adj.tags, SUBJ, DEFINITE, adj=0)
    if adj.tags & ANIMATE and d.chance(pronoun):
        subject = d.pronoun()
    return copula_clause(subject, adj, neg=neg)


def _copula(d: Draw) -> tuple[str, str]:
    c = _copula_parts(d, neg=d.chance(0.4), pronoun=0.4)
    return sentence(c.main(), c.en)


def _question(d: Draw) -> tuple[str, str]:
    kind = d.pick(("svo", "svo", "sv", "copula"))
    if kind == "copula":
        c = _copula_parts(d, neg=False, pronoun=0.5)
    else:
        verb = d.pick(TRANSITIVE if kind == "svo" else INTRANSITIVE)
        subject = d.subject(verb.subj, pronoun=0.6, adj=0.2)
        obj = None
        if kind == "svo":
            obj = d.object(verb, subject, ("the", "the_pl", "a", "bare"), adj=0.2, inverted=True)
        c = verb_clause(subject, verb, obj)
    return sentence(c.question(), c.en_ask, "?")


def _wh_question(d: Draw) -> tuple[str, str]:
    kind = d.pick(("was", "wer", "wer", "wo"))
    if kind == "was":  # the object asked for: a thing
        verb = d.pick([v for v in TRANSITIVE if v.obj - ANIMATE - {"kin"}])
        subject = d.subject(verb.subj, pronoun=0.5, adj=0.2)
        p = subject.person
        de = _join(["was", verb.de[p], subject.de, verb.prefix])
        en = _join(["what", en_finite("do", "does", p), subject.en, verb.en, verb.tail])
    elif kind == "wer":  # the subject asked for: singular verb, no do-support
        verb = d.pick(VERBS)
        who = Phrase("wer", "who", 2, pronoun=True)
        obj = None
        if verb.obj and (not verb.intransitive or d.chance(0.7)):
            obj = d.object(verb, who, ("the", "the_pl", "a"), adj=0.2)
        c = verb_clause(who, verb, obj)
        de, en = c.main(), c.en
    else:
        verb = d.pick([v for v in INTRANSITIVE if v.where])
        subject = d.subject(verb.subj, pronoun=0.5, adj=0.2)
        c = verb_clause(subject, verb, None)
        de, en = _join(["wo", c.question()]), _join(["where", c.en_ask])
    return sentence(de, en, "?")


def _modal_parts(d: Draw, *, neg: bool, pronoun: float = 0.5, inverted: bool = False) -> Clause:
    modal = d.pick([m for m in MODALS if m.negatable or not neg])
    verb = d.pick(VERBS)
    subject = d.subject(verb.subj, pronoun=pronoun, adj=0.2, dets=DEFINITE if neg else SUBJECT_DETS)
    obj = None
    if verb.obj and (not verb.intransitive or d.chance(0.6)):
        obj = d.object(verb, subject, DEFINITE if neg else ALL_DETS, adj=0.2, inverted=inverted)
    return modal_clause(subject, modal, verb, obj, neg=neg)


def _modal(d: Draw) -> tuple[str, str]:
    if d.chance(0.25):
        c = _modal_parts(d, neg=False, pronoun=0.7, inverted=True)
        return sentence(c.question(), c.en_ask, "?")
    c = _modal_parts(d, neg=d.chance(0.35))
    return sentence(c.main(), c.en)


def _fronted(d: Draw) -> tuple[str, str]:
    """A time adverb first, then the verb (V2), then the subject: heute sieht der Hund ..."""
    de_adv, en_adv = d.pick(FRONT)
    verb = d.pick(VERBS)
    subject = d.subject(verb.subj, adj=0.25)
    obj = None
    if verb.obj and (not verb.intransitive or d.chance(0.5)):
        obj = d.object(verb, subject, ALL_DETS, adj=0.25, inverted=True)
    c = verb_clause(subject, verb, obj)
    return sentence(c.fronted(de_adv), _join([en_adv, c.en]))


def _simple_clause(d: Draw, adj: float) -> Clause:
    """A clause for either side of weil / dass: a full verb, a modal or sein, maybe negated."""
    kind = d.pick(("verb", "verb", "verb", "modal", "copula"))
    neg = d.chance(0.3)
    if kind == "modal":
        return _modal_parts(d, neg=neg)
    if kind == "copula":
        return _copula_parts(d, neg=neg, pronoun=0.4)
    verb = d.pick(VERBS)
    subject = d.subject(verb.subj, adj=adj, dets=DEFINITE if neg else SUBJECT_DETS)
    obj = None
    if verb.obj and (not verb.intransitive or d.chance(0.5)):
        obj = d.object(verb, subject, DEFINITE if neg else ALL_DETS, adj=adj)
    return verb_clause(subject, verb, obj, neg=neg)


def _subordinate(d: Draw) -> tuple[str, str]:
    """dass or weil with the verb last; English keeps its main-clause order, no comma."""
    if d.chance(0.5):
        de_verb, en, en3 = d.pick(THAT_VERBS)
        subject = d.pronoun(NOT_IT) if d.chance(0.7) else d.phrase(PERSON, SUBJ, DEFINITE, 0)
        p = subject.person
        sub = _simple_clause(d, adj=0.15)
        de = _join([subject.de, de_verb[p] + ",", "dass", sub.final()])
        return sentence(de, _join([subject.en, en_finite(en, en3, p), "that", sub.en]))
    main = _simple_clause(d, adj=0)
    sub = _simple_clause(d, adj=0)
    de = _join([main.main() + ",", "weil", sub.final()])
    return sentence(de, _join([main.en, "because", sub.en]))


CONSTRUCTIONS: Mapping[str, tuple[float, Callable[[Draw], tuple[str, str]]]] = {
    "svo": (0.16, _svo),
    "svo_neg": (0.08, _svo_neg),
    "svo_kein": (0.06, _svo_kein),
    "sv_adv": (0.08, _sv_adv),
    "sv_neg": (0.04, _sv_neg),
    "copula": (0.08, _copula),
    "question": (0.10, _question),
    "wh_question": (0.08, _wh_question),
    "modal": (0.12, _modal),
    "fronted": (0.06, _fronted),
    "subordinate": (0.14, _subordinate),
}


def tagged_pairs(seed: int, n: int) -> list[tuple[str, str, str]]:
    """n distinct (construction, German, English) triples: no German sentence twice, none
    longer than MAX_TOKENS tokens on either side."""
    rng = random.Random(seed)
    d = Draw(rng)
    names = list(CONSTRUCTIONS)
    weights = [CONSTRUCTIONS[k][0] for k in names]
    seen: set[str] = set()
    out: list[tuple[str, str, str]] = []
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 50 * n + 1000:
            raise ValueError(
                f"deen_sample: only {len(out)} distinct pairs found of the {n} asked for"
            )
        name = rng.choices(names, weights)[0]
        de, en = CONSTRUCTIONS[name][1](d)
        if de in seen or max(len(tokenize(de)), len(tokenize(en))) > MAX_TOKENS:
            continue
        seen.add(de)
        out.append((name, de, en))
    return out


def pairs(seed: int, n: int) -> list[tuple[str, str]]:
    """n distinct (German, English) sentence pairs, the same for the same seed."""
    return [(de, en) for _, de, en in tagged_pairs(seed, n)]


def write(out: Path, seed: int = 0, sizes: Mapping[str, int] = SIZES) -> dict[str, int]:
    """train/valid/test.{de,en} in `out` (which must exist): one stream of distinct pairs cut
    into the splits in that order, so no pair is in two. Returns the pairs per split."""
    drawn = pairs(seed, sum(sizes.values()))
    start = 0
    for split, size in sizes.items():
        part = drawn[start : start + size]
        start += size
        for lang, side in (("de", 0), ("en", 1)):
            text = "".join(p[side] + "\n" for p in part)
            (Path(out) / f"{split}.{lang}").write_text(text, encoding="utf-8")
    return dict(sizes)
