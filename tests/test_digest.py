"""agent.digest on the two real Daily Papers digests (examples/) and on small fixtures (tests/data/digests/)."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import pytest

from agent.digest import DigestError, detect_format, load_inputs, normalize_title, paper_id_for, parse_file

ROOT = Path(__file__).resolve().parents[1]
DIGEST_000 = ROOT / "examples" / "daily-papers-000.txt"
DIGEST_001 = ROOT / "examples" / "daily-papers-001.txt"
DATA = Path(__file__).resolve().parent / "data" / "digests"

# Title line numbers, read off the files: entries are 8 lines apart, 4 where an entry has no author/date lines
# (000: lines 181 and 265; 001: line 269).
TITLE_LINES = {
    DIGEST_000: [*range(13, 182, 8), *range(185, 266, 8), *range(269, 390, 8)],
    DIGEST_001: [*range(13, 270, 8), *range(273, 394, 8)],
}
SLUG_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*-[0-9a-f]{8}")
MAMBA = "Mamba-FSCIL: Dynamic Adaptation with Selective State Space Model for Few-Shot Class-Incremental Learning"


def _by_title(papers):
    return {p.title: p for p in papers}


# ------------------------------------------------------------------------------------------ real digests


@pytest.mark.parametrize("path", [DIGEST_000, DIGEST_001], ids=["000", "001"])
def test_real_digest_yields_every_entry_with_its_lines(path):
    raw = path.read_text(encoding="utf-8").split("\n")
    papers = parse_file(path)
    expected_lines = TITLE_LINES[path]
    assert len(expected_lines) == 49
    assert [p.source for p in papers] == [f"{path.name}:{n}" for n in expected_lines]
    for paper, n in zip(papers, expected_lines, strict=True):
        assert paper.title == raw[n - 1]
        assert paper.abstract == raw[n + 1]  # the abstract is the line after the blank under the title
        assert len(paper.abstract) > 1000
    # no header, footer or author/date text leaked into a title
    assert not any(re.search(r"authors|Daily Papers|Get trending|^·", p.title) for p in papers)


def test_real_digest_000_spot_checks():
    papers = parse_file(DIGEST_000)
    first, last = papers[0], papers[-1]
    assert first.title == (
        "A-SDM: Accelerating Stable Diffusion through Model Assembly and Feature Inheritance Strategies"
    )
    assert first.abstract.startswith("The Stable Diffusion Model (SDM) is a prevalent and effective model")
    assert first.abstract.endswith("the feature inheritance strategy enhances the SDM generation speed by 40.0%.")
    assert (first.authors, first.date, first.upvotes) == (6, "May 31, 2024", None)
    assert first.source == "daily-papers-000.txt:13"

    assert last.title == "Enhancing Dataset Distillation via Non-Critical Region Refinement"
    assert last.abstract.startswith("Dataset distillation has become a popular method for compressing large")
    assert last.abstract.endswith("The code is available at https://github.com/tmtuan1307/NRR-DD.")
    assert (last.authors, last.date, last.upvotes) == (5, "Mar 23", None)

    by_title = _by_title(papers)
    spo = by_title[
        "Segment Policy Optimization: Effective Segment-Level Credit Assignment in RL for Large Language Models"
    ]
    assert (spo.authors, spo.date, spo.upvotes) == (5, "May 29", 2)
    hydra = by_title["Hydra: Multi-head Low-rank Adaptation for Parameter Efficient Fine-tuning"]
    assert (hydra.date, hydra.upvotes) == ("Sep 13, 2023", 2)
    anatomy = by_title["Anatomy of a Machine Learning Ecosystem: 2 Million Models on Hugging Face"]
    assert (anatomy.date, anatomy.upvotes) == ("Aug 9", 4)
    no_meta = by_title["Towards a Science of Scaling Agent Systems"]
    assert (no_meta.authors, no_meta.date, no_meta.upvotes) == (None, None, None)
    assert no_meta.source == "daily-papers-000.txt:181"
    assert sum(1 for p in papers if p.upvotes) == 9
    assert sum(1 for p in papers if p.authors is None) == 2


def test_real_digest_001_spot_checks():
    papers = parse_file(DIGEST_001)
    first, last = papers[0], papers[-1]
    assert first.title == (
        "Each Rank Could be an Expert: Single-Ranked Mixture of Experts LoRA for Multi-Task Learning"
    )
    assert first.abstract.startswith("Low-Rank Adaptation (LoRA) is widely used for adapting large language")
    assert first.abstract.endswith(
        "SMoRA activates fewer parameters yet achieves better performance in multi-task scenarios."
    )
    assert (first.authors, first.date, first.upvotes) == (10, "Jan 25", None)

    assert last.title == "Sparse Low-rank Adaptation of Pre-trained Language Models"
    assert last.abstract.startswith("Fine-tuning pre-trained large language models in a parameter-efficient")
    assert last.abstract.endswith("even with 70% retained parameters and 70% training time.")
    assert (last.authors, last.date, last.upvotes) == (7, "Nov 20, 2023", None)
    assert last.source == "daily-papers-001.txt:393"

    by_title = _by_title(papers)
    adi = by_title["Learning Disentangled Identifiers for Action-Customized Text-to-Image Generation"]
    assert (adi.authors, adi.date, adi.upvotes) == (7, "Nov 27, 2023", 2)
    assert adi.abstract.endswith("Our project page is at https://adi-t2i.github.io/ADI.")
    randlora = by_title["RandLoRA: Full-rank parameter-efficient fine-tuning of large models"]
    assert (randlora.authors, randlora.date) == (None, None)
    assert randlora.abstract.startswith("Low-Rank Adaptation (LoRA) and its variants have shown impressive results")
    assert sum(1 for p in papers if p.upvotes) == 9


def test_real_digest_with_crlf_line_endings_parses_the_same(tmp_path):
    crlf = tmp_path / "daily-papers-001.txt"
    crlf.write_bytes(DIGEST_001.read_bytes().replace(b"\n", b"\r\n"))
    assert parse_file(crlf) == parse_file(DIGEST_001)


# ------------------------------------------------------------------------------------ daily-papers edges


def test_glued_footer_titles_are_not_papers():
    path = DATA / "daily-papers-footer.txt"
    assert "Nov 20, 2023Get trending papers in your email inbox!" in path.read_text(encoding="utf-8")
    papers = parse_file(path)
    assert [p.title for p in papers] == [
        "Each Rank Could be an Expert: Single-Ranked Mixture of Experts LoRA for Multi-Task Learning",
        "RandLoRA: Full-rank parameter-efficient fine-tuning of large models",
        "Learning Disentangled Identifiers for Action-Customized Text-to-Image Generation",
        "Sparse Low-rank Adaptation of Pre-trained Language Models",
    ]
    assert [(p.date, p.upvotes) for p in papers] == [
        ("Jan 25", None),
        (None, None),
        ("Nov 27, 2023", 2),
        ("Nov 20, 2023", None),
    ]


@pytest.mark.parametrize("drop_header", [False, True], ids=["header-kept", "header-dropped"])
def test_footer_without_glued_marker_is_still_dropped(tmp_path, drop_header):
    text = (DATA / "daily-papers-footer.txt").read_text(encoding="utf-8")
    text = text.replace("2023Get trending papers in your email inbox!", "2023")
    if drop_header:  # then only the repeated titles are left to tell the footer apart
        text = text.replace("Get trending papers in your email inbox!", "")
        for line in ("Subscribe", "Daily Papers", "byAK and the research community"):
            text = text.replace(f"\n{line}\n", "\n")
        assert "Subscribe" not in text
    else:
        assert text.count("\nSubscribe\n") == 2
    bare = tmp_path / "footer-no-marker.txt"
    bare.write_text(text, encoding="utf-8")
    assert [p.title for p in parse_file(bare)] == [p.title for p in parse_file(DATA / "daily-papers-footer.txt")]


def test_hard_wrapped_abstract_becomes_one_paragraph(tmp_path):
    abstract = parse_file(DIGEST_001)[0].abstract
    wrapped = "\n".join(re.findall(r".{1,79}(?:\s|$)", abstract))
    assert wrapped.count("\n") > 10
    path = tmp_path / "wrapped.txt"
    path.write_text(f"Daily Papers\n\nSMoRA\n\n{wrapped}\n\n  • 10 authors\n·\nJan 25\n", encoding="utf-8")
    [paper] = parse_file(path)
    assert paper.abstract == abstract
    assert (paper.title, paper.authors) == ("SMoRA", 10)


# ------------------------------------------------------------------------------------- other formats


def test_hf_json_payload():
    papers = parse_file(DATA / "hf-daily-papers.json")
    assert [p.paper_id for p in papers] == ["2106.09685", "2401.04088", "2210.07558"]
    lora = papers[0]
    assert lora.title == "LoRA: Low-Rank Adaptation of Large Language Models"
    assert lora.url == "https://arxiv.org/abs/2106.09685"
    assert (lora.authors, lora.date, lora.upvotes) == (8, "2021-06-17", 12)
    assert "becomes less feasible. We propose Low-Rank Adaptation" in lora.abstract  # "\n" joined with a space
    assert lora.source == "hf-daily-papers.json:2"
    assert papers[1].source == "hf-daily-papers.json:26"  # the line of its opening brace


def test_hf_json_accepts_bare_paper_objects(tmp_path):
    payload = json.loads((DATA / "hf-daily-papers.json").read_text(encoding="utf-8"))
    bare = tmp_path / "papers.json"
    bare.write_text(json.dumps([item["paper"] for item in payload]), encoding="utf-8")
    papers = parse_file(bare)
    assert [p.model_dump(exclude={"source"}) for p in papers] == [
        p.model_dump(exclude={"source"}) for p in parse_file(DATA / "hf-daily-papers.json")
    ]
    assert [p.source for p in papers] == ["papers.json:1"] * 3  # one line of JSON


def test_arxiv_atom_feed():
    papers = parse_file(DATA / "arxiv-query.atom")
    assert [p.paper_id for p in papers] == ["1706.03762", "1512.03385", "1412.6980"]
    attention, resnet, adam = papers
    assert attention.url == "https://arxiv.org/abs/1706.03762"  # version suffix gone
    assert attention.title == "Attention Is All You Need"
    assert attention.abstract == (
        "The dominant sequence transduction models are based on complex recurrent or convolutional neural "
        "networks in an encoder-decoder configuration. We propose a new simple network architecture, the "
        "Transformer, based solely on attention mechanisms, dispensing with recurrence and convolutions entirely."
    )
    assert (attention.authors, attention.date) == (3, "2017-06-12")
    assert resnet.title == "Deep Residual Learning for Image Recognition"  # wrapped title collapsed
    assert adam.source == "arxiv-query.atom:54"  # the line of its <entry>


def test_jsonl():
    papers = parse_file(DATA / "papers.jsonl")
    qlora, focal, adamw = papers
    assert qlora.paper_id == "2305.14314"  # from a pdf url with a version suffix
    assert qlora.url == "https://arxiv.org/pdf/2305.14314v1"
    assert SLUG_ID.fullmatch(focal.paper_id) and focal.paper_id.startswith("focal-loss-for-dense-object-detection-")
    assert focal.url.startswith("https://openaccess.thecvf.com/")
    assert adamw.title == "Decoupled Weight Decay Regularization"
    assert [p.source for p in papers] == ["papers.jsonl:1", "papers.jsonl:3", "papers.jsonl:4"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("hf-daily-papers.json", "hf-json"),
        ("arxiv-query.atom", "arxiv-atom"),
        ("papers.jsonl", "jsonl"),
        ("daily-papers-footer.txt", "daily-papers"),
        ("garbage.txt", "daily-papers"),
    ],
)
def test_detect_format(name, expected):
    path = DATA / name
    assert detect_format(path, path.read_text(encoding="utf-8")) == expected


def test_detect_format_reads_content_not_extension(tmp_path):
    disguised = tmp_path / "digest.txt"
    disguised.write_text((DATA / "papers.jsonl").read_text(encoding="utf-8"), encoding="utf-8")
    assert detect_format(disguised, disguised.read_text(encoding="utf-8")) == "jsonl"
    assert [p.title for p in parse_file(disguised)] == [p.title for p in parse_file(DATA / "papers.jsonl")]
    assert detect_format(DIGEST_000, DIGEST_000.read_text(encoding="utf-8")) == "daily-papers"


# ------------------------------------------------------------------------------------------------- ids


def test_paper_id_for():
    assert paper_id_for("Attention Is All You Need", None) == "attention-is-all-you-need-4a1c934d"
    assert paper_id_for("  attention is ALL you need! ", None) == "attention-is-all-you-need-4a1c934d"
    assert paper_id_for("Attention Is All You Need", "2412.01234v2") == "2412.01234"
    assert paper_id_for("Old", "hep-th/9901001v3") == "hep-th/9901001"
    assert paper_id_for("Attention Is All You Need", "not an id") == "attention-is-all-you-need-4a1c934d"
    assert paper_id_for("Über Ähnlichkeit", None).startswith("uber-ahnlichkeit-")
    assert SLUG_ID.fullmatch(paper_id_for("几何", None)) and paper_id_for("几何", None).startswith("paper-")
    assert paper_id_for("几何", None) != paper_id_for("代数", None)


def test_real_digest_ids_are_stable_short_and_unique():
    papers = parse_file(DIGEST_000) + parse_file(DIGEST_001)
    assert len(papers) == 98
    for paper in papers:
        assert SLUG_ID.fullmatch(paper.paper_id), paper.paper_id
        assert len(paper.paper_id) <= 48 + 9
        assert paper.paper_id == paper_id_for(paper.title, None)
    assert papers[0].paper_id == "a-sdm-accelerating-stable-diffusion-through-08f48f27"
    # 97 distinct ids: the one shared id is the one paper listed in both digests
    ids = [p.paper_id for p in papers]
    assert len(set(ids)) == 97
    shared = {p.title for p in papers if ids.count(p.paper_id) > 1}
    assert shared == {MAMBA}


def test_normalize_title():
    assert normalize_title("  DyLoRA:  Parameter-Efficient\tTuning ") == "dylora parameter efficient tuning"
    assert normalize_title("Focal_Loss (ICCV)") == "focal loss iccv"


# ----------------------------------------------------------------------------------------- de-duplication


def test_same_digest_twice_is_loaded_once():
    papers = load_inputs([DIGEST_000, DIGEST_000])
    assert len(papers) == 49
    assert papers == parse_file(DIGEST_000)


def test_paper_in_both_real_digests_is_kept_once_first_occurrence():
    papers = load_inputs([DIGEST_000, DIGEST_001])
    assert len(papers) == 97
    [mamba] = [p for p in papers if p.title == MAMBA]
    assert mamba.source == "daily-papers-000.txt:165"
    assert papers[49].source == "daily-papers-001.txt:13"  # 001 continues straight after 000's 49


def test_hf_json_duplicate_of_daily_papers_title_is_dropped():
    dylora = "DyLoRA: Parameter Efficient Tuning of Pre-trained Models using Dynamic Search-Free Low-Rank Adaptation"
    papers = load_inputs([DIGEST_001, DATA / "hf-daily-papers.json"])
    assert len(papers) == 51
    [kept] = [p for p in papers if p.title == dylora]
    assert kept.source == "daily-papers-001.txt:109"
    assert [p.paper_id for p in papers[49:]] == ["2106.09685", "2401.04088"]

    reverse = load_inputs([DATA / "hf-daily-papers.json", DIGEST_001])
    assert len(reverse) == 51
    assert [p.paper_id for p in reverse if p.title == dylora] == ["2210.07558"]


def test_dedup_by_arxiv_id_and_by_title(tmp_path):
    path = tmp_path / "dups.jsonl"
    rows = [
        {"title": "Mixtral of Experts", "abstract": "Sparse mixture.", "url": "https://arxiv.org/abs/2401.04088v1"},
        {"title": "Mixtral 8x7B", "abstract": "Same arXiv id, other title.", "url": "https://arxiv.org/abs/2401.04088"},
        {"title": "MIXTRAL of experts!", "abstract": "Same title, no id."},
        {"title": "Focal Loss", "abstract": "First.", "url": "https://arxiv.org/abs/1708.02002"},
        {
            "title": "Focal loss",
            "abstract": "Same title, a different arXiv id: another paper.",
            "url": "https://arxiv.org/abs/2001.00001",
        },
        {"title": "Distinct", "abstract": "No id."},
        {"title": "distinct.", "abstract": "Same title, no id."},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assert len(parse_file(path)) == 7  # parse_file keeps everything; load_inputs de-duplicates
    papers = load_inputs([path])
    assert [(p.title, p.source) for p in papers] == [
        ("Mixtral of Experts", "dups.jsonl:1"),
        ("Focal Loss", "dups.jsonl:4"),
        ("Focal loss", "dups.jsonl:5"),
        ("Distinct", "dups.jsonl:6"),
    ]


def test_dropped_duplicate_arxiv_id_still_counts(tmp_path):
    # A (no id) == B (id X) by title; C (id X, another title) is B again, so C is dropped too.
    first = tmp_path / "a.jsonl"
    first.write_text(json.dumps({"title": "Mixtral of Experts", "abstract": "A."}), encoding="utf-8")
    papers = load_inputs([first, DATA / "hf-daily-papers.json", DATA / "hf-daily-papers.json"])
    assert [p.title for p in papers] == [
        "Mixtral of Experts",
        "LoRA: Low-Rank Adaptation of Large Language Models",
        "DyLoRA: Parameter Efficient Tuning of Pre-trained Models using Dynamic Search-Free Low-Rank Adaptation",
    ]
    second = tmp_path / "c.jsonl"
    second.write_text(
        json.dumps({"title": "Mixtral 8x7B", "abstract": "C.", "url": "https://arxiv.org/abs/2401.04088"}),
        encoding="utf-8",
    )
    assert len(load_inputs([first, DATA / "hf-daily-papers.json", second])) == 3


# ------------------------------------------------------------------------------------------------ errors


def _error(path) -> DigestError:
    with pytest.raises(DigestError) as info:
        parse_file(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    return info.value


@pytest.mark.parametrize(
    ("name", "line", "words"),
    [
        ("empty.txt", None, "empty file"),
        ("bad-line.jsonl", 3, "not valid JSON (Expecting ',' delimiter)"),
        ("missing-abstract.jsonl", 2, "has no abstract"),
        ("doctype-entity.atom", 2, "DOCTYPE/ENTITY declarations are not allowed"),
        ("garbage.txt", None, "no recognizable entries"),
        ("daily-papers-no-abstract.txt", 15, "'Focal Loss for Dense Object Detection' has no abstract"),
    ],
)
def test_malformed_fixture_raises_a_one_line_error_naming_file_and_line(name, line, words):
    error = _error(DATA / name)
    assert error.path == str(DATA / name)
    assert error.line == line
    assert words in str(error)
    prefix = f"{DATA / name}:{line}: " if line else f"{DATA / name}: "
    assert str(error).startswith(prefix)


def test_missing_path_directory_and_non_utf8(tmp_path):
    assert "no such file" in str(_error(tmp_path / "nope.txt"))
    assert "is a directory" in str(_error(tmp_path))
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Daily Papers\n\nÜber Attention\n\nabc\n".encode("latin-1"))
    error = _error(latin1)
    assert "not UTF-8" in str(error) and error.line == 3


@pytest.mark.parametrize(
    ("content", "line", "words"),
    [
        ('[{"paper": {"id": "2401.04088", "title": "Mixtral"}}]', 1, "entry 1 'Mixtral' has no abstract"),
        ('[\n  {"title": "x", "summary": "y"},\n  {"title": 3, "summary": "y"}\n]', 3, "'title' must be a string"),
        ('[\n  {"title": "x",\n}\n]', 3, "not valid JSON"),
        ('{"papers": []}\n', 1, "entry has no title"),
        ("<feed xmlns='http://www.w3.org/2005/Atom'>\n<entry><title>x</title>\n</feed>", 3, "not valid XML"),
        ("<feed xmlns='http://www.w3.org/2005/Atom'></feed>", None, "no paper entries"),
        ("<!DOCTYPE html>\n<html><body>Daily Papers</body></html>", 1, "is an HTML page"),
        (
            "<feed xmlns='http://www.w3.org/2005/Atom'>\n<entry><id>http://arxiv.org/api/errors#bad_id</id>"
            "<title>Error</title><summary>incorrect id format for 1234</summary></entry></feed>",
            2,
            "arXiv API error: incorrect id format for 1234",
        ),
    ],
)
def test_malformed_content_raises(tmp_path, content, line, words):
    path = tmp_path / "input.data"
    path.write_text(content, encoding="utf-8")
    error = _error(path)
    assert error.line == line
    assert words in str(error)


def test_load_inputs_stops_at_the_first_bad_input():
    with pytest.raises(DigestError) as info:
        load_inputs([DIGEST_000, DATA / "bad-line.jsonl"])
    assert info.value.path.endswith("bad-line.jsonl")


def test_digest_error_pickles():
    error = DigestError("digest.jsonl", "not valid JSON", 7)
    again = pickle.loads(pickle.dumps(error))
    assert (str(again), again.path, again.line) == ("digest.jsonl:7: not valid JSON", "digest.jsonl", 7)
    assert isinstance(again, ValueError)
