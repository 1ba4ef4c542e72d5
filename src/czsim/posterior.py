"""The joint uncertainty of fitted parameters: a scenario's ``[posterior]``.

``czsim calibrate`` fits parameters to the observations; their estimates are correlated (two
clusters' 2022 share shifts share the observed 2022 total), so drawing each from its own
interval, independently, would contradict the data they were fitted to. The calibrated scenario
therefore carries the Laplace approximation of the posterior, a multivariate normal (the fitted
values and the covariance ``s² (JᵀJ)⁻¹``), and the uncertainty bands and probabilities draw the
fitted parameters jointly from it (:func:`czsim.uncertainty.draw`). In a scenario file::

    [posterior]
    parameters = ["common_share_shift_2022", "manufacturing_va_ratio"]
    mean = [0.0238, 0.206]
    covariance = [[1.04e-4, -1.12e-5], [-1.12e-5, 5.23e-6]]

A child scenario inherits its parent's posterior; a parameter the child sets is fixed at the
child's value and the others are drawn from the normal conditioned on it (so the draws stay
consistent with the data given the child's assumption). Draws are clipped to each parameter's
bounds in ``model/parameters.toml``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from czsim.errors import ScenarioError

#: Relative tolerance of the symmetry and positive-semidefiniteness checks (the file holds
#: six significant digits).
TOLERANCE = 1e-6


@dataclass(frozen=True)
class Posterior:
    """A multivariate normal over named parameters (validated on construction)."""

    parameters: tuple[str, ...]
    mean: tuple[float, ...]
    covariance: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        """Check the shapes, finiteness, symmetry and positive semi-definiteness."""
        names = tuple(str(p) for p in self.parameters)
        if not names:
            raise ScenarioError("a posterior needs at least one parameter", key="posterior")
        if len(set(names)) != len(names):
            raise ScenarioError("a parameter is named twice", key="posterior.parameters")
        try:
            mean = np.asarray(self.mean, dtype=float)
            cov = np.asarray(self.covariance, dtype=float)
        except (TypeError, ValueError):
            raise ScenarioError("mean and covariance are numbers", key="posterior") from None
        n = len(names)
        if mean.shape != (n,):
            raise ScenarioError(
                f"mean has {mean.size} values for {n} parameters", key="posterior.mean"
            )
        if cov.shape != (n, n):
            raise ScenarioError(
                f"covariance is {'x'.join(map(str, cov.shape))}, expected {n}x{n}",
                key="posterior.covariance",
            )
        if not (np.isfinite(mean).all() and np.isfinite(cov).all()):
            raise ScenarioError("mean and covariance must be finite", key="posterior")
        scale = max(float(np.max(np.abs(np.diag(cov)))), 1e-300)
        if not np.allclose(cov, cov.T, rtol=TOLERANCE, atol=TOLERANCE * scale):
            raise ScenarioError("covariance is not symmetric", key="posterior.covariance")
        if (np.diag(cov) < 0).any() or np.linalg.eigvalsh(cov).min() < -TOLERANCE * scale:
            raise ScenarioError(
                "covariance is not positive semi-definite", key="posterior.covariance"
            )
        object.__setattr__(self, "parameters", names)
        object.__setattr__(self, "mean", tuple(float(x) for x in mean))
        object.__setattr__(self, "covariance", tuple(tuple(float(x) for x in r) for r in cov))

    @property
    def cov(self) -> np.ndarray:
        """The covariance as an array."""
        return np.asarray(self.covariance, dtype=float)

    def marginal(self, keep: Sequence[str]) -> Posterior | None:
        """Return the distribution of the parameters in ``keep`` only (None if none is left)."""
        idx = [i for i, p in enumerate(self.parameters) if p in set(keep)]
        if not idx:
            return None
        cov = self.cov[np.ix_(idx, idx)]
        return Posterior(
            tuple(self.parameters[i] for i in idx),
            tuple(self.mean[i] for i in idx),
            tuple(map(tuple, cov)),
        )

    def given(self, values: Mapping[str, object]) -> Posterior | None:
        """Return the distribution of the other parameters once those in ``values`` are fixed.

        Constants condition the normal (``μ₁ + Σ₁₂ Σ₂₂⁺ (x₂ − μ₂)``, ``Σ₁₁ − Σ₁₂ Σ₂₂⁺ Σ₂₁``);
        a time series is not a point of the distribution, so its parameter is only dropped.
        None when no parameter is left.
        """
        fixed = [p for p in self.parameters if p in values]
        if not fixed:
            return self
        free = [p for p in self.parameters if p not in values]
        if not free:
            return None
        points = {p: values[p] for p in fixed if isinstance(values[p], int | float)}
        i1 = [self.parameters.index(p) for p in free]
        i2 = [self.parameters.index(p) for p in points]
        mean = np.asarray(self.mean, dtype=float)
        cov = self.cov
        m1, s11 = mean[i1], cov[np.ix_(i1, i1)]
        if i2:
            s12, s22 = cov[np.ix_(i1, i2)], cov[np.ix_(i2, i2)]
            gain = s12 @ np.linalg.pinv(s22)
            x2 = np.asarray([float(points[p]) for p in points])
            m1 = m1 + gain @ (x2 - mean[i2])
            s11 = s11 - gain @ s12.T
            s11 = (s11 + s11.T) / 2
        return Posterior(tuple(free), tuple(m1), tuple(map(tuple, s11)))

    def draw(
        self, n: int, seed: int, bounds: Mapping[str, tuple[float, float]] | None = None
    ) -> dict[str, np.ndarray]:
        """``n`` joint draws (seeded), each parameter clipped to its ``bounds`` if given."""
        rng = np.random.default_rng([seed, 0x9E37])  # a stream of its own, not the LHS's
        x = rng.multivariate_normal(self.mean, self.cov, size=n, method="eigh")
        out = {}
        for i, p in enumerate(self.parameters):
            col = x[:, i]
            if bounds is not None and p in bounds:
                col = np.clip(col, *bounds[p])
            out[p] = col
        return out

    def to_toml(self) -> list[str]:
        """Return the lines of the ``[posterior]`` table."""
        names = ", ".join(f'"{p}"' for p in self.parameters)
        mean = ", ".join(repr(m) for m in self.mean)
        rows = ",\n  ".join("[" + ", ".join(repr(v) for v in r) + "]" for r in self.covariance)
        return [
            "[posterior]",
            f"parameters = [{names}]",
            f"mean = [{mean}]",
            f"covariance = [\n  {rows},\n]",
        ]
