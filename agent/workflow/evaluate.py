"""`lit2code eval triage`: the offline planner's family choice against a labelled set.

A label row is `{title, acceptable: [family|skip, ...]}`, optionally with `digest` (which labelled digest
the paper comes from: what `--holdout` splits on), `method_name` (the paper's own name for its method,
or null) and `method_aliases` (other names the abstract gives that method).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent import digest
from agent.families import load_families
from agent.models import RunConfig
from agent.planners.offline import OfflinePlanner


@dataclass
class Label:
    title: str
    acceptable: list[str]
    digests: set[str] = field(default_factory=set)
    method_name: str | None = None
    method_aliases: list[str] = field(default_factory=list)


def load_label_rows(path: Path) -> dict[str, Label]:
    """The labels by normalized title; a paper labelled in several digests belongs to all of them."""
    data = json.loads(path.read_text())
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of {{title, acceptable}} objects")
    labels: dict[str, Label] = {}
    for i, row in enumerate(data):
        if not isinstance(row, dict) or not row.get("title") or not isinstance(row.get("acceptable"), list):
            raise ValueError(f"{path}: entry {i} needs 'title' and a list 'acceptable'")
        name, aliases = row.get("method_name"), row.get("method_aliases") or []
        if (name is not None and not isinstance(name, str)) or not isinstance(aliases, list):
            raise ValueError(f"{path}: entry {i}: 'method_name' must be a string or null, 'method_aliases' a list")
        key = digest.normalize_title(row["title"])
        label = labels.setdefault(key, Label(title=row["title"], acceptable=row["acceptable"]))
        label.acceptable = row["acceptable"]
        if row.get("digest") is not None:
            label.digests.add(str(row["digest"]))
        if "method_name" in row:
            label.method_name, label.method_aliases = name, [str(a) for a in aliases]
    return labels


def load_labels(path: Path) -> dict[str, list[str]]:
    return {key: label.acceptable for key, label in load_label_rows(path).items()}


def _name_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower())


def _figures(predictions: list[dict]) -> dict:
    n = len(predictions)
    method = [p for p in predictions if "skip" not in p["acceptable"]]
    skip_only = [p for p in predictions if p["acceptable"] == ["skip"]]
    return {
        "n": n,
        "accuracy": round(sum(p["correct"] for p in predictions) / n, 4) if n else 0.0,
        "method_papers": len(method),
        "method_papers_correct": round(sum(p["correct"] for p in method) / len(method), 4) if method else None,
        "skip_only": len(skip_only),
        "skip_only_skipped": round(sum(p["predicted"] == "skip" for p in skip_only) / len(skip_only), 4)
        if skip_only
        else None,
    }


def evaluate_triage(
    digests: list[Path], labels_file: Path, holdout: str | None = None, min_confidence: float | None = None
) -> dict:
    """Score the offline triage (and the names of what it would commit) against the labels.

    `holdout`: score only the papers labelled with that digest and no other one, the digest the rules
    were not tuned on. `min_confidence`: a pick below it counts as a skip, as in `lit2code run`.
    """
    if min_confidence is None:
        min_confidence = RunConfig.model_fields["min_confidence"].default
    labels = load_label_rows(labels_file)
    known = sorted({d for label in labels.values() for d in label.digests})
    if holdout is not None and holdout not in known:
        raise ValueError(f"{labels_file}: no label has digest {holdout!r} (labelled digests: {', '.join(known)})")
    families = load_families()
    planner = OfflinePlanner()
    predictions: list[dict[str, Any]] = []
    named = named_correct = 0
    wrong_names = []
    for paper in digest.load_inputs(digests):
        label = labels.get(digest.normalize_title(paper.title))
        if label is None:
            continue  # papers the label file does not list are ignored
        if holdout is not None and label.digests != {holdout}:
            continue  # seen while tuning (or unassigned): not held out
        t = planner.triage(paper, families)
        predicted = t.family
        if predicted != "skip" and t.confidence < min_confidence:
            predicted = "skip"
        row: dict[str, Any] = {
            "title": paper.title,
            "predicted": predicted,
            "correct": predicted in label.acceptable,
            "confidence": round(t.confidence, 3),
            "acceptable": label.acceptable,
            "digest": ",".join(sorted(label.digests)) or None,
            "reason": t.reason,
        }
        if predicted != t.family:
            row["triage"] = t.family
        if predicted != "skip":
            row["method_name"] = planner.plan(paper, t, families[predicted]).method_name
            if label.method_name:
                named += 1
                names = {_name_key(n) for n in (label.method_name, *label.method_aliases)}
                if _name_key(row["method_name"]) in names:
                    named_correct += 1
                else:
                    wrong_names.append({"title": paper.title, "expected": label.method_name, "got": row["method_name"]})
        predictions.append(row)
    split = {}
    for d in known:
        part = [p for p in predictions if p["digest"] and d in p["digest"].split(",")]
        if part:
            split[d] = _figures(part)
    return {
        **_figures(predictions),
        "holdout": holdout,
        "tuned_on": [d for d in known if d != holdout] if holdout else None,
        "min_confidence": min_confidence,
        "families_available": sorted(f for f, spec in families.items() if not spec.llm_only),
        "per_family": dict(sorted(Counter(p["predicted"] for p in predictions).items())),
        "naming": {
            "named": named,
            "correct": named_correct,
            "rate": round(named_correct / named, 4) if named else None,
            "wrong": wrong_names,
        },
        "split": split,
        "predictions": predictions,
    }


def evaluate_report(report: dict, labels_file: Path) -> dict:
    """Check a run's committed papers against the labels: was each committed under an acceptable family?"""
    labels = load_labels(labels_file)
    rows = []
    for p in report["papers"]:
        acceptable = labels.get(digest.normalize_title(p["title"]))
        if p["status"] != "committed" or acceptable is None:
            continue
        rows.append(
            {"title": p["title"], "family": p["family"], "acceptable": acceptable, "correct": p["family"] in acceptable}
        )
    return {
        "run_id": report["run_id"],
        "committed_labelled": len(rows),
        "committed_correct": sum(r["correct"] for r in rows),
        "wrong": [r for r in rows if not r["correct"]],
    }
