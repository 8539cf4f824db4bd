"""The shared sampler: transformers' warpers, per row, and a draw from each row's own generator."""

from __future__ import annotations

import pytest
import torch
from transformers import (
    LogitsProcessorList,
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from playground.backends.sampler import RowSampler, filter_scores, penalize, sample
from playground.catalog import Sampling

VOCAB = 64


def transformers_chain(s: Sampling) -> LogitsProcessorList:
    chain = [TemperatureLogitsWarper(s.temperature)]
    if s.top_k:
        chain.append(TopKLogitsWarper(s.top_k))
    if s.top_p < 1:
        chain.append(TopPLogitsWarper(s.top_p))
    if s.min_p:
        chain.append(MinPLogitsWarper(s.min_p))
    return LogitsProcessorList(chain)


SETTINGS = [
    pytest.param(Sampling(temperature=0.7, top_p=0.8, top_k=20), id="qwen_non_thinking"),
    pytest.param(Sampling(temperature=0.6, top_p=0.95, top_k=20), id="qwen_thinking"),
    pytest.param(Sampling(temperature=1.3, top_p=1.0, top_k=0, min_p=0.1), id="min_p_only"),
    pytest.param(Sampling(temperature=0.5, top_p=0.5, top_k=5, min_p=0.05), id="everything"),
    pytest.param(Sampling(temperature=1.0, top_p=1.0, top_k=0), id="nothing_filtered"),
]


def scores(rows: int, seed: int) -> torch.Tensor:
    return torch.randn(rows, VOCAB, generator=torch.Generator().manual_seed(seed)) * 3


@pytest.mark.parametrize("sampling", SETTINGS)
def test_filters_match_transformers_warpers(sampling: Sampling) -> None:
    row = scores(1, 0)
    ours = filter_scores(row[0], sampling)
    theirs = transformers_chain(sampling)(torch.zeros(1, 1, dtype=torch.long), row.clone())[0]
    assert torch.equal(torch.isinf(ours), torch.isinf(theirs))
    assert torch.allclose(ours[~torch.isinf(ours)], theirs[~torch.isinf(theirs)])


@pytest.mark.parametrize("sampling", SETTINGS)
def test_draws_only_allowed_tokens_in_proportion(sampling: Sampling) -> None:
    row = scores(1, 1)
    allowed = torch.softmax(transformers_chain(sampling)(torch.zeros(1, 1, dtype=torch.long), row.clone())[0], -1)
    picker = RowSampler(Sampling(**{**sampling.__dict__, "seed": 5}), "cpu")
    counts = torch.zeros(VOCAB)
    for _ in range(3000):
        counts[sample(row, None, [picker])[0]] += 1
    assert set(counts.nonzero().view(-1).tolist()) <= set(allowed.nonzero().view(-1).tolist())
    assert torch.allclose(counts / counts.sum(), allowed, atol=0.04)


def test_repetition_penalty_matches_transformers() -> None:
    row = torch.randn(1, VOCAB, generator=torch.Generator().manual_seed(2))
    ids = torch.tensor([[3, 7, 7, 40]])
    seen = torch.zeros(1, VOCAB, dtype=torch.bool).scatter_(1, ids, True)
    ours = penalize(row, seen, [RowSampler(Sampling(temperature=0, repetition_penalty=1.3), "cpu")])
    theirs = RepetitionPenaltyLogitsProcessor(1.3)(ids, row.clone())
    assert torch.equal(ours, theirs)


def test_greedy_takes_the_argmax() -> None:
    greedy = RowSampler(Sampling(temperature=0), "cpu")
    assert greedy.generator is None
    batch = scores(4, 3)
    assert sample(batch, None, [greedy] * 4) == batch.argmax(-1).tolist()


def seeded(seed: int, **settings) -> RowSampler:
    return RowSampler(Sampling(**{"temperature": 1.0, "top_k": 0, "top_p": 1.0, "seed": seed, **settings}), "cpu")


def test_a_seeded_row_draws_the_same_in_any_batch() -> None:
    """What a row draws depends on its own scores and generator only, whatever the other rows are."""
    batch = scores(5, 4)
    rows = [dict(top_k=0), dict(top_k=20, top_p=0.8), dict(top_k=3, min_p=0.1), dict(top_k=0, top_p=0.5), {}]
    alone = [sample(batch[i : i + 1], None, [seeded(i, **rows[i])] if i < 4 else
                    [RowSampler(Sampling(temperature=0), "cpu")])[0] for i in range(5)]
    for order in ([0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [2, 4, 0]):
        pickers = [seeded(i, **rows[i]) if i < 4 else RowSampler(Sampling(temperature=0), "cpu") for i in order]
        assert sample(batch[order], None, pickers) == [alone[i] for i in order]


def test_sampling_leaves_torch_global_generator_alone() -> None:
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    sample(scores(2, 0), None, [RowSampler(Sampling(temperature=1.0, seed=None), "cpu")] * 2)
    assert torch.equal(torch.rand(3), expected)
