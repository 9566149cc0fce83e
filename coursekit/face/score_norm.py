"""Score normalisation for verification (an addition to lesson 4.2's d(img1, img2) <= tau).

One global threshold tau treats every face alike, but some faces sit in crowded parts of the
encoding space (close to many other people) and some in empty ones. Symmetric score
normalisation (S-norm) measures each pair's distance against how far each of the two faces
usually is from *other* people: a **cohort** of encodings of people who are neither of the two
(for example the training identities, which are never the people being verified)::

    s(i, j) = 1/2 [ (d_ij - mu_i) / sigma_i + (d_ij - mu_j) / sigma_j ]

where ``mu_i`` and ``sigma_i`` are the mean and standard deviation of the distances from face i
to every cohort encoding. A low ``s`` means "much closer than this face usually is to a
stranger"; the rule stays ``accept if s <= tau``, with tau now in standard deviations.
References: Auckenthaler, Carey & Lloyd-Thomas, "Score normalization for text-independent
speaker verification systems" (Digital Signal Processing, 2000: Z-norm and T-norm); the
symmetric form as in Kenny, "Bayesian speaker verification with heavy-tailed priors" (Odyssey
2010).
"""

from __future__ import annotations

import torch

from coursekit.face.distances import pairwise_distances

__all__ = ["s_norm"]


def s_norm(
    embeddings: torch.Tensor, i: torch.Tensor, j: torch.Tensor, cohort: torch.Tensor
) -> torch.Tensor:
    """Symmetric-normalised distance of each pair against a cohort of other people's encodings.

    Args:
        embeddings: ``(N, E)`` encodings of the faces being compared.
        i, j: ``(P,)`` indices of the two faces of each pair (as from
            :func:`~coursekit.face.all_pairs`).
        cohort: ``(M, E)`` encodings of people who are not among the faces compared, ``M >= 2``
            (the training people's photos, say).

    Returns:
        ``(P,)`` scores ``1/2 [(d_ij - mu_i)/sigma_i + (d_ij - mu_j)/sigma_j]`` on squared L2
        distances, where ``mu_i``, ``sigma_i`` are the mean and (unbiased) standard deviation
        of face i's distances to the cohort. Lower means more alike, as for distances, so
        :func:`~coursekit.face.roc_auc` and the other evaluation functions take them as they are.

    Raises:
        ValueError: if the shapes do not fit together or the cohort has fewer than 2 encodings.

    Example:
        >>> z = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
        >>> cohort = torch.tensor([[-1.0, 0.0], [0.0, -1.0], [-0.6, -0.8]])
        >>> s_norm(z, torch.tensor([0, 0]), torch.tensor([1, 2]), cohort)  # pairs (0, 1), (0, 2)
        tensor([-5.7229, -1.0968])
    """
    if embeddings.dim() != 2 or cohort.dim() != 2 or cohort.shape[1] != embeddings.shape[1]:
        raise ValueError(f"embeddings must be (N, E) and cohort (M, E) with the same E, got "
                         f"{tuple(embeddings.shape)} and {tuple(cohort.shape)}")
    if cohort.shape[0] < 2:
        raise ValueError(f"the cohort needs at least 2 encodings for a standard deviation, got "
                         f"shape {tuple(cohort.shape)}")
    if i.shape != j.shape or i.dim() != 1:
        raise ValueError(f"i and j must be (P,) index tensors of one shape, got "
                         f"{tuple(i.shape)} and {tuple(j.shape)}")
    to_cohort = pairwise_distances(embeddings, cohort.to(embeddings))  # (N, M), squared
    mu, sigma = to_cohort.mean(dim=1), to_cohort.std(dim=1)  # (N,) each
    sigma = sigma.clamp_min(torch.finfo(sigma.dtype).eps)  # a face equidistant from the cohort
    d = (embeddings[i] - embeddings[j]).pow(2).sum(dim=1)  # (P,)
    return 0.5 * ((d - mu[i]) / sigma[i] + (d - mu[j]) / sigma[j])
