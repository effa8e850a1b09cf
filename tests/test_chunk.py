"""Chunking: token limits (whatever the text), section boundaries, exact offsets, overlap, duplicates."""

from __future__ import annotations

import collections
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.chunk import (
    Chunk,
    ChunkParams,
    chunk_document,
    content_hash,
    count_tokens,
    split_sentences,
    version_of_chunk_id,
)
from ingest.clean import clean_text
from ingest.sections import Section, parse_sections
from tests.conftest import CORPUS

DOC = clean_text(CORPUS.read_text(encoding="utf-8"))
VERSION = content_hash(DOC.text)
SECTIONS = parse_sections(DOC.text, DOC.title)


@pytest.mark.parametrize("params", [ChunkParams(160, 32), ChunkParams(64, 16), ChunkParams(400, 0)])
def test_chunks_respect_the_token_limit_and_map_back_to_the_exact_text(params: ChunkParams) -> None:
    chunks = chunk_document(DOC.text, SECTIONS, "doc", DOC.title, params, version=VERSION)
    assert chunks
    for chunk in chunks:
        assert DOC.text[chunk.start : chunk.end] == chunk.text
        assert chunk.n_tokens == count_tokens(chunk.text) <= params.max_tokens


def test_no_chunk_spans_two_sections_and_every_section_with_its_heading_is_covered() -> None:
    chunks = chunk_document(DOC.text, SECTIONS, "doc", DOC.title, ChunkParams(), version=VERSION)
    for section in SECTIONS:
        inside = [c for c in chunks if c.section_path == section.path]
        assert inside, section.path
        for chunk in inside:
            assert section.start <= chunk.start < chunk.end <= section.end
        # the first chunk opens with the heading line, which is document text readers quote
        heading = DOC.text[section.start : section.body_start].strip()
        if heading:
            assert inside[0].text.startswith(heading), section.path
        # every sentence of the section is in some chunk
        for start, end in split_sentences(DOC.text, section.start, section.end):
            assert any(c.start <= start and end <= c.end for c in inside), DOC.text[start:end]


def test_consecutive_chunks_overlap_by_whole_sentences_within_the_budget() -> None:
    chunks = chunk_document(DOC.text, SECTIONS, "doc", DOC.title, ChunkParams(160, 32), version=VERSION)
    overlapping = 0
    for before, after in zip(chunks, chunks[1:]):
        if before.section_path == after.section_path and after.start < before.end:
            overlapping += 1
            assert count_tokens(DOC.text[after.start : before.end]) <= 32
            assert DOC.text[after.start : before.end] == before.text[after.start - before.start :]
    assert overlapping > 0


def test_chunk_ids_are_unique_and_name_version_section_ordinal_and_hash() -> None:
    chunks = chunk_document(DOC.text, SECTIONS, "nids", DOC.title, ChunkParams(), version=VERSION)
    ids = [c.chunk_id for c in chunks]
    assert len(ids) == len(set(ids))
    first_iv8 = next(c for c in chunks if c.part == "IV" and c.section_number == "8")
    assert first_iv8.chunk_id.startswith(f"nids@{VERSION[:8]}:IV.8:000:")
    assert first_iv8.chunk_id.endswith(first_iv8.content_hash[:8])
    assert {version_of_chunk_id(i) for i in ids} == {("nids", VERSION[:8])}


def test_chunk_ids_stay_unique_when_a_document_repeats_its_sections() -> None:
    twice = DOC.text + "\n" + DOC.text
    sections = parse_sections(twice, DOC.title)
    chunks = chunk_document(twice, sections, "twice", DOC.title, ChunkParams(), version=VERSION)
    ids = [c.chunk_id for c in chunks]
    assert len(ids) == len(set(ids))
    assert any(":IV.8~2:000:" in i for i in ids)


def test_the_repeated_paragraphs_of_iv_3_are_marked_duplicates_of_their_first_copy() -> None:
    chunks = chunk_document(DOC.text, SECTIONS, "doc", DOC.title, ChunkParams(), version=VERSION)
    by_id = {c.chunk_id: c for c in chunks}
    duplicates = [c for c in chunks if c.duplicate_of]
    assert len(duplicates) == 2
    for chunk in duplicates:
        original = by_id[chunk.duplicate_of]  # type: ignore[index]
        assert chunk.section_path == original.section_path == "IV (3) Building advanced network culture"
        assert original.start < chunk.start
    texts = sorted(c.text.split(".")[0] for c in duplicates)
    assert texts == ["Improve public cultural information services",
                     "Strengthen Internet foreign propaganda and cultural exchange"]


def test_overlap_not_smaller_than_chunk_is_rejected() -> None:
    with pytest.raises(ValueError, match="overlap"):
        chunk_document(DOC.text, SECTIONS, "doc", DOC.title, ChunkParams(64, 64), version=VERSION)


# Text that breaks naive cutting: no spaces, CJK, emoji made of several code points,
# combining marks, digits (the tokenizer groups them in threes), separators, long runs.
_PIECES = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"[A-Za-z]{1,14}", fullmatch=True),
    st.sampled_from([" ", "  ", "\n", "\n\n", "\t", ", ", "; ", ". ", "，", "；", "、", "。"]),
    st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=300),
    st.text(alphabet=st.sampled_from(["😀", "👍", "🏽", "\u200d", "🇨", "🇳", "e", "\u0301", "\u0308"]), max_size=200),
    st.from_regex(r"[0-9]{1,60}", fullmatch=True),
    st.text(alphabet=st.characters(codec="ascii", exclude_categories=("Zs", "Cc")), min_size=200, max_size=3000),
    st.builds(lambda character, count: character * count, st.characters(), st.integers(100, 2000)),
)
_BODIES = st.lists(st.lists(_PIECES, max_size=12).map("".join), min_size=1, max_size=3)


def sections_of(bodies: list[str]) -> tuple[str, list[Section]]:
    """The bodies as consecutive sections of one text, one heading-less section each."""
    text, sections = "", []
    for number, body in enumerate(bodies, start=1):
        start = len(text)
        text += body + "\n"
        sections.append(Section("I", "Part", str(number), f"Section {number}", start, start, len(text)))
    return text, sections


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(bodies=_BODIES, max_tokens=st.sampled_from([4, 7, 32, 160]), data=st.data())
def test_any_text_is_cut_into_exact_slices_within_the_limit_covering_every_character(
    bodies: list[str], max_tokens: int, data: st.DataObject
) -> None:
    text, sections = sections_of(bodies)
    overlap = data.draw(st.integers(0, max_tokens // 4), label="overlap_tokens")
    chunks = chunk_document(text, sections, "doc", "Title", ChunkParams(max_tokens, overlap), version=VERSION)
    assert len({c.chunk_id for c in chunks}) == len(chunks)
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.n_tokens == count_tokens(chunk.text) <= max_tokens
    for section in sections:
        inside = [c for c in chunks if c.section_number == section.number]
        covered = bytearray(len(text))
        for chunk in inside:
            assert section.body_start <= chunk.start < chunk.end <= section.end
            covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
        missing = [i for i in range(section.body_start, section.end)
                   if not covered[i] and not text[i].isspace()]
        assert not missing, text[missing[0] : missing[0] + 20]


def assert_cut_within_the_limit(text: str, max_tokens: int) -> list[Chunk]:
    sections = [Section("I", "Part", "1", "Section 1", 0, 0, len(text))]
    chunks = chunk_document(text, sections, "doc", "Title", ChunkParams(max_tokens, 0), version=VERSION)
    covered = bytearray(len(text))
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.n_tokens <= max_tokens
        covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
    assert all(covered[m.start()] for m in re.finditer(r"\S", text))
    return chunks


def test_a_2_mb_word_is_cut_between_tokens_into_chunks_within_the_limit() -> None:
    # The Strategy without its whitespace: Latin letters, punctuation and the CJK signatures.
    word = "".join(DOC.text.split())
    word = (word * (2_000_000 // len(word) + 1))[:2_000_000]
    chunks = assert_cut_within_the_limit(word, 160)
    assert len(chunks) > 2_000_000 // (160 * 16)  # no chunk is more than ~16 characters a token
    assert max(len(c.text) for c in chunks) < 5_000


def test_a_1_5_mb_line_of_clauses_is_cut_at_commas_within_the_limit() -> None:
    # The Strategy as one sentence on one line: every full stop turned into a comma.
    line = re.sub(r"[.!?]", ",", " ".join(DOC.text.split()))
    line = (line * (1_500_000 // len(line) + 1))[:1_500_000]
    chunks = assert_cut_within_the_limit(line, 160)
    ends = collections.Counter(c.text[-1] for c in chunks)
    assert ends.most_common(1)[0][0] in ",;"
