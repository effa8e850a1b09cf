"""The offline Chinese → English keyword glossary used to retrieve for Chinese questions."""

from __future__ import annotations

import re

from ingest.clean import clean_text
from rag.zh_glossary import ZH_EN_TERMS, translate_terms
from tests.conftest import CORPUS

DOC_TEXT = clean_text(CORPUS.read_text(encoding="utf-8")).text.casefold()


def test_a_gdp_question_becomes_the_documents_keywords_in_order() -> None:
    question = "2005年信息产业增加值占国内生产总值的比重是多少？"
    # what it asks for comes first: the offline answerer reads the kind of answer from it
    assert translate_terms(question) == "how much 2005 year information industry added value GDP proportion"


def test_the_longest_term_wins_over_its_parts() -> None:
    # "信息安全" is one term, not "信息" + "安全" (security); "信息化" is not "信息产业" minus a char.
    assert translate_terms("信息安全") == "information security"
    assert translate_terms("信息化") == "informatization"
    assert translate_terms("国家信息化领导小组") == "national informatization Leading Group"


def test_latin_and_numbers_are_kept_unknown_chinese_and_punctuation_dropped() -> None:
    assert translate_terms("什么是 5G 和 e-government？") == "what is 5G e-government"
    # Full-width digits and letters are normalised before matching.
    assert translate_terms("２００５年ＧＤＰ占16.6%。") == "2005 year GDP 16.6%"


def test_repeated_terms_are_kept_once_and_nothing_known_gives_empty() -> None:
    assert (
        translate_terms("缩小数字鸿沟，缩小差距")
        == "narrowing reduce digital divide differences discrepancies"
    )
    assert translate_terms("你好吗？") == ""


def test_question_words_say_what_is_asked_for() -> None:
    assert translate_terms("电子商务行动计划由哪个部委牵头？") == "which ministry e-commerce action plans"
    assert translate_terms("信息化战略什么时候发布？").startswith("when ")


def test_the_glossary_maps_chinese_terms_to_words_the_document_uses() -> None:
    assert 80 <= len(ZH_EN_TERMS) <= 130
    cjk = re.compile(r"^[\u4e00-\u9fff]+$")
    assert [term for term in ZH_EN_TERMS if not cjk.match(term)] == []
    # Every English word must occur in the document, or BM25 could never match it.
    missing = [
        (term, word)
        for term, english in ZH_EN_TERMS.items()
        for word in english.split()
        if word.casefold() not in DOC_TEXT
    ]
    assert missing == []
