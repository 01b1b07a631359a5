"""``hfpc evaluate``: agreement of results with reviewers' labels, as numbers, figures and a page."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from hfpc.evaluation import metrics as M
from hfpc.evaluation.reasons import predicted_class, reason_evaluation, true_class
from hfpc.evaluation.scores import arrays, join_labels

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("hfpc.report", "templates"),
                          autoescape=jinja2.select_autoescape(["html"]))
CI_METRICS = ("PLCC", "SRCC", "Pb", "Rb", "Rg", "ROC-AUC pass")


def scorer_metrics(a: dict[str, np.ndarray], n_boot: int = 500, seed: int = 0) -> dict[str, Any]:
    """Summary metrics with bootstrap CIs (by original) and the per-category breakdown."""
    s, k, y, g = a["scores"], a["kept"], a["labels"], a["groups"]
    out: dict[str, Any] = {"n": len(y), "n_pass": int(y.sum()), "n_fail": int((1 - y).sum()),
                           "metrics": M.summary(s, k, y), "ci95": {}, "confusion": M.confusion(k, y),
                           "per_category": M.per_category(k, a["categories"])}
    fns = {"PLCC": lambda s, k, y: M.plcc(s, y), "SRCC": lambda s, k, y: M.srcc(s, y),
           "ROC-AUC pass": lambda s, k, y: M.roc_auc(s, y)}
    for name in ("Pb", "Rb", "Rg"):
        fns[name] = lambda s, k, y, name=name: M.filter_metrics(k, y)[name]
    for name in CI_METRICS:
        out["ci95"][name] = M.bootstrap_ci(fns[name], [s, k, y], g, n=n_boot, seed=seed)
    return out


def plot_curves(named: dict[str, dict[str, np.ndarray]], out_dir: Path) -> dict[str, str]:
    """ROC and PR curves of the pass and fail classes for every scorer (the paper's Fig. 7)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = {}
    for cls, positive in (("pass", 1), ("fail", 0)):
        for kind in ("roc", "pr"):
            fig, ax = plt.subplots(figsize=(4.6, 4.2), dpi=110)
            for name, a in named.items():
                c = M.curves(a["scores"], a["labels"], positive)
                if kind == "roc":
                    auc = M.roc_auc(a["scores"], a["labels"], positive)
                    ax.plot(c["fpr"], c["tpr"], label=f"{name} (AUC {auc:.3f})")
                else:
                    ap = M.average_precision(a["scores"], a["labels"], positive)
                    ax.step(c["recall"], c["precision"], where="post", label=f"{name} (AP {ap:.3f})")
            if kind == "roc":
                ax.plot([0, 1], [0, 1], ls=":", c="grey")
                ax.set_xlabel("false positive rate")
                ax.set_ylabel("true positive rate")
            else:
                ax.set_xlabel("recall")
                ax.set_ylabel("precision")
            ax.set_title(f"{kind.upper()} — {cls} class")
            ax.legend(fontsize=7, loc="lower right" if kind == "roc" else "lower left")
            fig.tight_layout()
            name = f"{kind}_{cls}.png"
            fig.savefig(out_dir / name)
            plt.close(fig)
            files[f"{kind}_{cls}"] = name
    return files


def plot_histogram(a: dict[str, np.ndarray], out: Path) -> None:
    """Score histogram per reviewer class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=110)
    bins = np.linspace(a["scores"].min(), a["scores"].max() + 1e-9, 31)
    for lab, name, col in ((1, "reviewer pass", "#2a9d4b"), (0, "reviewer fail", "#d33")):
        ax.hist(a["scores"][a["labels"] == lab], bins=bins, alpha=0.6, label=name, color=col)
    ax.set_xlabel("judge score (< 0: filtered)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def evaluate(results: str | Path, labels: str | Path, out: str | Path, checks: list[str] | None = None,
             gallery: int = 12, n_boot: int = 500) -> dict[str, Any]:
    """Join results to labels, compute metrics with CIs, write metrics.json, figures and index.html."""
    import matplotlib  # noqa: F401 - fail before any work when the eval extra is missing

    from hfpc.report.html import locate_ref, thumbnail

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows, join = join_labels(results, labels)
    a = arrays(rows, checks)
    res = scorer_metrics(a, n_boot)
    res["join"] = join
    res["category_source"] = join["category_source"]
    res["checks"] = checks or sorted({c for r in rows for c in r["checks"]})
    res["reasons"] = reason_evaluation(rows, checks) if join["category_source"] == "labels" else None
    figures = plot_curves({"judge": a}, out)
    plot_histogram(a, out / "histogram.png")
    figures["histogram"] = "histogram.png"
    res["figures"] = figures
    (out / "metrics.json").write_text(json.dumps(_clean(res), indent=2))
    base = Path(results).parent

    def card(r: dict[str, Any], score: float) -> dict[str, Any]:
        def img(p: str) -> str | None:
            return thumbnail(locate_ref(p, base), 200)
        return {"id": r["id"], "score": score, "category": r["category"], "kind": r.get("kind"),
                "named": predicted_class(r, checks),
                "why": "; ".join(f"{k}: {c['explanation']}" for k, c in r["checks"].items()),
                "original": img(r["original"]), "generated": img(r["generated"])}

    s, k, y = a["scores"], a["kept"], a["labels"]
    false_pass = [i for i in np.argsort(-s) if k[i] and y[i] == 0][:gallery]
    false_fail = [i for i in np.argsort(s) if not k[i] and y[i] == 1][:gallery]
    wrong_reason = [] if res["reasons"] is None else [
        i for i in np.argsort(s) if not k[i] and y[i] == 0 and true_class(rows[i]) is not None
        and true_class(rows[i]) != predicted_class(rows[i], checks)][:gallery]
    html = _ENV.get_template("evaluate.html").render(
        res=res, metrics=res["metrics"], ci=res["ci95"], figures=figures,
        false_pass=[card(rows[i], s[i]) for i in false_pass],
        false_fail=[card(rows[i], s[i]) for i in false_fail],
        wrong_reason=[card(rows[i], s[i]) for i in wrong_reason], results=str(results), labels=str(labels))
    (out / "index.html").write_text(html, encoding="utf-8")
    return res


def compare(results: str | Path, labels: str | Path, out: str | Path, n_boot: int = 200) -> dict[str, Any]:
    """Score the same results with every scorer: each check alone and the full judge (Table 1).

    Writes ``compare.json`` and ROC/PR figures with one curve per scorer.
    """
    import matplotlib  # noqa: F401 - fail before any work when the eval extra is missing

    from hfpc.checks.base import get_check_class

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows, _ = join_labels(results, labels)
    names = sorted(set.intersection(*(set(r["checks"]) for r in rows)))
    deciding = [n for n in names if not get_check_class(n).baseline]
    scorers: dict[str, list[str]] = {f"{n} alone" if n in deciding else n: [n] for n in names}
    if len(deciding) > 1 or not scorers:
        scorers["hfpc judge"] = deciding
    elif deciding:
        scorers[f"hfpc judge ({deciding[0]})"] = scorers.pop(f"{deciding[0]} alone")
    table: dict[str, Any] = {}
    named = {}
    for name, checks in scorers.items():
        a = arrays(rows, checks)
        named[name] = a
        table[name] = scorer_metrics(a, n_boot)
    figures = plot_curves(named, out)
    res = {"scorers": {k: {"checks": scorers[k], **v} for k, v in table.items()}, "figures": figures}
    (out / "compare.json").write_text(json.dumps(_clean(res), indent=2))
    return res


def _clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return None if math.isnan(float(x)) else round(float(x), 5)
    if isinstance(x, np.integer):
        return int(x)
    return x
