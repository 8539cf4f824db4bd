"""Picks the next token for each row of a batch, each row with its own `Sampling` and random generator.

Both decoders use this one sampler, so a request picks the same tokens whether it is decoded
alone (serial) or among others (batched), as long as its logits are the same: nothing a row
computes depends on the other rows. Per row: the repetition penalty over the tokens seen so
far, then greedy argmax (temperature 0), or temperature, top-k, top-p and min-p (transformers'
warpers, same rules) and one draw from the row's own `torch.Generator`. A per-request generator
is what makes a seed reproduce a reply on a busy server: torch's global one is shared by all.

Where top-k is on (Qwen's presets use 20), only the k best candidates leave the device: their
filtering and the draw happen on the CPU, on a few numbers, with a CPU generator. Without top-k
the whole distribution is filtered and drawn from on the device, with a device generator.

    picker = RowSampler(sampling, device)        # one per request
    tokens = sample(scores, seen, [picker, ...])  # one call per step for the whole batch
"""

from __future__ import annotations

import torch

from playground.catalog import Sampling
from playground.tasks.thinking import ThinkingBudget

NEG_INF = float("-inf")


class RowSampler:
    """One request's sampling settings, its own random generator and its thinking budget, if any."""

    def __init__(self, sampling: Sampling, device: torch.device | str, budget: ThinkingBudget | None = None):
        self.sampling = sampling
        self.budget = budget
        self.generator: torch.Generator | None = None
        if not sampling.greedy:
            self.generator = torch.Generator(device="cpu" if sampling.top_k > 0 else device)
            if sampling.seed is None:
                self.generator.seed()
            else:
                self.generator.manual_seed(sampling.seed)

    def candidates(self, vocab: int) -> int | None:
        """How many best tokens this row draws among (its top-k), or None for the whole vocabulary."""
        k = self.sampling.top_k
        return k if self.generator is not None and 0 < k < vocab else None


def penalize(scores: torch.Tensor, seen: torch.Tensor | None, rows: list[RowSampler]) -> torch.Tensor:
    """Repetition penalty (CTRL paper, as transformers applies it): seen tokens' logits shrink towards 0."""
    penalties = [row.sampling.repetition_penalty for row in rows]
    if seen is None or all(p == 1.0 for p in penalties):
        return scores
    penalty = torch.tensor(penalties, dtype=scores.dtype, device=scores.device).unsqueeze(1)
    penalized = torch.where(scores < 0, scores * penalty, scores / penalty)
    return torch.where(seen, penalized, scores)


def filter_scores(scores: torch.Tensor, sampling: Sampling) -> torch.Tensor:
    """Temperature, top-k, top-p and min-p on one row's scores (1-D); filtered logits become -inf.

    The same rules as transformers' `TemperatureLogitsWarper`, `TopKLogitsWarper`,
    `TopPLogitsWarper` and `MinPLogitsWarper`, applied in that order.
    """
    scores = scores / sampling.temperature
    k = sampling.top_k
    if 0 < k < scores.shape[-1]:
        threshold = torch.topk(scores, k).values[-1]
        scores = scores.masked_fill(scores < threshold, NEG_INF)
    if sampling.top_p < 1.0:
        ordered, order = torch.sort(scores)
        remove = ordered.softmax(dim=-1).cumsum(dim=-1) <= 1 - sampling.top_p
        remove[-1:] = False  # always keep the most likely token
        scores = scores.masked_fill(remove.scatter(-1, order, remove), NEG_INF)
    if sampling.min_p > 0:
        probs = torch.softmax(scores, dim=-1)
        scores = scores.masked_fill(probs < probs.max() * sampling.min_p, NEG_INF)
    return scores


def _draw(scores: torch.Tensor, row: RowSampler) -> int:
    probs = torch.softmax(filter_scores(scores, row.sampling), dim=-1)
    return int(torch.multinomial(probs, 1, generator=row.generator)[0])


def sample(scores: torch.Tensor, seen: torch.Tensor | None, rows: list[RowSampler]) -> list[int]:
    """The next token of each row: `scores` is [rows, vocab], `seen` a [rows, vocab] mask or None.

    A row whose thinking budget is cutting in writes the budget's token instead of drawing one
    (its generator is not touched, so what it draws later does not depend on the cut).
    """
    tokens = _pick(scores, seen, rows)
    for i, row in enumerate(rows):
        if row.budget is not None:
            forced = row.budget.forced()
            if forced is not None:
                tokens[i] = forced
            row.budget.observe(tokens[i])
    return tokens


def _pick(scores: torch.Tensor, seen: torch.Tensor | None, rows: list[RowSampler]) -> list[int]:
    scores = penalize(scores.float(), seen, rows)
    vocab = scores.shape[-1]
    tokens = scores.argmax(dim=-1).tolist()
    forced = {i for i, row in enumerate(rows) if row.budget is not None and row.budget.forced() is not None}
    small = [i for i, row in enumerate(rows) if row.candidates(vocab) is not None and i not in forced]
    if small:
        width = max(rows[i].candidates(vocab) for i in small)
        values, indices = torch.topk(scores[small], width)
        values, indices = values.cpu(), indices.cpu()
        for j, i in enumerate(small):
            k = rows[i].candidates(vocab)
            tokens[i] = int(indices[j, _draw(values[j, :k], rows[i])])
    for i, row in enumerate(rows):
        if row.generator is not None and row.candidates(vocab) is None and i not in forced:
            tokens[i] = _draw(scores[i], row)
    return tokens
