"""Picks the next token for each row of a batch, each row with its own `Sampling` and random generator.

Both backends use this one sampler, so a request picks the same tokens whether it is decoded
alone (serial) or among others (batched), as long as its logits are the same. The steps, per
row: repetition penalty over the tokens seen so far, then greedy argmax (temperature 0) or
temperature, top-k, top-p and min-p filtering followed by one draw from the row's own
`torch.Generator`. The filters follow transformers' warpers (`TopKLogitsWarper`, ...) exactly,
vectorized over rows that each have their own values.

A per-request generator is what makes a seed reproduce a reply on a busy server: torch's global
generator is shared by every request. The generator lives on the logits' device, so a draw never
copies the distribution to the CPU.

    picker = RowSampler(sampling, device)        # one per request
    tokens = sample(scores, seen, [picker, ...])  # one call per step for the whole batch
"""

from __future__ import annotations

import torch

from playground.catalog import Sampling

NEG_INF = float("-inf")


class RowSampler:
    """One request's sampling settings and its own random generator."""

    def __init__(self, sampling: Sampling, device: torch.device | str):
        self.sampling = sampling
        self.generator: torch.Generator | None = None
        if not sampling.greedy:
            self.generator = torch.Generator(device=device)
            if sampling.seed is None:
                self.generator.seed()
            else:
                self.generator.manual_seed(sampling.seed)


def _column(values: list[float], like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(values, dtype=like.dtype, device=like.device).unsqueeze(1)


def penalize(scores: torch.Tensor, seen: torch.Tensor | None, rows: list[RowSampler]) -> torch.Tensor:
    """Repetition penalty (CTRL paper, as transformers applies it): seen tokens' logits shrink towards 0."""
    penalties = [row.sampling.repetition_penalty for row in rows]
    if seen is None or all(p == 1.0 for p in penalties):
        return scores
    penalty = _column(penalties, scores)
    penalized = torch.where(scores < 0, scores * penalty, scores / penalty)
    return torch.where(seen, penalized, scores)


def filter_scores(scores: torch.Tensor, rows: list[RowSampler]) -> torch.Tensor:
    """Temperature, top-k, top-p and min-p, each row with its own values; filtered logits become -inf."""
    temperature = [row.sampling.temperature if not row.sampling.greedy else 1.0 for row in rows]
    if any(t != 1.0 for t in temperature):
        scores = scores / _column(temperature, scores)
    vocab = scores.shape[-1]
    top_k = [row.sampling.top_k if 0 < row.sampling.top_k < vocab else vocab for row in rows]
    if any(k < vocab for k in top_k):
        ordered = torch.sort(scores, dim=-1, descending=True).values
        index = torch.tensor(top_k, device=scores.device).unsqueeze(1) - 1
        threshold = ordered.gather(-1, index)
        scores = scores.masked_fill(scores < threshold, NEG_INF)
    top_p = [row.sampling.top_p for row in rows]
    if any(p < 1.0 for p in top_p):
        ordered, order = torch.sort(scores, descending=False, dim=-1)
        cumulative = ordered.softmax(dim=-1).cumsum(dim=-1)
        remove = cumulative <= (1 - _column(top_p, scores))
        remove[..., -1:] = False  # always keep the most likely token
        scores = scores.masked_fill(remove.scatter(-1, order, remove), NEG_INF)
    min_p = [row.sampling.min_p for row in rows]
    if any(p > 0 for p in min_p):
        probs = torch.softmax(scores, dim=-1)
        threshold = probs.amax(dim=-1, keepdim=True) * _column(min_p, probs)
        scores = scores.masked_fill(probs < threshold, NEG_INF)
    return scores


def sample(scores: torch.Tensor, seen: torch.Tensor | None, rows: list[RowSampler]) -> torch.Tensor:
    """The next token of each row: `scores` is [rows, vocab], `seen` a [rows, vocab] mask or None."""
    scores = penalize(scores.float(), seen, rows)
    tokens = scores.argmax(dim=-1)
    drawn = [i for i, row in enumerate(rows) if row.generator is not None]
    if drawn:
        index = torch.tensor(drawn, device=scores.device)
        probs = torch.softmax(filter_scores(scores[index], [rows[i] for i in drawn]), dim=-1)
        for j, i in enumerate(drawn):
            tokens[i] = torch.multinomial(probs[j], 1, generator=rows[i].generator)[0]
    return tokens
