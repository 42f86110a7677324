"""`lit2code eval triage`: the offline planner's family choice against a labelled set."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from agent import digest
from agent.families import load_families
from agent.planners.offline import OfflinePlanner


def load_labels(path: Path) -> dict[str, list[str]]:
    data = json.loads(path.read_text())
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of {{title, acceptable}} objects")
    labels = {}
    for i, row in enumerate(data):
        if not isinstance(row, dict) or not row.get("title") or not isinstance(row.get("acceptable"), list):
            raise ValueError(f"{path}: entry {i} needs 'title' and a list 'acceptable'")
        labels[digest.normalize_title(row["title"])] = row["acceptable"]
    return labels


def evaluate_triage(digests: list[Path], labels_file: Path) -> dict:
    labels = load_labels(labels_file)
    families = load_families()
    planner = OfflinePlanner()
    predictions = []
    for paper in digest.load_inputs(digests):
        acceptable = labels.get(digest.normalize_title(paper.title))
        if acceptable is None:
            continue  # papers the label file does not list are ignored
        t = planner.triage(paper, families)
        predictions.append(
            {
                "title": paper.title,
                "predicted": t.family,
                "correct": t.family in acceptable,
                "acceptable": acceptable,
                "cues": t.cues[:6],
            }
        )
    n = len(predictions)
    method = [p for p in predictions if "skip" not in p["acceptable"]]
    skip_only = [p for p in predictions if p["acceptable"] == ["skip"]]
    return {
        "n": n,
        "accuracy": round(sum(p["correct"] for p in predictions) / n, 4) if n else 0.0,
        "method_papers_correct": round(sum(p["correct"] for p in method) / len(method), 4) if method else None,
        "skip_only_skipped": round(sum(p["predicted"] == "skip" for p in skip_only) / len(skip_only), 4)
        if skip_only
        else None,
        "families_available": sorted(f for f, spec in families.items() if not spec.llm_only),
        "per_family": dict(sorted(Counter(p["predicted"] for p in predictions).items())),
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
