"""The failure taxonomy: codes, what each means, which one names a sample, and their aliases.

A sample can fail for several reasons at once (its label changed *and* it floats). Following
RF1M's annotation rule — "if the image belongs to several types simultaneously, annotate it
with the most significant issue" — a Verdict keeps every finding in ``reasons`` and names one
main ``failure``: the reason whose code comes first in :data:`SEVERITY`. Damage to the product
itself comes before problems of the scene, because an ad that shows a different product is
never usable while a badly placed product can be regenerated.

The table is data: a check with a code this module does not know still works (its code sorts
after the known ones), and label files that use RF1M's or HFPC's names ("space mismatch",
"available", "background_unsuitable" …) are read through :func:`normalize`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hfpc.types import CheckResult, Finding

GOOD = "good"
"""The class of a sample that passed (RF1M's "available")."""

FAILED_CHECK = "failed_check"
"""The code of a failing check that names no failure of its own."""

CODES: dict[str, str] = {
    "product_missing": "the product is not in the generated image",
    "product_replaced": "another object stands where the product should be",
    "product_altered": "the product is there but changed (colour, print, shape, parts erased)",
    "product_text_changed": "the words printed on the product changed",
    "shape_hallucination": "the background extends the product (pedestal, legs, handle)",
    "size_mismatch": "the product's size contradicts the scene (RF1M size mismatch)",
    "floating": "the product does not rest on anything (RF1M space mismatch)",
    "indistinct": "the product does not stand out from the background (RF1M indistinctiveness)",
    "text_artifacts": "garbled text or a watermark in the background",
    "background_inappropriate": "the background does not suit the product (reward model)",
}
"""Every failure code with one line a reviewer understands, most significant first."""

SEVERITY: tuple[str, ...] = tuple(CODES)
"""Codes from the most to the least significant: the first one present names the sample."""

ALIASES: dict[str, str | None] = {
    # RF1M's categories (None: passed)
    "space mismatch": "floating", "space_mismatch": "floating", "spatial mismatch": "floating",
    "size mismatch": "size_mismatch",
    "indistinctiveness": "indistinct", "indistinctive": "indistinct", "indistinct": "indistinct",
    "shape hallucination": "shape_hallucination",
    "available": None, "good": None, "pass": None, "passed": None,
    # HFPC and earlier hfpc names
    "product_inconsistent": "product_altered", "product inconsistent": "product_altered",
    "background_unsuitable": "background_inappropriate", "background unsuitable": "background_inappropriate",
    "background inappropriate": "background_inappropriate",
    "text_artifact": "text_artifacts", "text artifacts": "text_artifacts",
    "text_changed": "product_text_changed", "product text changed": "product_text_changed",
    "product missing": "product_missing", "product replaced": "product_replaced",
    "product altered": "product_altered",
}
"""Other names of the codes (lower case), as label files and older results write them."""


def normalize(name: str | None) -> str | None:
    """The taxonomy code for a failure name; None for a pass ("available", "good") or no name.

    Known codes and :data:`ALIASES` (any case, spaces or underscores) map to codes; any other
    name is kept as written (stripped), so a new check's own code still counts as a class.
    """
    if name is None:
        return None
    text = str(name).strip()
    if not text:
        return None
    key = " ".join(text.lower().replace("-", " ").split())
    for k in (key, key.replace(" ", "_"), key.replace("_", " ")):
        if k in CODES:
            return k
        if k in ALIASES:
            return ALIASES[k]
    return text


def label_class(name: str | None, label: int | None = None) -> str | None:
    """The class a reviewer gave a sample: ``good`` for a pass, else the failure code.

    ``label`` 1 means passed whatever ``name`` says. A pass name ("good", "available") is
    ``good`` unless ``label`` is 0; a failed sample with no usable name has class None.
    """
    if label == 1:
        return GOOD
    code = normalize(name)
    if code is not None:
        return code
    said_pass = name is not None and bool(str(name).strip())
    return GOOD if said_pass and label != 0 else None


def rank(code: str | None) -> int:
    """Position of ``code`` in :data:`SEVERITY` (unknown codes after every known one)."""
    try:
        return SEVERITY.index(str(code))
    except ValueError:
        return len(SEVERITY) + (code == FAILED_CHECK)  # a named unknown failure before a bare one


def describe(code: str | None) -> str:
    """One line that says what ``code`` means (the code itself when it is not in the table)."""
    if code is None or code == GOOD:
        return "passed every check (RF1M: available)"
    return CODES.get(code, code)


@dataclass
class Reason:
    """One reason a sample failed: a check's finding with the check's name and a taxonomy code.

    ``failure`` is the taxonomy code; ``code`` the check's finer name for what it saw.
    """

    check: str
    code: str
    failure: str
    sentence: str
    where: str = ""
    product: int | None = None
    box: tuple[float, float, float, float] | None = None
    value: float | None = None

    @classmethod
    def from_finding(cls, check: str, finding: Finding) -> Reason:
        """A finding of ``check``, its failure name normalised to a code."""
        failure = normalize(finding.failure) or FAILED_CHECK
        return cls(check, finding.code or failure, failure, finding.sentence, finding.where,
                   finding.product, finding.box, finding.value)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Reason:
        """Read back a ``reasons`` entry of a result row."""
        box = d.get("box")
        return cls(str(d.get("check", "")), str(d.get("code", "")), str(d.get("failure") or FAILED_CHECK),
                   str(d.get("sentence", "")), str(d.get("where", "") or ""), d.get("product"),
                   tuple(box) if box else None, d.get("value"))  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """JSON form for the result row's ``reasons`` (unset optional fields left out)."""
        finding = Finding(self.code, self.failure, self.sentence, self.where, self.product, self.box, self.value)
        return {"check": self.check, **finding.to_dict()}


def reason_text(reason: Reason | Mapping[str, Any]) -> str:
    """The reason's sentence, led by its product number unless the sentence already names it."""
    d = reason.to_dict() if isinstance(reason, Reason) else reason
    sentence, product = str(d.get("sentence", "")), d.get("product")
    if product is None or f"product {product}" in sentence.lower():
        return sentence
    return f"product {product}: {sentence}"


def reasons_of(checks: Iterable[CheckResult], ignore: Iterable[str] = ()) -> list[Reason]:
    """Every reason the failing checks give, in check order then each check's own order.

    A failing check with findings gives one reason per finding; one without findings gives a
    single reason from its ``failure`` and ``explanation``. Passing checks and the checks named
    in ``ignore`` (baselines, which never decide) give none.
    """
    skip = set(ignore)
    out: list[Reason] = []
    for c in checks:
        if c.passed or c.check in skip:
            continue
        if c.findings:
            out += [Reason.from_finding(c.check, f) for f in c.findings]
        else:
            failure = normalize(c.failure) or FAILED_CHECK
            out.append(Reason(c.check, failure, failure, c.explanation))
    return out


PRINT_CODES: frozenset[str] = frozenset({"changed", "changed_locally", "structure", "print"})
"""Codes of the consistency check's product_altered findings that a change of the product's
printed words explains by itself: pixels inside the product changed, its outline and colours
did not (see :func:`main_failure`)."""


GARBLED_MAX_DISTANCE = 0.5
"""Largest normalised edit distance between a product's original and generated words that reads
as the same word misspelt or garbled (``product_text_changed``); a wholly different word (ZEST →
BLOOM, distance 1) is another variant of the product and stays ``product_altered``."""

WORDS_MAX_CHANGE = 0.15
"""Largest share of a product's pixels that a change of its printed words accounts for: words
cover a bounded part of a product (misspelt labels change at most about 10 % of its pixels on the
synthetic set), so a ``changed`` finding beyond this (a part erased or repainted, 18 % and more)
is more than its words and keeps the product ``product_altered``."""


def _words_only(r: Reason | Mapping[str, Any]) -> bool:
    """Whether a product_altered reason is a change of pixels that changed words can explain: a
    :data:`PRINT_CODES` finding, and for ``changed`` one whose share (its ``value``), when given,
    is at most :data:`WORDS_MAX_CHANGE`."""
    code = str(_field(r, "code") or "")
    if code not in PRINT_CODES:
        return False
    share = _field(r, "value") if code == "changed" else None
    return share is None or float(share) <= WORDS_MAX_CHANGE


def _garbled(r: Reason | Mapping[str, Any]) -> bool:
    """Whether a text-change reason's edit distance (its ``value``) is that of a misspelling (at
    most :data:`GARBLED_MAX_DISTANCE`); a reason without one is not taken as a misspelling."""
    distance = _field(r, "value")
    return distance is not None and float(distance) <= GARBLED_MAX_DISTANCE


def _field(r: Reason | Mapping[str, Any], key: str) -> Any:
    return getattr(r, key) if isinstance(r, Reason) else r.get(key)


def _failure(r: Reason | Mapping[str, Any]) -> str:
    return r.failure if isinstance(r, Reason) else normalize(r.get("failure")) or FAILED_CHECK


def main_failure(reasons: Iterable[Reason | Mapping[str, Any]]) -> str | None:
    """The most significant failure code among ``reasons`` (None when there are none).

    Ties keep the first reason, so the Profile's check order breaks them. One exception to
    :data:`SEVERITY`: when a product's words were read as misspelt or garbled (a
    ``product_text_changed`` reason whose sentence gives an edit distance of at most
    :data:`GARBLED_MAX_DISTANCE`) and every ``product_altered`` reason of that same product is a
    change of pixels inside it (:data:`PRINT_CODES`) no larger than words make
    (:data:`WORDS_MAX_CHANGE`), those reasons are the misspelling seen by the pixel comparison,
    and the product is named ``product_text_changed``. A changed outline,
    proportions or colours on the same product keep ``product_altered`` (a garbled logo on a
    reshaped product is altered).
    """
    reasons = list(reasons)
    codes = [_failure(r) for r in reasons]
    text_on = {_field(r, "product") for r, c in zip(reasons, codes) if c == "product_text_changed" and _garbled(r)}
    if text_on:
        altered: dict[Any, list[bool]] = {}
        for r, c in zip(reasons, codes):
            if c == "product_altered":
                altered.setdefault(_field(r, "product"), []).append(_words_only(r))
        explained = {p for p, words in altered.items() if p in text_on and all(words)}
        codes = ["product_text_changed" if c == "product_altered" and _field(r, "product") in explained else c
                 for r, c in zip(reasons, codes)]
    return min(codes, key=rank, default=None)
