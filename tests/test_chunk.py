"""Chunking: token limits, section boundaries, exact offsets, overlap, duplicate paragraphs."""

from __future__ import annotations

import pytest

from ingest.chunk import (
    ChunkParams,
    chunk_document,
    content_hash,
    count_tokens,
    split_sentences,
    version_of_chunk_id,
)
from ingest.clean import clean_text
from ingest.sections import parse_sections
from tests.conftest import CORPUS

DOC = clean_text(CORPUS.read_text(encoding="utf-8"))
SECTIONS = parse_sections(DOC.text, DOC.title)
VERSION = content_hash(DOC.text)


@pytest.mark.parametrize("params", [ChunkParams(160, 32), ChunkParams(64, 16), ChunkParams(400, 0)])
def test_chunks_respect_the_token_limit_and_map_back_to_the_exact_text(params: ChunkParams) -> None:
    chunks = chunk_document(DOC.text, SECTIONS, "doc", DOC.title, params, version=VERSION)
    assert chunks
    for chunk in chunks:
        assert DOC.text[chunk.start : chunk.end] == chunk.text
        assert chunk.n_tokens == count_tokens(chunk.text) <= params.max_tokens


def test_no_chunk_spans_two_sections_and_every_section_body_is_covered() -> None:
    chunks = chunk_document(DOC.text, SECTIONS, "doc", DOC.title, ChunkParams(), version=VERSION)
    for section in SECTIONS:
        inside = [c for c in chunks if c.section_path == section.path]
        assert inside, section.path
        for chunk in inside:
            assert section.body_start <= chunk.start < chunk.end <= section.end
        # every sentence of the section body is in some chunk
        for start, end in split_sentences(DOC.text, section.body_start, section.end):
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
