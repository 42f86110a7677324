"""The offline planner: names, numbers and options taken from abstracts; skips that say why."""

from __future__ import annotations

import pytest

from agent import digest
from agent.families import load_families
from agent.models import Paper
from agent.planners.naming import class_identifier, module_identifier
from agent.planners.offline import OfflinePlanner, method_name
from agent.render import render
from tests.conftest import EXAMPLES


@pytest.fixture(scope="module")
def papers() -> dict[str, Paper]:
    ps = digest.load_inputs([EXAMPLES / "daily-papers-000.txt", EXAMPLES / "daily-papers-001.txt"])
    return {p.title.split(":")[0]: p for p in ps}


def test_method_name_from_title_prefix_and_from_abstract(papers: dict[str, Paper]) -> None:
    assert method_name(papers["DyLoRA"])[0] == "DyLoRA"
    smora = next(p for t, p in papers.items() if t.startswith("Each Rank Could be an Expert"))
    name, where = method_name(smora)
    assert name == "SMoRA" and where.startswith("abstract")  # not the LoRA it builds on
    sora = next(p for t, p in papers.items() if t.startswith("Sparse Low-rank Adaptation"))
    assert method_name(sora)[0] == "SoRA"


def test_identifiers_are_valid_python() -> None:
    assert class_identifier("ME-CondConv") == "MECondConv"
    assert class_identifier("3D-Net") == "M3DNet"
    assert module_identifier("SMoRA") == "smora"
    assert module_identifier("import") == "import_method"
    assert module_identifier("Dynamic-DINO").isidentifier()


def test_numbers_and_options_come_from_the_abstract() -> None:
    families = load_families()
    paper = Paper(
        paper_id="x-00000000",
        title="GateLoRA: gated low-rank adaptation",
        abstract="We propose GateLoRA, a LoRA variant for parameter-efficient fine-tuning with a rank of 16 "
        "whose sparse gate prunes ranks dynamically. Experiments on downstream tasks show gains.",
    )
    planner = OfflinePlanner()
    triage = planner.triage(paper, families)
    assert triage.family == "peft-adapter" and "lora" in triage.cues
    plan = planner.plan(paper, triage, families["peft-adapter"])
    assert plan.method_name == "GateLoRA" and plan.class_name == "GateLoRA" and plan.module_name == "gatelora"
    assert plan.hyperparameters["rank"] == 16
    assert plan.inferred["rank"].startswith("abstract")
    assert plan.inferred["alpha"] == "family default"
    assert "rank_gate from" in plan.inferred["options"]
    assert "rank_gate" in plan.options
    # The numbers reach the rendered code.
    rendered = render(plan, paper, families["peft-adapter"])
    assert "16" in rendered.files["gatelora.py"] and "class GateLoRA" in rendered.files["gatelora.py"]


def test_surveys_and_studies_are_skipped_with_a_reason() -> None:
    families = load_families()
    survey = Paper(
        paper_id="s-00000000",
        title="A Survey of Parameter-Efficient Fine-Tuning for Large Language Models",
        abstract="This survey reviews LoRA, adapters and prompt tuning. We categorise over 100 methods, "
        "compare their trainable parameters, and discuss open problems for parameter-efficient fine-tuning.",
    )
    t = OfflinePlanner().triage(survey, families)
    assert t.family == "skip" and "survey" in t.reason.lower()
    unrelated = Paper(
        paper_id="u-00000000",
        title="On the history of typewriters",
        abstract="We describe typewriters built between 1870 and 1920 and their keyboard layouts.",
    )
    t = OfflinePlanner().triage(unrelated, families)
    assert t.family == "skip" and "no family" in t.reason


def test_triage_is_deterministic(papers: dict[str, Paper]) -> None:
    families = load_families()
    planner = OfflinePlanner()
    first = [planner.triage(p, families).family for p in papers.values()]
    second = [planner.triage(p, families).family for p in papers.values()]
    assert first == second
