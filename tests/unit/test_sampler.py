"""The shared sampler: transformers' warpers, vectorized per row, and a draw from each row's own generator."""

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


@pytest.mark.parametrize("sampling", SETTINGS)
def test_filters_match_transformers_warpers(sampling: Sampling) -> None:
    scores = torch.randn(3, VOCAB, generator=torch.Generator().manual_seed(0)) * 3
    ours = filter_scores(scores, [RowSampler(sampling, "cpu")] * 3)
    theirs = transformers_chain(sampling)(torch.zeros(3, 1, dtype=torch.long), scores.clone())
    assert torch.equal(torch.isinf(ours), torch.isinf(theirs))
    assert torch.allclose(ours[~torch.isinf(ours)], theirs[~torch.isinf(theirs)])


def test_rows_with_different_settings_are_filtered_as_if_alone() -> None:
    scores = torch.randn(5, VOCAB, generator=torch.Generator().manual_seed(1)) * 3
    rows = [RowSampler(p.values[0], "cpu") for p in SETTINGS]
    together = filter_scores(scores, rows)
    for i, row in enumerate(rows):
        assert torch.equal(together[i], filter_scores(scores[i : i + 1], [row])[0])


def test_repetition_penalty_matches_transformers() -> None:
    scores = torch.randn(1, VOCAB, generator=torch.Generator().manual_seed(2))
    ids = torch.tensor([[3, 7, 7, 40]])
    seen = torch.zeros(1, VOCAB, dtype=torch.bool).scatter_(1, ids, True)
    ours = penalize(scores, seen, [RowSampler(Sampling(temperature=0, repetition_penalty=1.3), "cpu")])
    theirs = RepetitionPenaltyLogitsProcessor(1.3)(ids, scores.clone())
    assert torch.equal(ours, theirs)


def test_greedy_takes_the_argmax_and_a_seed_reproduces_draws_in_any_batch() -> None:
    scores = torch.randn(4, VOCAB, generator=torch.Generator().manual_seed(3))
    greedy = RowSampler(Sampling(temperature=0), "cpu")
    assert greedy.generator is None
    assert sample(scores[:1], None, [greedy]).tolist() == [int(scores[0].argmax())]

    def seeded(seed: int) -> RowSampler:
        return RowSampler(Sampling(temperature=1.0, top_k=0, top_p=1.0, seed=seed), "cpu")

    alone = [int(sample(scores[1:2], None, [seeded(7)])[0]) for _ in range(3)]
    assert len(set(alone)) == 1  # the same seed draws the same token
    mixed = sample(scores[:3], None, [seeded(99), greedy, seeded(7)])
    assert int(mixed[1]) == int(scores[1].argmax())
    batch_with_row_one_third = sample(torch.stack([scores[0], scores[2], scores[1]]), None,
                                      [seeded(99), greedy, seeded(7)])
    assert int(batch_with_row_one_third[2]) == alone[0]


def test_sampling_leaves_torch_global_generator_alone() -> None:
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    sample(torch.randn(2, VOCAB, generator=torch.Generator().manual_seed(0)), None,
           [RowSampler(Sampling(temperature=1.0, seed=None), "cpu")] * 2)
    assert torch.equal(torch.rand(3), expected)
