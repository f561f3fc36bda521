"""qrnnc.deen_sample: the synthetic German->English sample, its folder, its CLI command.

The tables below were checked by hand, pair by pair: gender and case of the
articles, adjective endings, conjugation and word order on the German side;
agreement, do-support and a/an on the English side. A change to the grammar or
to the random draws that changes them needs the same check again.
"""

import json

import pytest
import torch
from typer.testing import CliRunner

from qrnnc import datasets, deen_sample, ir, runs
from qrnnc.cli import app
from qrnnc.tasks import DataError, load_task
from qrnnc.tasks.text import tokenize

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
TASK = ir.TranslationTask(src="de", tgt="en", vocab=500, max_len=50)  # as zoo/deen's

# (index in tagged_pairs(0, ...), German, English, construction)
CHECKED = [
    (0, "Jetzt essen sie eine Banane.", "Now they eat a banana.", "fronted"),
    (
        1,
        "Sie wissen, dass die großen Onkel eine Mutter treffen.",
        "They know that the big uncles meet a mother.",
        "subordinate",
    ),
    (2, "Neun Lehrer singen oft.", "Nine teachers often sing.", "sv_adv"),
    (3, "Heute schreibt die Tochter.", "Today the daughter writes.", "fronted"),
    (4, "Du arbeitest hier.", "You work here.", "sv_adv"),
    (
        5,
        "Die schwarze Kuh sucht das rote Geschenk nicht.",
        "The black cow does not look for the red present.",
        "svo_neg",
    ),
    (6, "Eine freundliche Frau muss arbeiten.", "A friendly woman has to work.", "modal"),
    (7, "Er kommt nicht.", "He does not come.", "sv_neg"),
    (8, "Es kennt den Fisch nicht.", "It does not know the fish.", "svo_neg"),
    (
        9,
        "Der Saft ist kalt, weil die Autos schnell sind.",
        "The juice is cold because the cars are fast.",
        "subordinate",
    ),
    (
        10,
        "Wir lachen nicht, weil sie die Freunde nicht fragt.",
        "We do not laugh because she does not ask the friends.",
        "subordinate",
    ),
    (11, "Der Onkel sucht den kleinen Lehrer.", "The uncle looks for the small teacher.", "svo"),
    (12, "Was brauchst du?", "What do you need?", "wh_question"),
    (13, "Er hört die Frau.", "He hears the woman.", "svo"),
    (14, "Die Tante hört mich.", "The aunt hears me.", "svo"),
    (15, "Wer bringt den Tee?", "Who brings the tea?", "wh_question"),
    (
        17,
        "Der alte Bruder trinkt den Kaffee nicht.",
        "The old brother does not drink the coffee.",
        "svo_neg",
    ),
    (19, "Die Bananen sind nicht klein.", "The bananas are not small.", "copula"),
    (20, "Ihr seid müde.", "You are tired.", "copula"),
    (21, "Heute sehen die jungen Pferde Milch.", "Today the young horses see milk.", "fronted"),
    (22, "Sind die Mäuse klein?", "Are the mice small?", "question"),
    (24, "Was spielen wir?", "What do we play?", "wh_question"),
    (25, "Ihr schlaft gut.", "You sleep well.", "sv_adv"),
    (28, "Können wir dich mögen?", "Can we like you?", "modal"),
    (29, "Sie hört keine Schwestern.", "She hears no sisters.", "svo_kein"),
    (34, "Sie kaufen keine Pferde.", "They buy no horses.", "svo_kein"),
    (36, "Ein kleiner Lehrer ruft keinen Koch an.", "A small teacher calls no cook.", "svo_kein"),
    (38, "Möchte ich kochen?", "Would I like to cook?", "modal"),
    (40, "Wo schwimmen wir?", "Where do we swim?", "wh_question"),
    (41, "Jetzt schwimmen fünf müde Söhne.", "Now five tired sons swim.", "fronted"),
    (42, "Die Kinder lesen nie.", "The children never read.", "sv_adv"),
    (44, "Ist das Auto teuer?", "Is the car expensive?", "question"),
    (46, "Er spielt nicht.", "He does not play.", "sv_neg"),
    (61, "Ihr arbeitet nicht.", "You do not work.", "sv_neg"),
    (63, "Sind die Hunde schnell?", "Are the dogs fast?", "question"),
    (64, "Der Apfel ist nicht lecker.", "The apple is not delicious.", "copula"),
    (
        77,
        "Er kann das leckere Brot nicht bringen.",
        "He cannot bring the delicious bread.",
        "modal",
    ),
    (87, "Sie lesen ein grünes Buch.", "They read a green book.", "svo"),
    (105, "Die Tochter wirft einen roten Apfel.", "The daughter throws a red apple.", "svo"),
    (
        164,
        "Sie weiß, dass ein Onkel kommen möchte.",
        "She knows that an uncle would like to come.",
        "subordinate",
    ),
    (
        181,
        "Der Arzt trinkt den kalten Tee nicht.",
        "The doctor does not drink the cold tea.",
        "svo_neg",
    ),
    (258, "Die Söhne kommen langsam.", "The sons come slowly.", "sv_adv"),
    (277, "Wer ruft den Arzt an?", "Who calls the doctor?", "wh_question"),
    (
        378,
        "Der Fisch muss die Söhne nicht hören.",
        "The fish does not have to hear the sons.",
        "modal",
    ),
    (
        565,
        "Die Frau hofft, dass ein freundlicher Freund eine Mutter einlädt.",
        "The woman hopes that a friendly friend invites a mother.",
        "subordinate",
    ),
    (1178, "Sie hören keinen weißen Fisch.", "They hear no white fish.", "svo_kein"),
    (1766, "Was schaut es an?", "What does it look at?", "wh_question"),
    (
        2933,
        "Du weißt, dass ich dich nicht besuche.",
        "You know that I do not visit you.",
        "subordinate",
    ),
]

# (noun, determiner, case, adjective, German, English)
NOUN_PHRASES = [
    ("Hund", "the", "nom", "groß", "der große Hund", "the big dog"),
    ("Hund", "the", "acc", "groß", "den großen Hund", "the big dog"),
    ("Hund", "a", "nom", "alt", "ein alter Hund", "an old dog"),
    ("Hund", "a", "acc", "alt", "einen alten Hund", "an old dog"),
    ("Hund", "no", "acc", "klein", "keinen kleinen Hund", "no small dog"),
    ("Katze", "the", "acc", "schwarz", "die schwarze Katze", "the black cat"),
    ("Katze", "a", "nom", "müde", "eine müde Katze", "a tired cat"),
    ("Haus", "a", "nom", "groß", "ein großes Haus", "a big house"),
    ("Haus", "a", "acc", "alt", "ein altes Haus", "an old house"),
    ("Haus", "the", "acc", "teuer", "das teure Haus", "the expensive house"),
    ("Ei", "a", "acc", None, "ein Ei", "an egg"),
    ("Onkel", "a", "nom", None, "ein Onkel", "an uncle"),
    ("Maus", "the_pl", "acc", "weiß", "die weißen Mäuse", "the white mice"),
    ("Apfel", "bare", "acc", "rot", "rote Äpfel", "red apples"),
    ("Kind", "num", "nom", "jung", "drei junge Kinder", "three young children"),
    ("Kaffee", "bare", "acc", "kalt", "kalten Kaffee", "cold coffee"),
    ("Milch", "no", "acc", None, "keine Milch", "no milk"),
    ("Wasser", "bare", "nom", "kalt", "kaltes Wasser", "cold water"),
    ("Messer", "no_pl", "acc", "teuer", "keine teuren Messer", "no expensive knives"),
    ("Buch", "no", "acc", "neu", "kein neues Buch", "no new book"),
]

# (infinitive, ich, du, er, wir, ihr, sie)
CONJUGATIONS = [
    ("sehen", "sehe", "siehst", "sieht", "sehen", "seht", "sehen"),
    ("essen", "esse", "isst", "isst", "essen", "esst", "essen"),
    ("lesen", "lese", "liest", "liest", "lesen", "lest", "lesen"),
    ("fahren", "fahre", "fährst", "fährt", "fahren", "fahrt", "fahren"),
    ("halten", "halte", "hältst", "hält", "halten", "haltet", "halten"),
    ("finden", "finde", "findest", "findet", "finden", "findet", "finden"),
    ("öffnen", "öffne", "öffnest", "öffnet", "öffnen", "öffnet", "öffnen"),
    ("tanzen", "tanze", "tanzt", "tanzt", "tanzen", "tanzt", "tanzen"),
    ("mögen", "mag", "magst", "mag", "mögen", "mögt", "mögen"),
    ("einladen", "lade", "lädst", "lädt", "laden", "ladet", "laden"),
]


@pytest.fixture(scope="module")
def drawn():
    return deen_sample.tagged_pairs(0, 3000)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return datasets.deen_sample(tmp_path_factory.mktemp("s") / "deen")


def read_split(folder, split):
    de = (folder / f"{split}.de").read_text(encoding="utf-8").splitlines()
    en = (folder / f"{split}.en").read_text(encoding="utf-8").splitlines()
    return list(zip(de, en, strict=True))


# The grammar


@pytest.mark.parametrize(("i", "de", "en", "construction"), CHECKED)
def test_the_hand_checked_pairs(drawn, i, de, en, construction):
    assert drawn[i] == (construction, de, en)


def test_the_table_covers_every_construction():
    assert {row[3] for row in CHECKED} == set(deen_sample.CONSTRUCTIONS)


@pytest.mark.parametrize(("noun", "det", "case", "adj", "de", "en"), NOUN_PHRASES)
def test_articles_and_adjective_endings(noun, det, case, adj, de, en):
    nouns = {n.de: n for n in deen_sample.NOUNS}
    adjectives = {a.de: a for a in deen_sample.ADJECTIVES}
    phrase = deen_sample.noun_phrase(
        nouns[noun], det, case, adjectives[adj] if adj else None, 3 if det == "num" else 0
    )
    assert (phrase.de, phrase.en) == (de, en)


@pytest.mark.parametrize("forms", CONJUGATIONS, ids=lambda f: f[0])
def test_present_tense(forms):
    verbs = {v.inf: v for v in deen_sample.VERBS}
    assert verbs[forms[0]].de == forms[1:]


def test_the_lexicon_sizes():
    assert len(deen_sample.NOUNS) == 70 and len({n.de for n in deen_sample.NOUNS}) == 70
    assert len({v.inf for v in deen_sample.VERBS}) == 42
    assert len(deen_sample.ADJECTIVES) == 17


def test_pairs_are_deterministic_distinct_and_short(drawn):
    assert deen_sample.pairs(0, 3000) == [(de, en) for _, de, en in drawn]
    assert deen_sample.pairs(1, 50) != deen_sample.pairs(0, 50)
    assert len({de for _, de, _ in drawn}) == len(drawn)
    longest = max(max(len(tokenize(de)), len(tokenize(en))) for _, de, en in drawn)
    assert longest <= deen_sample.MAX_TOKENS
    ends = {de[-1] + en[-1] for _, de, en in drawn}
    assert ends == {"..", "??"}


# The folder


def test_the_folder_has_the_default_sizes_and_no_pair_in_two_splits(folder):
    splits = {s: read_split(folder, s) for s in ("train", "valid", "test")}
    assert {s: len(p) for s, p in splits.items()} == deen_sample.SIZES
    german = [de for pairs in splits.values() for de, _ in pairs]
    assert len(set(german)) == len(german) == 22_000
    manifest = json.loads((folder / datasets.MANIFEST).read_text())
    assert manifest["dataset"] == "deen-sample" and manifest["splits"] == deen_sample.SIZES
    assert manifest["unit"] == "sentence pairs" and "Apache-2.0" in manifest["licence"]
    assert splits["train"][:2] == deen_sample.pairs(0, 2)


def test_the_folder_loads_as_the_translation_task(folder):
    data = load_task(TASK, folder, seed=0, sizes={"train": 100, "valid": 10, "test": 10})
    assert data.info["train_size"] == 100 and data.info["test_size"] == 10
    assert 300 < data.info["src_vocab"] < TASK.vocab and 200 < data.info["tgt_vocab"] < TASK.vocab
    assert data.n_in == data.info["src_vocab"] and data.n_out == data.info["tgt_vocab"]
    assert data.references("test")[0].endswith((".", "?"))


def test_a_seed_gives_another_sample_and_a_full_folder_needs_overwrite(folder, tmp_path):
    out = datasets.deen_sample(tmp_path / "d", seed=1)
    assert read_split(out, "test") != read_split(folder, "test")
    with pytest.raises(DataError, match="not empty"):
        datasets.deen_sample(out)
    datasets.deen_sample(out, overwrite=True)
    assert read_split(out, "test") == read_split(folder, "test")


# The CLI


def cli(*args):
    return CliRunner().invoke(app, list(map(str, args)))


def test_cli_deen_sample_writes_the_folder_and_trains_the_zoo_model(tmp_path):
    data = tmp_path / "deen"
    result = cli("data", "deen-sample", "--out", data, "--seed", "3")
    assert result.exit_code == 0, result.output
    assert "train 20,000, valid 1,000, test 1,000 sentence pairs" in result.output
    assert "seed 3" in result.output and "task translation" in result.output
    assert cli("data", "deen-sample", "--out", data).exit_code == 1
    run = tmp_path / "run"
    sizes = ["--train-size", "64", "--valid-size", "16", "--test-size", "16"]
    model = ROOT / "zoo" / "deen" / "model.qrnn"
    args = ["train", model, "--data", data, "--out", run, "--epochs", "1", "--batch", "16"]
    result = cli(*args, *sizes)
    assert result.exit_code == 0, result.output
    summary = runs.read_metrics(run)[-1]
    assert summary["kind"] == "epoch" and summary["step"] == 4
    assert torch.isfinite(torch.tensor(summary["valid"]["nll"]))
    result = cli("eval", run, "--split", "test")
    assert result.exit_code == 0, result.output
    assert "bleu" in result.output
