"""The offline planner: deterministic, explainable triage and plan filling. No network, no model.

Triage scores each family's cue regexes (family.yaml) against the title and abstract; generic
cues for surveys, benchmarks, datasets and analyses argue for `skip`. The plan takes the method's
name from the title or abstract, numbers the abstract states, and the options its wording supports.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from agent.families import FamilySpec
from agent.models import Paper, Plan, RunConfig, TestSpec, Triage
from agent.planners import contribution
from agent.planners import feedback as reviewer_feedback
from agent.planners.base import Planner
from agent.planners.naming import class_identifier, module_identifier, paper_method_name
from agent.settings import Settings

STRONG, WEAK, NEGATIVE, TITLE_BONUS = 3.0, 1.0, -3.0, 3.0
BACKGROUND = 0.35  # a cue met only before the paper states its own work (related work, the problem) counts this much
BACKGROUND_ONLY, METHOD_STATED = 1.5, 2.5  # a family whose strong cues are all in the background needs a stated method
METHOD_CUES = re.compile(
    r"\bwe (?:propose|introduce|present|design|develop|devise)\b|\bproposed (?:method|approach|framework)\b"
    r"|\bour (?:method|approach|framework)\b",
    re.I,
)
# The decision: evidence = family cues + a stated method - the wording of a study, dataset, system or
# LLM pipeline; confidence = logistic((evidence - MIDPOINT) / SPREAD). Below PICK_FLOOR the planner skips;
# between it and `--min-confidence` the run skips with "low confidence".
MIDPOINT, SPREAD, PICK_FLOOR = 6.0, 2.5, 0.2
# A family met by few of its words (its evidence below FAMILY_FLOOR, what one strong cue in the title or two in the
# abstract give) is weak evidence that the method is of that family: each missing point costs THIN.
FAMILY_FLOOR, THIN = 6.0, 1.0


def _find(patterns: list[str], text: str) -> list[str]:
    hits = []
    for pat in patterns:
        m = re.search(pat, text, re.I)
        if m:
            hits.append(m.group(0).strip().lower())
    return hits


@dataclass
class FamilyScore:
    score: float
    cues: list[str]
    stated: bool  # a strong cue in the title or where the paper states its own work
    background: bool = False  # a strong cue, but only before the paper states its own work


def score_family(family: FamilySpec, title: str, reading: contribution.Reading) -> FamilyScore:
    """Weighted count of distinct cues: more in the title, less where only the background mentions them."""
    score, cues, stated, in_background = 0.0, [], False, False
    own, background, compared = reading.own_text, reading.background_text, reading.compared_text
    for weight, patterns, strong in ((STRONG, family.cues.strong, True), (WEAK, family.cues.weak, False)):
        for pat in patterns:
            m = re.search(pat, title, re.I)
            if m:
                score += weight + TITLE_BONUS
            elif m := re.search(pat, own, re.I):
                score += weight
            elif m := re.search(pat, background, re.I):
                score += weight * BACKGROUND
                cues.append(f"{m.group(0).strip().lower()} (background)")
                in_background = in_background or strong
                continue
            elif m := re.search(pat, compared, re.I):  # a baseline: counts as little, and never states the family
                score += weight * BACKGROUND
                cues.append(f"{m.group(0).strip().lower()} (compared with)")
                continue
            else:
                continue
            stated = stated or strong
            cues.append(m.group(0).strip().lower())
    for pat in family.cues.negative:
        m = re.search(pat, f"{title}\n{own}", re.I)
        if m:
            score += NEGATIVE
            cues.append(f"not: {m.group(0).strip().lower()}")
    return FamilyScore(score, cues, stated, in_background and not stated)


def skip_evidence(title: str, reading: contribution.Reading) -> list[tuple[float, str]]:
    """What argues that the paper contributes no module of its own, each with the words that say so."""
    ev: list[tuple[float, str]] = []
    named = any(s.named and s.kind in ("method", "unnamed") and not s.llm_driven for s in reading.statements)
    if reading.title_study:
        ev.append((5.0, f"title '{reading.title_study}'"))
    elif reading.title_explore:
        ev.append((1.5 if named else 3.0, f"title '{reading.title_explore}'"))
    for kind, first, more, what in (
        ("data", 4.0, 2.0, "introduces a dataset/benchmark"),
        ("system", 4.5, 1.5, "introduces a system or model"),
        ("study", 2.5, 1.0, "introduces a study or a measure"),
    ):
        for i, st in enumerate(reading.of_kind(kind)[:2]):
            ev.append((first if i == 0 else more, f"{what}: '{st.words()}'"))
    if reading.of_kind("data", "system", "study") and not reading.of_kind("method"):
        ev.append((1.5, "states no method of its own"))
    if reading.title_kind:
        kind, head = reading.title_kind
        ev.append((3.0, f"the title names {_KIND_WORDS[kind]}: '{head}'"))
    for i, words in enumerate(reading.framing[:3]):
        ev.append((2.0 if i == 0 else 1.0, f"frames a study: '{words}'"))
    for table, cap, what in (
        (reading.study, 4.0, "study wording"),
        (reading.theory, 3.0, "theory wording"),
        (reading.system, 5.0, "system-report wording"),
    ):
        if table:
            ev.append((min(cap, sum(w for w, _ in table)), f"{what}: " + ", ".join(f"'{t}'" for _, t in table[:3])))
    llm = reading.llm_driven
    if llm:
        ev.append((min(4.0, 2.0 * len(llm)), "an LLM-driven pipeline: " + ", ".join(f"'{t}'" for t in llm[:2])))
    return ev


_KIND_WORDS = {"data": "a dataset/benchmark", "system": "a system or model", "study": "a study or a measure"}


def method_evidence(reading: contribution.Reading) -> list[tuple[float, str]]:
    """A statement that the paper contributes a method (a loss, a layer, a strategy...), and its name."""
    own = [s for s in reading.of_kind("method", "unnamed") if not s.llm_driven and (s.kind == "method" or s.named)]
    if reading.title_kind and reading.title_kind[0] == "system":  # "LibMoE: A Library": its "framework" is that
        own = [s for s in own if not re.search(r"\bframeworks?$", s.phrase, re.I)]
    ev: list[tuple[float, str]] = []
    if own:
        shown = next((s for s in own if s.named), own[0])  # quote the statement that names the method
        ev.append((2.5, f"states a method: '{shown.words()}'"))
        if any(s.named for s in own):
            ev.append((2.0, "names it"))
        if len(own) > 1:
            ev.append((min(1.5, 0.5 * (len(own) - 1)), f"and {len(own) - 1} more component(s)"))
    return ev


def _confidence(evidence: float) -> float:
    return round(1.0 / (1.0 + math.exp(-(evidence - MIDPOINT) / SPREAD)), 3)


def method_name(paper: Paper) -> tuple[str | None, str]:
    """The paper's own name for its method, and where it was found (None: the family default applies)."""
    return paper_method_name(paper.title, paper.abstract)


class OfflinePlanner(Planner):
    name = "offline"

    @classmethod
    def from_config(cls, config: RunConfig, run_dir: Path, settings: Settings) -> OfflinePlanner:
        return cls()

    def triage(self, paper: Paper, families: dict[str, FamilySpec]) -> Triage:
        reading = contribution.read(paper.title, paper.abstract)
        families = {fid: fam for fid, fam in families.items() if not fam.llm_only}
        fam = {fid: score_family(spec, paper.title, reading) for fid, spec in families.items()}
        skip_ev, method_ev = skip_evidence(paper.title, reading), method_evidence(reading)
        skip, method = sum(w for w, _ in skip_ev), sum(w for w, _ in method_ev)
        scores = {fid: round(f.score, 2) for fid, f in fam.items()}
        scores["skip"], scores["method"] = round(skip, 2), round(method, 2)
        stated = [fid for fid in sorted(fam) if fam[fid].stated]
        if not stated and method >= METHOD_STATED:  # a stated method whose family the background names
            for fid in sorted(fam):
                if fam[fid].background:
                    fam[fid].score -= BACKGROUND_ONLY
                    fam[fid].cues.insert(0, "family named only in the background")
                    stated.append(fid)
        best = max(stated, key=lambda f: fam[f].score, default=None)
        against = [w for _, w in sorted(skip_ev, key=lambda e: -e[0])]
        if reading.title_survey:
            return Triage(
                family="skip",
                reason=f"skip: a survey (title '{reading.title_survey}'), no method of its own",
                cues=against,
                scores=scores,
                confidence=0.95,
            )
        # Precision first: a paper that frames a study (in its abstract or its title), introduces a dataset, a
        # system or a study, or argues in theory's words and names nothing of its own, and states no method of its
        # own gets no module, however many topic words it uses.
        looks_at = bool(
            reading.framing
            or reading.of_kind("data", "system", "study")
            or reading.title_kind
            or reading.title_study
            or (reading.theory and method_name(paper)[0] is None)
        )
        if best is not None and not method_ev and looks_at:
            return Triage(
                family="skip",
                reason="skip: states no method of its own; "
                + "; ".join(against[:2])
                + f" (nearest {best}: {', '.join(fam[best].cues[:3])})",
                cues=against,
                scores=scores,
                confidence=round(max(0.6, 1.0 - _confidence(fam[best].score - skip)), 3),
            )
        if best is None:
            near = max(fam, key=lambda f: fam[f].score, default=None)
            shown = f" (nearest {near}: {', '.join(fam[near].cues[:3])})" if near and fam[near].cues else ""
            return Triage(
                family="skip",
                reason="skip: " + "; ".join([*against[:2], f"no family's method is stated{shown}"]),
                cues=against,
                scores=scores,
                confidence=round(1.0 - _confidence(-skip), 3) if skip else 0.9,
            )
        evidence = fam[best].score + method - skip
        if fam[best].score < FAMILY_FLOOR:  # a stated method that a family's words barely touch: likely none of ours
            evidence -= THIN * (FAMILY_FLOOR - fam[best].score)
            against.insert(0, f"few of {best}'s words ({fam[best].score:.1f} < {FAMILY_FLOOR:.0f})")
        confidence = _confidence(evidence)
        cues = sorted(fam[best].cues, key=lambda c: c.endswith(("(background)", "(compared with)")))
        if confidence < PICK_FLOOR:
            return Triage(
                family="skip",
                reason="skip: " + "; ".join(against[:3]) + f"; outweighs {best} ({', '.join(cues[:3])}; "
                f"evidence {fam[best].score + method:.1f} - {skip:.1f})",
                cues=against,
                scores=scores,
                confidence=round(1.0 - confidence, 3),
            )
        said = method_ev[0][1] if method_ev else "no explicit method statement"
        return Triage(
            family=best,
            reason=f"pick {best} ({confidence:.2f}): {said}; cues {', '.join(cues[:4])}"
            + (f"; against: {'; '.join(against[:2])}" if against else ""),
            cues=cues,
            scores=scores,
            confidence=confidence,
        )

    def plan(self, paper: Paper, triage: Triage, family: FamilySpec, feedback: str | None = None) -> Plan:
        inferred: dict[str, str] = {}
        name, where = method_name(paper)
        if name is None:
            name = family.default_method
        inferred["method_name"] = where
        text = f"{paper.title}\n{paper.abstract}"
        hyper: dict[str, int | float | bool | str] = {}
        for pname, spec in family.parameters.items():
            found = None
            for pat in spec.patterns:
                m = re.search(pat, text, re.I)
                if not m:
                    continue
                try:
                    value = spec.parse(m.group(1))
                except (ValueError, IndexError):
                    continue  # not a value, or a number outside the plausible range: about something else
                found = (value, m.group(0))
                break
            if found:
                hyper[pname] = found[0]
                inferred[pname] = f"abstract: '{found[1].strip()}'"
            else:
                hyper[pname] = spec.default
                inferred[pname] = "family default"
        options, why = [], []
        for oname, ospec in family.options.items():
            hits = _find(ospec.cues, text)
            if hits:
                options.append(oname)
                why.append(f"{oname} from '{hits[0]}'")
        inferred["options"] = "abstract: " + "; ".join(why) if why else "no option cue in the abstract: family default"
        summary = _summary(paper.abstract)
        not_impl = list(family.not_implemented)
        plan = Plan(
            paper_id=paper.paper_id,
            paper_title=paper.title,
            paper_url=paper.url,
            family=family.id,
            method_name=name,
            module_name=module_identifier(name),
            class_name=class_identifier(name),
            summary=summary,
            components=list(family.components),
            hyperparameters=hyper,
            options=options,
            tensor_shapes=dict(family.tensor_shapes),
            tests=[TestSpec(**t.model_dump()) for t in family.tests],
            not_implemented=not_impl,
            inferred=inferred,
            confidence=triage.confidence,
            planner=self.name,
        )
        # A reviewer's feedback: its structured clauses applied, the rest named in review_notes.
        return reviewer_feedback.apply(plan, family, feedback) if feedback else plan


def _summary(abstract: str, limit: int = 400) -> str:
    """The sentences that state the contribution ('we propose ...'), else the first two."""
    sentences = re.split(r"(?<=[.!?])\s+", abstract.strip())
    picked = [s for s in sentences if METHOD_CUES.search(s)][:2] or sentences[:2]
    text = " ".join(picked)
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"
