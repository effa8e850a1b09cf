"""Duplicate detection: repeats within a document, near-duplicate keys and groups across documents."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.chunk import _paragraphs, find_duplicate_paragraphs
from ingest.clean import clean_text
from ingest.dedup import (
    DUPLICATE_JACCARD,
    MIN_DUPLICATE_WORDS,
    KeyTable,
    Signature,
    find_repeats,
    group_near_duplicates,
    jaccard,
    near_duplicate_keys,
    parse_keys,
    signature,
    word_set,
)
from ingest.sections import parse_sections
from tests.conftest import CORPUS, REPO

DOC = clean_text(CORPUS.read_text(encoding="utf-8"))
SECTIONS = parse_sections(DOC.text, DOC.title)
PARAGRAPHS = [
    DOC.text[p.start : p.end] for s in SECTIONS for p in _paragraphs(DOC.text, s.body_start, s.end)
]
GDP = next(p for p in PARAGRAPHS if "In 2005, the information industry" in p)


def all_pairs_repeats(texts: list[str]) -> dict[int, int]:
    """The rule written plainly: every text against every earlier one (the oracle)."""
    words = [word_set(text) for text in texts]
    repeats: dict[int, int] = {}
    for later in range(len(texts)):
        if len(words[later]) < MIN_DUPLICATE_WORDS:
            continue
        for earlier in range(later):
            if earlier in repeats or len(words[earlier]) < MIN_DUPLICATE_WORDS:
                continue
            if jaccard(words[later], words[earlier]) >= DUPLICATE_JACCARD:
                repeats[later] = earlier
                break
    return repeats


def test_the_strategy_repeats_are_the_two_iv_3_paragraphs_the_all_pairs_rule_finds() -> None:
    repeats = find_repeats(PARAGRAPHS)
    assert repeats == all_pairs_repeats(PARAGRAPHS)
    assert len(repeats) == 2
    by_start = find_duplicate_paragraphs(DOC.text, SECTIONS)
    iv3 = next(s for s in SECTIONS if (s.part, s.number) == ("IV", "3"))
    for copy, original in by_start.items():
        assert iv3.body_start <= original < copy < iv3.end
    openings = sorted(DOC.text[copy:].split(".")[0] for copy in by_start)
    assert openings == ["Improve public cultural information services",
                        "Strengthen Internet foreign propaganda and cultural exchange"]


def test_planted_repeats_among_many_paragraphs_match_the_all_pairs_rule() -> None:
    # Paragraphs made of the Strategy's words, each a fresh draw, plus edited copies of some
    # of them at Jaccard 0.6-1.0: LSH must find the copies and nothing the oracle would not.
    rng = random.Random(7)
    vocabulary = sorted({w for p in PARAGRAPHS for w in p.split()})
    texts = [" ".join(rng.sample(vocabulary, rng.randint(25, 80))) for _ in range(300)]
    for _ in range(40):
        source = texts[rng.randrange(len(texts))].split()
        kept = int(len(source) * rng.uniform(0.8, 1.0))  # drops words: Jaccard ≈ kept / len
        texts.append(" ".join(rng.sample(source, kept)))
    repeats = find_repeats(texts)
    assert repeats == all_pairs_repeats(texts)
    assert len(repeats) >= 40


def test_short_paragraphs_never_repeat() -> None:
    line = "Build a national information security protection system now"
    assert find_repeats([line, line, line]) == {}


def test_keys_are_band_numbered_strings_and_empty_for_a_text_without_words() -> None:
    keys = near_duplicate_keys(GDP)
    assert len(keys) == 8
    assert [key.split(":")[0] for key in keys] == [str(band) for band in range(8)]
    assert all(len(key) <= 12 for key in keys)
    assert near_duplicate_keys("国务院办公厅 —") == ()
    assert near_duplicate_keys(GDP) == keys


def test_keys_are_the_same_in_another_process() -> None:
    # Python's hash() is salted per process; stored keys must not depend on it.
    code = "from ingest.dedup import near_duplicate_keys; import sys; print(near_duplicate_keys(sys.stdin.read()))"
    other = subprocess.run(
        [sys.executable, "-c", code], input=GDP, capture_output=True, text=True, check=True,
        cwd=REPO, env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    assert other.stdout.strip() == str(near_duplicate_keys(GDP))


def test_the_signature_estimates_the_jaccard_similarity() -> None:
    for first, second in [(0, 1), (13, 24), (40, 41)]:
        exact = jaccard(word_set(PARAGRAPHS[first]), word_set(PARAGRAPHS[second]))
        estimate = signature(PARAGRAPHS[first]).similarity(signature(PARAGRAPHS[second]))
        assert abs(estimate - exact) < 0.1, (first, second, exact, estimate)
    assert signature(GDP).similarity(signature(GDP)) == 1.0
    assert signature("").similarity(signature("")) == 0.0


def test_identical_and_one_figure_apart_paragraphs_group_and_unrelated_ones_do_not() -> None:
    changed = GDP.replace("2005", "2006")
    assert changed != GDP and "2006" not in GDP
    others = [p for p in PARAGRAPHS if len(word_set(p)) >= 40 and p != GDP][:6]
    signatures = {"gdp": signature(GDP), "copy": signature(GDP), "figure": signature(changed)}
    signatures |= {f"other{n}": signature(p) for n, p in enumerate(others)}
    assert group_near_duplicates(signatures) == [("gdp", "copy", "figure")]


def test_the_edited_repeat_groups_and_the_re_translated_one_does_not() -> None:
    # The Strategy's two repeats: one edited (Jaccard 0.92), one re-translated (0.56).
    repeats = find_repeats(PARAGRAPHS)
    scores = {}
    for copy, original in repeats.items():
        score = round(jaccard(word_set(PARAGRAPHS[copy]), word_set(PARAGRAPHS[original])), 2)
        scores[score] = group_near_duplicates(
            {"original": signature(PARAGRAPHS[original]), "copy": signature(PARAGRAPHS[copy])}
        )
    assert scores == {0.92: [("original", "copy")], 0.56: []}


def test_texts_without_words_never_group() -> None:
    assert group_near_duplicates({"a": Signature(()), "b": Signature(()), "c": signature("—")}) == []


def test_the_key_table_finds_the_rows_sharing_a_key_likeliest_copies_first(tmp_path: Path) -> None:
    figure = GDP.replace("2005", "2006")
    others = [p for p in PARAGRAPHS if len(word_set(p)) >= 40 and p != GDP][:20]
    texts = [GDP, *others, figure, "—", GDP]
    keys = [near_duplicate_keys(t) for t in texts]
    table = KeyTable.build(keys)
    rows, counts = table.sharing(0)
    # The oracle: rows sharing any key, counted plainly.
    expected = {
        i: len(set(keys[0]) & set(k)) for i, k in enumerate(keys) if i != 0 and set(keys[0]) & set(k)
    }
    assert dict(zip(rows.tolist(), counts.tolist())) == expected
    assert rows[0] == len(texts) - 1 and counts[0] == 8  # the identical copy first
    assert len(texts) - 3 in rows.tolist()  # the figure changed
    assert list(counts) == sorted(counts, reverse=True)
    assert table.sharing(len(texts) - 2)[0].tolist() == []  # no words, no keys
    table.save(tmp_path)
    again = KeyTable.load(tmp_path, len(texts))
    assert [a.tolist() for a in again.sharing(0)] == [rows.tolist(), counts.tolist()]
    with pytest.raises(ValueError):
        KeyTable.load(tmp_path, len(texts) + 1)


def test_only_keys_near_duplicate_keys_makes_are_accepted() -> None:
    assert parse_keys(near_duplicate_keys(GDP)).shape == (8,)
    for wrong in [("0:abc",), tuple(f"{b}:0000000g" for b in range(8)),
                  tuple(f"{7 - b}:00000000" for b in range(8))]:
        with pytest.raises(ValueError):
            parse_keys(wrong)
