"""The offline planner: deterministic, explainable triage and plan filling. No network, no model.

Triage scores each family's cue regexes (family.yaml) against the title and abstract; generic
cues for surveys, benchmarks, datasets and analyses argue for `skip`. The plan takes the method's
name from the title or abstract, numbers the abstract states, and the options its wording supports.
"""

from __future__ import annotations

import re
from pathlib import Path

from agent.families import FamilySpec
from agent.models import Paper, Plan, RunConfig, TestSpec, Triage
from agent.planners.base import Planner
from agent.planners.naming import class_identifier, module_identifier
from agent.settings import Settings

STRONG, WEAK, NEGATIVE, TITLE_BONUS = 3.0, 1.0, -3.0, 3.0
MIN_SCORE = 4.0  # and at least one strong cue: supporting words alone never choose a family

# Wording of papers that describe no implementable method of their own.
SKIP_CUES: dict[str, float] = {
    r"\bsurvey\b": 4.0,
    r"\b(?:a|this) review\b|\bwe review\b": 3.0,
    r"\bbenchmark(?:s|ing)?\b": 1.5,
    r"\bwe (?:present|introduce|release|construct|build|curate) (?:a |an )?(?:new |novel |large[- ]scale )?"
    r"(?:benchmark|dataset|corpus|suite|leaderboard)": 4.0,
    r"\bempirical (?:study|analysis|investigation)\b": 3.0,
    r"\bwe (?:investigate|analy[sz]e|study|examine|explore) (?:whether|how|why|the (?:effect|role|impact))": 3.0,
    r"\b(?:theoretical|systematic|comprehensive) (?:analysis|study|evaluation|investigation)\b": 2.0,
    r"\bunderstanding\b|\bdemystifying\b|\bhow .{3,40} shapes?\b|\blens of\b": 2.0,
    r"\b(?:deployed|deployment) (?:in|at|on) (?:production|a (?:commercial|real-world))|\bsearch engine\b": 2.5,
    r"\bwe (?:prove|derive) (?:that|a bound|bounds)\b": 2.0,
    r"\bprovabl[ey]\b|\btheoretical (?:framework|results?|insights?)\b": 2.0,
    r"\bscaling laws?\b": 3.0,
    r"\bassess(?:ing)? the (?:downstream )?performance\b|\bevaluation (?:metric|protocol)\b": 2.0,
}
# Titles that ask or explain ("How X shapes Y", "Understanding Z") announce a study, not a method.
TITLE_ANALYSIS = re.compile(
    r"^(?:understanding|demystifying|towards (?:a )?(?:deeper |better )?understanding|how (?!to\b)|why|what|"
    r"when|do|does|can|is|are)\b",
    re.I,
)
# A survey's title says so; whatever methods it lists, it proposes none of its own.
TITLE_ONLY_SKIP = re.compile(r"\b(?:survey|overview|tutorial|position paper|a review|systematic review)\b", re.I)
TITLE_SKIP_FACTOR = 2.5
METHOD_CUES = re.compile(
    r"\bwe (?:propose|introduce|present|design|develop|devise)\b|\bproposed (?:method|approach|framework)\b"
    r"|\bour (?:method|approach|framework)\b",
    re.I,
)

# Acronyms that name established methods or settings, never the paper's own method.
COMMON_ACRONYMS = {
    "AI",
    "LLM",
    "LLMS",
    "VLM",
    "VLMS",
    "MLLM",
    "MLLMS",
    "LM",
    "LMS",
    "NLP",
    "CV",
    "RL",
    "SFT",
    "RLHF",
    "KD",
    "MOE",
    "LORA",
    "PEFT",
    "CNN",
    "CNNS",
    "RNN",
    "RNNS",
    "GAN",
    "GANS",
    "VIT",
    "VITS",
    "SOTA",
    "GPU",
    "GPUS",
    "CPU",
    "API",
    "CL",
    "T2I",
    "I2I",
    "SSL",
    "QAT",
    "PTQ",
    "MLP",
    "MLPS",
    "CTR",
    "IR",
    "KL",
    "FLOPS",
    "CLIP",
    "BERT",
    "GPT",
    "DFT",
    "RWR",
    "SSM",
    "SSMS",
    "SDM",
    "DA",
    "UDA",
    "TTA",
    "FL",
    "DNN",
    "DNNS",
    "NAS",
    "OOD",
    "ID",
    "IID",
    "SGD",
    "ADAM",
    "MSE",
    "CE",
    "ML",
    "DL",
    "QA",
    "VQA",
    "ASR",
    "TTS",
    "OCR",
    "RAG",
    "KV",
    "MHA",
    "FFN",
    "GNN",
    "GNNS",
    "JE-SSL",
}
_NAME_AFTER_VERB = re.compile(
    r"\b(?:propose|introduce|present|call|coined|named|dubbed|termed|called)\b[^.]{0,120}?"
    r"\(([A-Za-z][A-Za-z0-9\-+]*[A-Z0-9][A-Za-z0-9\-+]*)\)"
)
_COINED = re.compile(r"\b(?:coined|dubbed|named|called|termed)\s+([A-Z][A-Za-z0-9\-]*[A-Z0-9][A-Za-z0-9\-]*)\b")
_PAREN_ACRONYM = re.compile(r"\(([A-Za-z][A-Za-z0-9\-+]*[A-Z][A-Za-z0-9\-+]*)\)")


def _find(patterns: list[str], text: str) -> list[str]:
    hits = []
    for pat in patterns:
        m = re.search(pat, text, re.I)
        if m:
            hits.append(m.group(0).strip().lower())
    return hits


def score_family(family: FamilySpec, title: str, abstract: str) -> tuple[float, list[str]]:
    """Score = weighted count of distinct cues matched; cues in the title count extra."""
    score, cues = 0.0, []
    for weight, patterns in ((STRONG, family.cues.strong), (WEAK, family.cues.weak)):
        for pat in patterns:
            in_title = re.search(pat, title, re.I)
            in_abs = re.search(pat, abstract, re.I)
            if in_title or in_abs:
                score += weight + (TITLE_BONUS if in_title else 0.0)
                cues.append((in_title or in_abs).group(0).strip().lower())
    if not any(re.search(p, f"{title}\n{abstract}", re.I) for p in family.cues.strong):
        return min(score, MIN_SCORE - 1), cues  # supporting words alone never choose a family
    for pat in family.cues.negative:
        m = re.search(pat, f"{title}\n{abstract}", re.I)
        if m:
            score += NEGATIVE
            cues.append(f"not: {m.group(0).strip().lower()}")
    return score, cues


def skip_score(title: str, abstract: str) -> tuple[float, list[str]]:
    """How strongly the paper reads as a survey, benchmark, dataset or study; title wording weighs most."""
    score, cues = 0.0, []
    for pat, weight in SKIP_CUES.items():
        in_title = re.search(pat, title, re.I)
        m = in_title or re.search(pat, abstract, re.I)
        if m:
            score += weight * (TITLE_SKIP_FACTOR if in_title else 1.0)
            cues.append(m.group(0).strip().lower() + (" (title)" if in_title else ""))
    if TITLE_ONLY_SKIP.search(title):
        return 100.0, [*cues, "title says survey/overview"]
    if TITLE_ANALYSIS.search(title):
        return 100.0, [*cues, "title reads as a question or an analysis"]
    if METHOD_CUES.search(abstract):
        score -= 2.0
    return score, cues


def method_name(paper: Paper) -> tuple[str | None, str]:
    """The paper's own name for its method, and where it was found."""
    head = paper.title.split(":")[0].strip()
    if ":" in paper.title and 1 <= len(head.split()) <= 3 and len(head) <= 30:
        return head, f"title: '{head}:'"
    for pattern, where in ((_NAME_AFTER_VERB, "abstract"), (_COINED, "abstract")):
        for m in pattern.finditer(paper.abstract):
            if m.group(1).upper() not in COMMON_ACRONYMS:
                return m.group(1), f"{where}: '{m.group(0)[-60:]}'"
    for m in _PAREN_ACRONYM.finditer(paper.abstract):
        name = m.group(1)
        if name.upper() not in COMMON_ACRONYMS and sum(c.isupper() for c in name) >= 2:
            return name, f"abstract: '({name})'"
    return None, "family default"


class OfflinePlanner(Planner):
    name = "offline"

    @classmethod
    def from_config(cls, config: RunConfig, run_dir: Path, settings: Settings) -> OfflinePlanner:
        return cls()

    def triage(self, paper: Paper, families: dict[str, FamilySpec]) -> Triage:
        scores: dict[str, float] = {}
        cues: dict[str, list[str]] = {}
        families = {fid: fam for fid, fam in families.items() if not fam.llm_only}
        for fid, fam in families.items():
            scores[fid], cues[fid] = score_family(fam, paper.title, paper.abstract)
        skip, skip_cues = skip_score(paper.title, paper.abstract)
        scores["skip"] = skip
        best = max(families, key=lambda f: (scores[f], f == sorted(families)[0]), default=None)
        if best is None or scores[best] < MIN_SCORE:
            shown = f"best was {best} with {scores[best]:.0f}" if best else "no families loaded"
            return Triage(
                family="skip",
                reason=f"no family's cues are strong enough ({shown}; need {MIN_SCORE:.0f})",
                cues=skip_cues,
                scores=scores,
            )
        if skip >= scores[best]:
            return Triage(
                family="skip",
                reason=f"reads as a survey, benchmark, dataset or study rather than a method "
                f"(skip cues {skip:.0f}: {', '.join(skip_cues[:4])}; best family {best} {scores[best]:.0f})",
                cues=skip_cues,
                scores=scores,
            )
        return Triage(
            family=best,
            reason=f"{best} cues scored {scores[best]:.0f}: {', '.join(cues[best][:6])}",
            cues=cues[best],
            scores=scores,
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
        if feedback:
            not_impl.append(f"reviewer feedback not applied by the offline planner: {feedback}")
        return Plan(
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
            confidence=round(min(1.0, triage.scores.get(family.id, 0.0) / 15.0), 2),
            planner=self.name,
        )


def _summary(abstract: str, limit: int = 400) -> str:
    """The sentences that state the contribution ('we propose ...'), else the first two."""
    sentences = re.split(r"(?<=[.!?])\s+", abstract.strip())
    picked = [s for s in sentences if METHOD_CUES.search(s)][:2] or sentences[:2]
    text = " ".join(picked)
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"
