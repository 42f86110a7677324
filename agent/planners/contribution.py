"""What an abstract says it contributes, read from its wording: the offline triage's evidence.

An abstract states its contribution in a few recognisable ways: "we propose a ... loss", "we introduce
X, a ... benchmark", "this paper analyzes ...", "we release a family of models". This module finds those
statements, says what kind of thing each one introduces (a method, a dataset or benchmark, a study, a
system or model family), and collects the general wording of studies, theory, system reports and
LLM-driven pipelines. It knows nothing about the method families: `agent.planners.offline` weighs this
evidence against the families' cue words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from agent.planners.naming import COMMON_ACRONYMS, strip_latex

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'`\\])")

# Who states a contribution, and the adverbs that may come between subject and verb.
_SUBJECT = r"(?:we|this (?:paper|work|study|article|report|letter|survey|review)|our (?:work|paper|study|survey))"
_ADVERBS = r"(?:,?\s+(?:first|further|also|then|here|thus|therefore|hence|instead|now|finally|\w+ly)\b,?)*"
_STATE = re.compile(
    rf"\b{_SUBJECT}{_ADVERBS}\s+(?:propose|introduce|present|design|develop|devise|build|construct|formulate"
    r"|put forward|establish|create|offer|contribute|describe|release|curate|collect|provide"
    r"|term|call|dub|coin)s?\b"
    rf"|\b{_SUBJECT}\b[^.;]{{0,160}}?\b(?:to|and)(?: then| also| further| thus| finally)? (?:propose|introduce"
    r"|present|design|develop|devise)s?\b"
    # "we revisit this challenge ..., proposing SDM, a principled framework": the statement in a participle
    r"|\bwe\b[^.;]{0,160}?(?:,|\bby)\s+(?:proposing|introducing|presenting|developing|designing)\b"
    r"|\b(?:is|are)\s+(?:\w+ly\s+)?(?:proposed|introduced|presented|developed|designed|devised)\b"
    # "These insights motivate G2RPO-A, an adaptive algorithm", "which motivates us to propose ..."
    r"|\b(?:insights?|findings?|observations?|analys[ie]s|results?) (?:motivate|inspire)s?\b"
    r"|\b(?:motivat|inspir|lead|prompt)\w* us to (?:propose|introduce|present|design|develop|devise)\b",
    re.I,
)
# A passive statement about what others did ("such models are developed in isolation") states nothing of ours.
_OTHERS = re.compile(
    r"^(?:while|although|though|despite|existing|previous|prior|recent|many|most|such|these|those|various|several"
    r"|other|some|traditional|conventional)\b",
    re.I,
)
# "a framework which allows a principled investigation of ...": a tool for a study, not a module.
_FOR_STUDY = re.compile(
    r"^[^.;]{0,40}?\b(?:investigation|analysis|analyses|comparisons?|understanding|characteri[sz]ation|study) of\b",
    re.I,
)
# "more memory-efficient than low-rank adaptation methods such as LoRA", "surpass diffusion transformers": what
# a paper compares itself with is a baseline, not its method; such a clause runs to the next punctuation.
_COMPARED = re.compile(
    r"\b(?:than|surpass\w*|outperform\w*|beat(?:s|ing)?|rival(?:s|ing)?|(?:compared|comparable) (?:to|with)"
    r"|in comparison (?:to|with)|relative to|versus|vs\.?)\s[^.;:,()]{0,80}",
    re.I,
)
# "the DUAL score, which aims to identify important samples": a score that picks data is a selection method.
_SCORE = re.compile(r"\b(?:scores?|metrics?|measures?)$", re.I)
_PICKS_DATA = re.compile(
    r"^[^.;]{0,80}?\b(?:identif|select|prun|filter|rank|re-?weight|weight|prioriti[sz]|discard|remov)\w*"
    r"\s+(?:\w+\s+){0,3}?(?:samples|examples|instances|data|tokens|data points)\b"
    # "a simple and scalable metric for coreset selection"
    r"|^\s*for\s+(?:[\w-]+\s+){0,2}?(?:coreset|subset|data|sample|example|instance)s?\s+(?:selection|pruning|filtering)\b",
    re.I,
)
# "Our method, named LLM-Pruner, adopts ...": the method is stated by the name given to it
_OUR_NAMED = re.compile(
    r"\bour (?:proposed )?(?:method|approach|framework|algorithm|technique|model|solution)s?,?\s+"
    r"(?:named|called|dubbed|termed|coined)\s+[\w-]+",
    re.I,
)
# "we establish that adaptive smoothness enables ...", "we describe how ...": a claim or an account, not a thing built
_CLAIM = re.compile(r"^(?:that|how|whether|why|what|when|where)\b", re.I)
_NAMING = re.compile(r"(?:term|call|dub|coin)s?$", re.I)
_GIVE = re.compile(r"(?:release|curate|collect|provide|describe|offer|contribute)s?$", re.I)
# The object of a statement ends where a clause about it begins.
_OBJECT_END = re.compile(
    r"[.;:]|,(?!\s+(?:a|an|the|namely)\b|\s+[A-Z][\w-]*[A-Z][\w-]*,)"  # not at ", EffiLoRA, a ..."
    r"|\s(?:that|which|who|to|for|by|via|with|based|where|whose|in order"
    r"|consisting|comprising|capable|designed|tailored|aiming|aimed|leveraging|using|built|derived|encompassing"
    r"|enabling|from|on|as|of (?:the|our)|into|under|inspired|specifically)\b",
)  # lower case only: "Preference As Reward (PAR)" is a name, not a clause
# Framing: the paper says its work is to look at something, not to build something. The weak verbs
# frame a study only when a question follows ("we evaluate whether ...", "we explore how ...").
_FRAME_LEAD = rf"\b{_SUBJECT}{_ADVERBS}\s+(?:aims? to |seeks? to |sets? out to |tr(?:y|ies) to )?"
_FRAMING = re.compile(
    _FRAME_LEAD + r"(?:stud(?:y|ies)|investigat\w*|analy[sz]\w*|examin\w*|quantif\w*|characteri[sz]\w*|revisit\w*"
    r"|understand\w*|question\w*|document\w*|survey\w*|review\w*|probe\w*|shed light)\b"
    r"|" + _FRAME_LEAD + r"(?:explor\w*|evaluat\w*|assess\w*|compar\w*|measur\w*|benchmark\w*|ask\w*)\s+"
    r"(?:whether|how|why|what|when|to what extent|if|the (?:effects?|impacts?|roles?|behaviou?rs?|extent"
    r"|abilit(?:y|ies)"
    r"|capabilit(?:y|ies)|efficacy|limits?|robustness|performance of (?:existing|current|state))\b)"
    # "we compare the performance of LoRA and full finetuning": a comparison of what exists
    r"|" + _FRAME_LEAD + r"compar\w*\s+(?:the\s+)?(?:performance|effectiveness|efficiency|accuracy|quality"
    r"|behaviou?rs?)\s+of\b",
    re.I,
)

# "This paper explores a ... mechanism": a framing verb whose object is a new method states that method.
_LOOK_AT = re.compile(
    rf"\b{_SUBJECT}{_ADVERBS}\s+(?:explor|investigat|stud|examin|consider|describ)\w*\s+(?=an?\s)", re.I
)
_DISCOURSE = re.compile(
    r"^(?:(?:specifically|moreover|furthermore|additionally|also|then|first|second|third|finally"
    r"|concretely|in addition|besides|here|thus|hence)\b,?\s*)+",
    re.I,
)

# What a statement introduces, by its head noun (the last one of these in the object phrase).
KINDS: dict[str, str] = {
    r"benchmarks?|datasets?|data ?sets?|corpus|corpora|suites?|testbeds?|test beds?|leaderboards?|arenas?"
    r"|annotations|test conditions": "data",
    r"surveys?|reviews?|stud(?:y|ies)|analys[ie]s|investigations?|evaluations?|comparisons?|overviews?"
    r"|tutorials?|taxonom(?:y|ies)|metrics?|measures?|scores?|characteri[sz]ations?|findings"
    r"|insights|protocols?|principles|laws|handbooks?|guides?|primers?|cookbooks?|lessons": "study",
    r"systems?|platforms?|toolkits?|librar(?:y|ies)|tools?|engines?|infrastructures?|pipelines?|agents?"
    r"|assistants?|chatbots?|simulators?|environments?|interfaces?|applications?|reports?|services?"
    r"|(?:family|series|suite|collection) of (?:[\w-]+ )*?models": "system",
    r"methods?|approach(?:es)?|techniques?|algorithms?|loss(?:es)?|objectives?|regulari[sz](?:er|ers|ation)"
    r"|layers?|modules?|blocks?|mechanisms?|adapters?|architectures?|networks?|operators?|strateg(?:y|ies)"
    r"|schemes?|frameworks?|procedures?|estimators?|samplers?|schedul(?:e|es|er|ers)|optimi[sz]ers?"
    r"|attention|projectors?|formulations?|criteri(?:on|a)|initiali[sz]ations?|gates?|routers?|encoders?"
    r"|decoders?|paradigms?|recipes?|units?|kernels?|heads?|tokenizers?|embeddings?|models?"
    r"|modifications?|variants?|extensions?|reformulations?|tricks?": "method",  # "a minimal modification to RL"
}
_THEORY_FRAME = re.compile(
    r"\b(?:theoretical|mathematical|analytical|conceptual|formal|unifying|unified theoretical)"
    r" (?:framework|model|perspective|lens|account|explanation)s?\b",
    re.I,
)
_KIND_RE = [(re.compile(rf"\b(?:{pat})\b", re.I), kind) for pat, kind in KINDS.items()]
_ENDS_IN_KIND = re.compile(rf"\b(?:{'|'.join(KINDS)})$", re.I)  # the phrase's last noun is one we know
_FAMILY = r"(?:family|series|suite|collection|zoo)"  # "a family of ... models": a set of models, not a method
# "a 7B language model", "a multimodal foundation model": a model is a system report, not a method.
_MODEL_REPORT = re.compile(
    r"\b(?:(?:large |small )?(?:language|multimodal|multi-modal|foundation|vision[- ]language|omni|reasoning|base|chat"
    r"|instruct(?:ion)?|generalist|frontier|open(?:-source)?|pre-?trained|\d+(?:\.\d+)?[BMT])[- ])+models?\b"
    r"|\b(?:M?LLM|VLM|LMM|MLLM)s?\b",
    re.I,
)
# The method's machinery is a model it prompts: an LLM-driven pipeline or agent, not a trainable component.
_LLM_DRIVEN = re.compile(
    r"\b(?:LLMs?|language models?|GPT-?\w*)[- ](?:based|powered|driven|guided|generated|as (?:an? )?\w+)\b"
    r"|\b(?:leverag|utiliz|integrat|harness|employ|incorporat|prompt|quer|us)\w* (?:the |an? )?"
    r"(?:(?:pre-?trained|off-the-shelf|frozen|existing|powerful|general|strong|multiple|reasoning|instruction-following)"
    r" |[\w-]+ (?:capabilit(?:y|ies)|abilit(?:y|ies)) of )?"
    r"(?:(?:large )?language models?|LLMs?|GPT-?\w*)\b(?! (?:fine[- ]?tuning|training|pre-?training|alignment))"
    r"|\bLLM calls\b|\bmulti-?agent (?:framework|system|collaboration|debate|LLM)s?\b|\bagentic\b"
    r"|\bprompting (?:strateg\w+|techniques?|methods?)\b",
    re.I,
)
_METHOD_SYSTEM = re.compile(r"\b(?:recommend\w*|ranking|retrieval|CTR|click-through) (?:systems?|models?)\b", re.I)
_NAME_IN_OBJECT = re.compile(
    r"\(([A-Za-z][\w-]*[A-Z][\w-]*)\)|\b([A-Z][a-z]*[A-Z][\w-]*|[a-z]+-[A-Z][\w-]*)\b"  # SMoRA, fine-CLIP
)

# General wording of papers whose contribution is knowledge, not a module (weight, pattern).
STUDY_WORDS: dict[str, float] = {
    r"\b(?:our|these|the) (?:findings|analys[ie]s|stud(?:y|ies)|experiments?) (?:reveal|show|suggest|indicate"
    r"|highlight|offer|provide|invite|shed|underscore|uncover)\w*": 1.5,
    r"\bfindings\b": 1.0,
    r"\binsights?\b": 0.5,
    r"\bsurprising(?:ly)?\b|\bintriguing(?:ly)?\b|\bcurious phenomenon\b": 1.0,
    r"\bwe (?:find|found|observe|discover|identify|document) (?:that|a|an|the|three|two|several|key)\b": 1.0,
    r"\b(?:empirical(?:ly)?|systematic(?:ally)?|comprehensive(?:ly)?|controlled|large-scale) (?:study|studies"
    r"|analys[ie]s|evaluation|investigation|comparison|examination)\b": 2.0,
    r"\bremains? (?:poorly understood|under-?explored|unclear|an open (?:problem|question))\b": 1.0,
    r"\bthis (?:survey|review|tutorial|position paper)\b"
    r"|\bwe (?:survey|review|categori[sz]e|summari[sz]e) (?:the |recent |existing |\d+ |over )": 4.0,
    r"\bcase stud(?:y|ies)\b|\b(?:we|this (?:paper|work)) appl(?:y|ies) (?:[\w-]+ ){1,5}to\b": 1.5,
}
THEORY_WORDS: dict[str, float] = {
    r"\bwe (?:prove|derive)\b|\bprovabl[ey]\b|\btheorems?\b|\bfirst principles\b": 1.5,
    r"\btheoretical (?:analysis|framework|results?|insights?|understanding|guarantees?|conditions)\b": 1.0,
    r"\b(?:mathematical|theoretical) framework\b|\bgradient dynamics\b|\blearning dynamics\b": 1.0,
    r"\b(?:upper|lower|generali[sz]ation|regret) bounds?\b|\bconvergence (?:rates?|guarantees?|analys[ie]s)\b": 1.0,
    r"\bminimax(?:[- ]optimal)? rates?\b|\b(?:excess|population) risk\b|\bgenerali[sz]ation analysis\b": 1.0,
}
SYSTEM_WORDS: dict[str, float] = {
    r"\btechnical report\b": 3.0,
    r"\bwe (?:release|open-?source)\b|\bopen-?sourced? (?:the |our )?(?:models?|weights|checkpoints)\b": 1.5,
    r"\b(?:family|series|suite) of (?:[\w-]+ )*?models\b": 2.0,
    r"\b(?:pre-?)?trained on [\d.,]+ ?(?:[TB]|trillion|billion) (?:high-quality )?tokens\b": 2.0,
    r"\bdeployed (?:in|at|on|to) (?:production|a (?:commercial|real-world)|our)\b|\bsearch engine\b": 1.0,
    r"\bopen(?:-source|-weight)?s? (?:[\w-]+ ){0,2}(?:models|LLMs|MLLMs|VLMs|LMMs)\b"
    r"|\b(?:release|open-source|publish)\w* (?:the |our |all )?(?:model )?weights\b": 1.5,
    r"\b(?:pre-?training|post-?training|instruction[- ]tuning) (?:stages?|pipeline|recipe|data|corpus|mixture)\b": 1.0,
}
# Titles that announce a study, a benchmark or a dataset, or a report. TITLE_EXPLORE: weaker, as method papers
# also open with "Exploring ...".
TITLE_EXPLORE = re.compile(r"^(?:exploring|exploration|unraveling|unveiling|anatomy|lessons|revisiting)\b", re.I)
TITLE_STUDY = re.compile(
    r"^(?:understanding|demystifying|towards (?:a )?(?:deeper |better )?understanding|towards a science|how (?!to\b)"
    r"|why|what|when|do|does|can|is|are|benchmarking)\b"
    r"|(?:^|:\s*)(?:an? )?(?:empirical|systematic|comprehensive|large-scale|critical|controlled)?\s*"
    r"(?:study|analysis|investigation|evaluation|examination|comparison)\b"
    r"|(?:^|(?::\s*|\b(?:a|an|new)\s+)(?:[\w-]+\s+){0,5}?)(?:benchmark|dataset|corpus|testbed|leaderboard)s?\b"
    r"(?!\s+(?:distillation|condensation|pruning|selection|compression))"
    r"|\b(?:technical report|scaling laws?|exploration of)\b"
    r"|(?:^|:\s*)(?:the )?(?:myths?|unreasonable effectiveness|pitfalls|illusions?|roles?|impacts?|effects?"
    r"|limits|limitations) of\b"
    # "Convergence of Adam in ...", "On the Expressivity of ...": a property of something that exists
    r"|^(?:on )?(?:the )?(?:convergence|generali[sz]ation(?: bounds?| error)?|expressiv(?:ity|e power)"
    r"|sample complexity|implicit bias|learnability|identifiability|optimality"
    r"|approximation (?:power|error|rates?)) (?:of|for|in)\b",
    re.I,
)
TITLE_SURVEY = re.compile(r"\b(?:survey|overview|tutorial|position paper|a review|systematic review)\b", re.I)


@dataclass
class Statement:
    """One statement of a contribution: what it introduces and the words that say so."""

    kind: str  # method, data, study, system or "unnamed" (no head noun we know)
    phrase: str
    sentence: int
    named: bool = False
    llm_driven: bool = False

    def words(self) -> str:
        return self.phrase if len(self.phrase) <= 70 else self.phrase[:69].rsplit(" ", 1)[0] + "…"


@dataclass
class Reading:
    sentences: list[str]
    start: int  # the first sentence that states or frames the paper's own work; before it: background
    statements: list[Statement] = field(default_factory=list)
    framing: list[str] = field(default_factory=list)
    study: list[tuple[float, str]] = field(default_factory=list)
    theory: list[tuple[float, str]] = field(default_factory=list)
    system: list[tuple[float, str]] = field(default_factory=list)
    llm_driven: list[str] = field(default_factory=list)
    title_study: str | None = None
    title_explore: str | None = None
    title_survey: str | None = None
    title_kind: tuple[str, str] | None = None  # (kind, phrase): the title's head phrase names no method

    # Cached: every family's score reads these texts (the sentences and `start` never change after `read`).
    @cached_property
    def contribution_text(self) -> str:
        return " ".join(self.sentences[self.start :])

    @cached_property
    def own_text(self) -> str:
        """The paper's own work without the clauses that compare it with baselines."""
        return _COMPARED.sub(" ", self.contribution_text)

    @cached_property
    def compared_text(self) -> str:
        """The comparison clauses of the paper's own work: what it is measured against."""
        return " ".join(m.group(0) for m in _COMPARED.finditer(self.contribution_text))

    @cached_property
    def background_text(self) -> str:
        return " ".join(self.sentences[: self.start])

    def of_kind(self, *kinds: str) -> list[Statement]:
        return [s for s in self.statements if s.kind in kinds]


def _names_something(phrase: str) -> bool:
    """A name of the paper's own in the phrase: SMoRA, TinyCLIP, (MemSPM); not LoRA, MoE or LLMs."""
    return any((m.group(1) or m.group(2)).upper() not in COMMON_ACRONYMS for m in _NAME_IN_OBJECT.finditer(phrase))


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def _kind(phrase: str) -> str:
    # "the first systematic study of distillation across models": the head is the noun before "of"
    of = re.search(r"\sof\s", phrase)
    head = phrase[: of.start()] if of else ""
    if head and not re.search(rf"\b{_FAMILY}$", head, re.I) and _ENDS_IN_KIND.search(head):
        phrase = head
    best, where = "unnamed", -1
    for rx, kind in _KIND_RE:
        for m in rx.finditer(phrase):
            if m.start() > where:
                best, where = kind, m.start()
    if best == "method" and re.search(r"\bmodels?\b", phrase[where:], re.I) and _MODEL_REPORT.search(phrase):
        return "system"
    if best == "system" and _METHOD_SYSTEM.search(phrase):
        return "method"  # a recommender system is what the recommendation family implements
    if re.search(rf"\b{_FAMILY} of\b", phrase, re.I) and best in ("method", "system"):
        return "system"  # "a family of generative pretrained visual encoders": a model report
    if best == "method" and re.search(r"\btaxonom", phrase, re.I):
        return "study"  # "a new taxonomic approach": a way to sort other papers' methods
    if best == "method" and _THEORY_FRAME.search(phrase):
        return "study"  # "a theoretical framework explaining ...": an account of something, not a module
    if best == "method" and re.search(
        r"\b(?:evaluation|benchmarking|assessment) (?:framework|protocol|pipeline)s?\b", phrase, re.I
    ):
        return "study"  # "UniComp, a unified evaluation framework": a way to measure methods, not one
    if best == "method" and re.search(r"\bopen-?sourc", phrase, re.I):
        return "system"  # "introduces and open-sources a framework": software, not a module
    return best


def _object_after(sentence: str, end: int) -> str:
    rest = sentence[end:].lstrip()
    m = _OBJECT_END.search(rest)
    phrase = rest[: m.start()] if m else rest
    return " ".join(phrase.split()[:14])


def _object_before(sentence: str, start: int) -> str:
    words = sentence[:start].split()
    return _DISCOURSE.sub("", " ".join(words[-8:]))


def _weighted(table: dict[str, float], text: str) -> list[tuple[float, str]]:
    hits = []
    for pat, weight in table.items():
        m = re.search(pat, text, re.I)
        if m:
            hits.append((weight, m.group(0).strip().lower()))
    return hits


def read(title: str, abstract: str) -> Reading:
    abstract = strip_latex(abstract)
    sents = sentences(abstract)
    statements: list[Statement] = []
    framing: list[str] = []
    start = None
    for i, sent in enumerate(sents):
        found = False
        for m in _STATE.finditer(sent):
            passive = m.group(0).lower().startswith(("is ", "are "))
            phrase = _object_before(sent, m.start()) if passive else _object_after(sent, m.end())
            if passive and (_OTHERS.match(sent) or _OTHERS.match(phrase)):
                continue
            if not passive and _CLAIM.match(phrase):
                continue
            kind = _kind(phrase) if phrase else "unnamed"
            after = sent[m.end() + len(phrase) + 1 :]
            if kind == "method" and not passive and _FOR_STUDY.match(after):
                kind = "study"
            elif kind == "study" and _SCORE.search(phrase) and _PICKS_DATA.match(after):
                kind = "method"
            if not phrase or (kind == "method" and _GIVE.match(m.group(0).split()[-1])):
                continue  # "we release our code and models", "we provide a method to ...": not the contribution
            if _NAMING.match(m.group(0).split()[-1]) and kind != "method":
                continue  # "we term this phenomenon X": a name for a finding, not a method
            found = True
            named = _names_something(phrase) or bool(re.search(r"\b(?:called|named|termed|dubbed)\b", sent))
            statements.append(
                Statement(
                    kind=kind,
                    phrase=phrase,
                    sentence=i,
                    named=named,
                    llm_driven=bool(_LLM_DRIVEN.search(sent)),
                )
            )
        if not found and (our := _OUR_NAMED.search(sent)):
            found = True
            statements.append(Statement(kind="method", phrase=our.group(0), sentence=i, named=True))
        look = _LOOK_AT.search(sent)
        if look and _kind(phrase := _object_after(sent, look.end())) == "method":
            found = True
            statements.append(
                Statement(kind="method", phrase=phrase, sentence=i, llm_driven=bool(_LLM_DRIVEN.search(sent)))
            )
        elif f := _FRAMING.search(sent):
            found = True
            framing.append(f.group(0).lower())
        if found and start is None:
            start = i
    if start is None:
        start = 0 if len(sents) < 3 else len(sents) // 3  # no statement: the last two thirds describe the work
    contribution = " ".join(sents[start:])
    r = Reading(sentences=sents, start=start, statements=statements, framing=framing)
    r.study = _weighted(STUDY_WORDS, contribution)
    r.theory = _weighted(THEORY_WORDS, f"{title}\n{abstract}")
    r.system = _weighted(SYSTEM_WORDS, f"{title}\n{abstract}")
    r.llm_driven = sorted({m.group(0).lower() for m in _LLM_DRIVEN.finditer(f"{title}\n{contribution}")})
    if study := TITLE_STUDY.search(title):
        r.title_study = study.group(0).strip(" :").lower()
    elif explore := TITLE_EXPLORE.search(title):
        r.title_explore = explore.group(0).lower()
    if survey := TITLE_SURVEY.search(title):
        r.title_survey = survey.group(0).lower()
    head = _title_head(title)
    if head and (kind := _head_kind(head)) in ("data", "system", "study"):
        r.title_kind = (kind, head)
    return r


def _head_kind(phrase: str) -> str:
    """The kind of a noun phrase's head, its last noun: "Building Simulated Environments" names a system,
    "Direct Quantized Training" nothing we know."""
    return _kind(phrase) if _ENDS_IN_KIND.search(phrase) else ""


def _title_head(title: str) -> str:
    """What a title is about: the subtitle after "Name:", else the title, up to its first clause."""
    text = title.split(":", 1)[1] if ":" in title else title
    head = _object_after(text, 0)
    # "Direct Quantized Training of Language Models" is about training; "A Family of ... Encoders" about models.
    m = re.search(r"\s(?:of|in|on|at)\s", head, re.I)
    if m and not re.search(rf"\b{_FAMILY}$", head[: m.start()], re.I):
        head = head[: m.start()]
    return head
