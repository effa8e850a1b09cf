"""PLACEHOLDER until the glossary lands: maps a few Chinese terms to English keywords."""

import re

ZH_EN_TERMS: dict[str, str] = {"信息产业": "information industry", "国内生产总值": "GDP", "增加值": "added value", "比重": "proportion share"}


def translate_terms(question: str) -> str:
    words = [en for zh, en in ZH_EN_TERMS.items() if zh in question]
    words += re.findall(r"[A-Za-z0-9.]+", question)
    return " ".join(words)
