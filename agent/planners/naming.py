"""Python identifiers from a method's name: what every planner's module and class names go through."""

from __future__ import annotations

import keyword
import re
import unicodedata

# Module names that would shadow what generated packages and their tests import.
RESERVED_MODULES = {"torch", "test", "math", "typing", "papers", "conftest"}


def class_identifier(name: str) -> str:
    parts = re.split(r"[^A-Za-z0-9]+", name)
    ident = "".join(p[:1].upper() + p[1:] for p in parts if p)
    if not ident or ident[0].isdigit():
        ident = "M" + ident
    return ident


def module_identifier(name: str) -> str:
    snake = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "method"
    if snake[0].isdigit():
        snake = "m_" + snake
    if keyword.iskeyword(snake) or snake in RESERVED_MODULES:
        snake += "_method"
    return snake


_LATEX_WRAP = re.compile(
    r"\\(?:textsc|textbf|textit|texttt|emph|mathrm|mathbf|mathsf|mathtt|mathcal|text|operatorname)(?![A-Za-z])\s*"
)


def clean_name(raw: str) -> str:
    """A method's name as written in an abstract, without LaTeX markup or decorative unicode.

    `\\textsc{Foo}`, `$\\mathrm{Foo}$`, `\\emph{Foo}` -> `Foo`; `Li_2` -> `Li2`; `Mamba²` -> `Mamba2`; quotes,
    stray braces and letters with accents are cleaned, so the name can become an identifier.
    """
    text = unicodedata.normalize("NFKC", raw)
    text = _LATEX_WRAP.sub("", text)
    text = re.sub(r"\\[A-Za-z]+\s*", "", text)  # any other command
    text = re.sub(r"[{}$`'\"‘’“”]", "", text)
    text = re.sub(r"(?<=[A-Za-z0-9])[_^](?=[A-Za-z0-9])", "", text)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = re.sub(r"(?:[^A-Za-z0-9+\-. ]|(?<!\d)\.|\.(?!\d))+", " ", text)  # "b1.58" keeps its point
    return " ".join(text.split()).strip(" -")


def is_expansion(short: str, long: str) -> bool:
    """Whether `long` spells out `short`: same first letter, and short's letters appear in order in long."""
    s = re.sub(r"[^a-z0-9]", "", short.lower())
    if sum(c.isalpha() for c in s) >= 2:
        s = re.sub(r"[0-9]", "", s)  # "S4D" spells out "Static-for-Dynamic"
    words = re.findall(r"[A-Za-z0-9]+", long)
    if len(s) < 2 or len(words) < 2 or not s or s[0] != words[0][0].lower():
        return False
    letters = iter("".join(words).lower())
    return all(ch in letters for ch in s)


# ------------------------------------------------------------------ the paper's own name for its method

# Acronyms of established methods, models and settings: never the paper's own name.
COMMON_ACRONYMS = set(
    """AI LLM LLMS VLM VLMS MLLM MLLMS LMM LMMS LM LMS NLP CV RL SFT RLHF DPO PPO GRPO KD MOE MOES LORA PEFT CNN CNNS
    RNN RNNS LSTM GAN GANS VAE VIT VITS SOTA GPU GPUS CPU TPU API CL T2I I2I T2V SSL QAT PTQ MLP MLPS CTR IR KL FLOPS
    CLIP BERT GPT DFT RWR SSM SSMS SDM DA UDA DG TTA FL DNN DNNS NAS OOD ID IID SGD ADAM ADAMW MSE CE ML DL QA VQA
    ASR TTS OCR RAG KV MHA FFN GNN GNNS JE-SSL COT TOT MCTS MTL UNET U-NET SVD PCA MDP POMDP""".split()  # noqa: SIM905 (a word list reads better)
)
_ROMAN = re.compile(r"^(?:I{1,3}|IV|VI{0,3}|IX|X{1,3})$")
# A token that reads as a name: internal capitals or digits (SMoRA, TinyCLIP, A-SDM, o1), or an all-caps acronym.
_NAME = r"(?:[A-Z][a-z]*[A-Z0-9][\w+-]*|[a-z]+[A-Z][\w+-]*|[A-Z]{2,}[\w+-]*|[A-Z][\w]*-[\w+-]+)"
_WORD = r"[A-Z][\w+-]*"  # a capitalised word ("Hydra", "Bonsai"): a name only where the text says so
_VERB = (
    r"\b(?:we|this (?:paper|work|study)|our (?:work|paper))\s+(?:(?:first|further|also|then|here|thus|now|\w+ly)\s+)*"
    r"(?:propose|introduce|present|design|develop|devise|build|construct|formulate|put forward|establish|offer"
    r"|contribute|call|term|name|dub|coin)s?\b"
    r"|\bwe\b[^.;]{0,160}?\b(?:to|and) (?:propose|introduce|present|design|develop|devise)\b"
)
_STATEMENT = re.compile(
    _VERB + r"|\b(?:called|named|termed|dubbed|coined|referred to as)\b|\b(?:the|our) proposed\b"
    r"|\bour (?:new |novel |proposed )?(?:method|approach|algorithm|framework|model|system|technique)\b",
    re.I,
)
_VERSION = r"(?:\s+v?\d[\d.]*\d|\s+v?\d|\s+[a-z]\d[\d.]*\d)"  # "BitNet b1.58", "Foo v2"
_CALLED = re.compile(
    rf"\b(?:called|named|namely|termed|dubbed|coined|referred to as|abbreviated)\s+(?:the\s+|as\s+)?"
    rf"((?:{_WORD})(?:\s+{_WORD}){{0,3}}{_VERSION}?)"
)
_END = r"(?![\w+-])"  # a whole token: no backing off into "Static-for" from "Static-for-Dynamic"
_APPOSITION = re.compile(
    rf"^\s*(?:the\s+)?({_NAME}{_END}|{_WORD}(?:\s+{_WORD}){{0,4}}{_END})(?:\s*\([^()]*\))?,\s+(?:a|an|the)\b"
)
_AFTER_VERB = re.compile(rf"^\s*({_NAME}){_END}(?!\s*\(|\s+[A-Z])")
# "we propose Joint Flashback Adaptation.": capitalised words right after the verb, a name when the title has them
_WORDS_AFTER_VERB = re.compile(
    rf"^\s*({_WORD}(?:\s+{_WORD}){{1,4}}){_END}(?=\s*(?:[.,;(]|$)|\s+(?:for|to|that|which)\b)"
)
_OUR = re.compile(
    rf"\b(?i:our) (?i:(?:proposed |new |novel )?(?:method|approach|algorithm|framework|model|system|technique"
    rf"|architecture|loss|module|layer|optimizer)),\s+((?:{_WORD}\s+)?{_NAME}{_END}|{_WORD}{_END})"
)
# "This work, Dynamic Subspace Learners, proposes ...": the name as an apposition to the subject.
_THIS_WORK = re.compile(
    rf"\b(?i:this (?:work|paper)),\s+((?:{_WORD}\s+){{0,4}}{_WORD}),\s+(?i:propos|introduc|present)"
)
_AFTER_KIND = re.compile(
    rf"\b(?:method|approach|framework|algorithm|model|module|loss|strategy|technique|architecture|network|optimizer"
    rf"|adapter|layer|mechanism|scheme|objective|regularizer),?\s+({_NAME})\b"
)
_PASSIVE = re.compile(
    rf"\b((?:{_WORD}\s+){{1,5}}{_WORD})\s+(?:(?:framework|method|approach|module|algorithm|strategy)\s+)?is\s+proposed\b"
)
_PAREN = re.compile(r"\(([^()]{2,80})\)")
_PRIOR_WORK = re.compile(
    r"\b(?:works? on|stud(?:y|ies) on|such as|e\.g\.|like|following|inspired by|drawing (?:on|from)|seminal|existing"
    r"|previous|prior|recent|popular|standard|vanilla|conventional)\b[^.;]*$",
    re.I,
)
_LATEX_GROUP = re.compile(r"\$?\\(?:textsc|textbf|textit|texttt|emph|mathrm|mathbf|mathsf|mathtt|text)\{([^{}]*)\}\$?")


def strip_latex(text: str) -> str:
    """`$\\mathtt{CLD}$` -> `CLD`: a name set in LaTeX reads as the name."""
    return _LATEX_GROUP.sub(lambda m: m.group(1), text)


_FUNCTION_WORDS = {"on", "towards", "toward", "from", "beyond", "when", "where", "why", "how", "what", "the", "a", "an"}
_GENERIC_WORDS = {"we", "this", "the", "our", "in", "a", "an", "it", "to", "these", "its", "specifically", "first"}


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _acceptable(name: str, title_head: str | None = None) -> bool:
    key = name.upper()
    if key in COMMON_ACRONYMS or _ROMAN.match(name) or name.lower() in _GENERIC_WORDS or len(name) < 2:
        return False
    if name.isupper() and len(name) < 3 and (title_head or "").upper() != key:
        return False  # "IS", "SP": too short to be sure it is the method's own name
    return not re.fullmatch(r"[\d.+-]+", name)


def _paren_names(region: str) -> list[tuple[int, str, str]]:
    """'Description (ACRONYM)' -> ACRONYM, and 'Name (Expansion Of The Name)' -> Name."""
    found = []
    for m in _PAREN.finditer(region):
        if _PRIOR_WORK.search(region[max(0, m.start() - 90) : m.start()]):
            continue  # "drawing from the work on Self-Expanding Networks (SENN)": someone else's method
        inner = clean_name(m.group(1))
        before = re.findall(r"[A-Za-z0-9+]+", region[: m.start()])  # "token-Adaptive": two words
        if re.fullmatch(r"[\w+-]+", inner):  # an acronym after its description
            for n in range(1, min(len(before), len(inner) + 4) + 1):
                if is_expansion(inner, " ".join(before[-n:])):
                    found.append((m.start(), inner, " ".join(before[-n:])))
                    break
        elif before and len(inner.split()) >= 2 and is_expansion(before[-1], inner):
            found.append((m.start(), clean_name(before[-1]), inner))  # a name followed by its expansion
    return found


def abstract_names(abstract: str, title_head: str | None = None, title: str = "") -> list[tuple[str, str | None, str]]:
    """Names the abstract gives its own method, first first: (name, expansion or None, the words that said so)."""
    text = strip_latex(abstract)
    text = re.sub(r"\$([^$]{1,30})\$", lambda m: clean_name(m.group(1)), text)
    text = re.sub(r"[`‘’“”\"]|(?<=\w)'(?=[\s,.;:)])", "", text)  # quotes around a name
    found: list[tuple[int, str, str | None, str]] = []
    for st in _STATEMENT.finditer(text):
        end = text.find(". ", st.end())
        region = text[st.end() : end if end != -1 else len(text)][:300]
        base = st.end()
        by_verb = bool(re.search(_VERB, st.group(0), re.I))  # "we propose ...", not "called" or "our method"
        for pos, name, expansion in _paren_names(region):
            found.append((base + pos, name, expansion, region[max(0, pos - 50) : pos + len(name) + 2]))
        for rx in (_CALLED, _APPOSITION, _AFTER_VERB, _AFTER_KIND):
            target = text[st.start() : base + len(region)] if rx is _CALLED else region
            offset = st.start() if rx is _CALLED else base
            if rx is _AFTER_VERB and not by_verb:
                continue
            for m in rx.finditer(target):
                found.append((offset + m.start(1), clean_name(m.group(1)), None, m.group(0).strip()))
                if rx is not _AFTER_KIND:
                    break
        words_run = _WORDS_AFTER_VERB.match(region) if by_verb else None
        if words_run and _key(words_run.group(1)) in _key(title):
            found.append((base + words_run.start(1), clean_name(words_run.group(1)), None, words_run.group(0).strip()))
    for rx in (_OUR, _PASSIVE, _THIS_WORK):
        for m in rx.finditer(text):
            found.append((m.start(1), clean_name(m.group(1)), None, m.group(0).strip()))
    acronyms = [f for f in found if f[2] and _acceptable(f[1], title_head)]  # names with their expansion
    spelled = [_key(f[2]) for f in acronyms if f[2]]
    # "we propose LLM-oriented token-Adaptive Knowledge Distillation (AdaKD)": a name met inside the description
    # that an acronym in parentheses closes is part of that description.
    inside = [
        f
        for f in found
        if not f[2] and any(0 < a[0] - f[0] < 100 and not re.search("[,;.]", text[f[0] : a[0]]) for a in acronyms)
    ]
    found = [f for f in found if f not in inside]
    out: list[tuple[str, str | None, str]] = []
    seen: set[str] = set()
    for _, name, spelled_out, words in sorted(found, key=lambda f: f[0]):
        key = _key(name)
        if key in seen or not _acceptable(name, title_head):
            continue
        if spelled_out is None and any(e.startswith(key) for e in spelled):
            continue  # a description (or its first words) whose acronym follows: the acronym is the name
        seen.add(key)
        out.append((name, spelled_out, words))
    return out


_TITLE_LEAD = re.compile(r":|\s(?:for|via|with|in|on|of|through|towards|to|using|by|from|and)\s", re.I)


def title_name(title: str) -> str | None:
    """The name before a title's colon when it reads as a name ("DyLoRA: ...", "Segment Policy Optimization: ...")."""
    if ":" not in title:
        return None
    head = clean_name(title.split(":")[0])
    words = head.split()
    if not 1 <= len(words) <= 3 or len(head) > 30 or not _acceptable(head) or "," in title.split(":")[0]:
        return None
    if len(words) > 1 and not all(w[:1].isupper() or w.lower() in {"of", "for", "and", "as"} for w in words):
        return None
    if len(words) > 1 and words[0].lower() in _FUNCTION_WORDS:
        return None  # "On Giant's Shoulders", "Towards Robust X": a phrase, not a name
    return head


def paper_method_name(title: str, abstract: str) -> tuple[str | None, str]:
    """The paper's own name for its method, and where it was found; None when it gives none.

    The title's "Name:" wins when the abstract uses it (or spells it out) or is a single word; an abstract's
    acronym beats its own expansion in the title ("Segment Policy Optimization: ..." with "(SPO)" -> SPO);
    otherwise the first name the abstract gives in a statement of its contribution, then an acronym the
    abstract gives for the title's lead words, then the title's name before its colon.
    """
    head = title_name(title)
    names = abstract_names(abstract, head, title)
    if head:
        key = _key(head)
        for name, expansion, words in names:
            if key in {_key(name), _key(expansion or "")}:
                return name, f"abstract: '{words[-80:]}'"
        if len(head.split()) == 1:
            return head, f"title: '{head}:'"
    if names:
        name, _, words = names[0]
        return name, f"abstract: '{words[-80:]}'"
    lead = _key(_TITLE_LEAD.split(title, maxsplit=1)[0])
    for _, name, expansion in _paren_names(abstract):
        if len(lead) > 8 and _key(expansion) == lead and _acceptable(name, head):
            return name, f"abstract: '{expansion} ({name})', the title's lead words"
    if head:
        return head, f"title: '{head}:'"
    return None, "family default"
