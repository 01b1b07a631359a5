"""The records that flow through hfpc: a Sample in, a CheckResult per check, a Verdict out."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hfpc.taxonomy import Reason


@dataclass
class Sample:
    """One original/generated pair to judge, with whatever the manifest knows about it.

    ``original`` and ``generated`` are paths (or URLs before download). ``label`` is the
    reviewer's decision when known (1 pass, 0 fail); ``failure`` is a failure category.
    """

    id: str
    original: str
    generated: str
    mask: str | None = None
    caption: str | None = None
    label: int | None = None
    failure: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, as written to a manifest line."""
        d = asdict(self)
        return {k: v for k, v in d.items() if v not in (None, {})}


@dataclass
class Finding:
    """One thing a check found wrong: a code a program can act on and a sentence for a reviewer.

    ``failure`` is a taxonomy code (``product_altered``, ``floating``, ``text_artifacts`` …, see
    ARCHITECTURE.md); ``code`` is the check's own, finer name for it (``not_found``, ``changed``).
    ``box`` is where it is in the generated image, as fractions of its width and height
    ``(x0, y0, x1, y1)``, so it holds at any resolution; ``product`` is 1-based. ``value`` is the
    measure behind the finding in the check's own units (the text check's edit distance), for
    programs that act on it without reading the sentence.
    """

    code: str
    failure: str
    sentence: str
    where: str = ""
    product: int | None = None
    box: tuple[float, float, float, float] | None = None
    value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form for the result row (unset optional fields left out)."""
        d: dict[str, Any] = {"code": self.code, "failure": self.failure, "sentence": self.sentence,
                             "where": self.where}
        if self.product is not None:
            d["product"] = self.product
        if self.box is not None:
            d["box"] = [round(float(v), 4) for v in self.box]
        if self.value is not None:
            d["value"] = round(float(self.value), 4)
        return d


@dataclass
class CheckResult:
    """What one check found for one sample, in terms a reviewer can read."""

    check: str
    passed: bool
    value: float
    threshold: float
    explanation: str
    higher_is_better: bool = True
    failure: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    """Everything wrong that this check saw, most severe first (empty when it passed)."""

    def to_dict(self) -> dict[str, Any]:
        """The result-row form of this check (``check`` is the key, so it is left out)."""
        return {
            "passed": self.passed,
            "value": _round(self.value),
            "threshold": self.threshold,
            "higher_is_better": self.higher_is_better,
            "explanation": self.explanation,
            "failure": self.failure,
            "details": self.details,
            "artifacts": self.artifacts,
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass
class Verdict:
    """The judge's decision on one sample: passed, the main failure, every reason, every check.

    ``reasons`` are all the findings of the failing deciding checks (each with its check, the
    check's own code, the taxonomy code in ``failure`` and a sentence); ``failure`` is the most
    significant of their codes (:mod:`hfpc.taxonomy`), None when the sample passed.
    ``mask_polarity`` says how the sample's mask file was read: ``product_white``,
    ``product_black``, ``alpha`` (a cut-out: opaque = product) or None when there was no mask
    file. ``warnings`` are doubts about the input that did not stop the judging.
    """

    id: str
    original: str
    generated: str
    passed: bool | None
    failure: str | None = None
    checks: dict[str, CheckResult] = field(default_factory=dict)
    error: str | None = None
    profile: str = "default"
    label: int | None = None
    mask_polarity: str | None = None
    warnings: list[str] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)

    @property
    def explanation(self) -> str:
        """One line that says why the sample failed, or that it passed."""
        if self.error:
            return f"could not be judged: {self.error}"
        failing = [c for c in self.checks.values() if not c.passed]
        if not failing:
            return "all checks passed"
        return "; ".join(f"{c.check}: {c.explanation}" for c in failing)

    def to_row(self) -> dict[str, Any]:
        """The JSONL result row of ARCHITECTURE.md."""
        from hfpc import __version__

        row: dict[str, Any] = {
            "id": self.id,
            "original": self.original,
            "generated": self.generated,
            "passed": self.passed,
            "failure": self.failure,
            "reasons": [r.to_dict() for r in self.reasons],
            "checks": {name: c.to_dict() for name, c in self.checks.items()},
            "error": self.error,
            "hfpc_version": __version__,
            "profile": self.profile,
            "mask_polarity": self.mask_polarity,
            "warnings": list(self.warnings),
        }
        if self.label is not None:
            row["label"] = self.label
        return row


def _round(v: float) -> float:
    return float(round(float(v), 5))
