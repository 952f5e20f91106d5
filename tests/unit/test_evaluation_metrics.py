"""Retrieval metrics and the question-file reader, without any search."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.evaluation import Question, average, load_questions, score_ranking

GOLD = frozenset({"g"})


def test_gold_at_rank_three() -> None:
    assert score_ranking(["a", "b", "g", "c"], GOLD, k=10) == {
        "recall@1": 0.0,
        "recall@5": 1.0,
        "recall@10": 1.0,
        "mrr@10": pytest.approx(1 / 3),
    }


def test_gold_first() -> None:
    assert score_ranking(["g", "a"], GOLD, k=10) == {"recall@1": 1.0, "recall@5": 1.0, "recall@10": 1.0, "mrr@10": 1.0}


def test_gold_between_five_and_ten() -> None:
    ranked = ["a", "b", "c", "d", "e", "f", "g"]
    assert score_ranking(ranked, GOLD, k=10) == {
        "recall@1": 0.0,
        "recall@5": 0.0,
        "recall@10": 1.0,
        "mrr@10": pytest.approx(1 / 7),
    }


def test_multiple_gold_documents_give_fractional_recall() -> None:
    gold = frozenset({"g1", "g2", "g3"})
    ranked = ["x1", "g2", "x2", "x3", "x4", "x5", "g1", "x6"]
    scores = score_ranking(ranked, gold, k=10)
    assert scores == {
        "recall@1": 0.0,
        "recall@5": pytest.approx(1 / 3),
        "recall@10": pytest.approx(2 / 3),
        "mrr@10": 0.5,
    }


def test_gold_absent_scores_zero() -> None:
    assert score_ranking(["a", "b", "c"], GOLD, k=10) == {
        "recall@1": 0.0,
        "recall@5": 0.0,
        "recall@10": 0.0,
        "mrr@10": 0.0,
    }
    assert score_ranking([], GOLD, k=10)["mrr@10"] == 0.0


def test_gold_beyond_k_does_not_count() -> None:
    ranked = [f"x{i}" for i in range(10)] + ["g"]
    assert score_ranking(ranked, GOLD, k=10) == {"recall@1": 0.0, "recall@5": 0.0, "recall@10": 0.0, "mrr@10": 0.0}


def test_duplicate_hits_do_not_inflate_recall() -> None:
    scores = score_ranking(["g", "g", "g"], frozenset({"g", "h"}), k=10)
    assert scores["recall@5"] == 0.5


def test_other_k_adds_its_own_recall_and_mrr_keys() -> None:
    ranked = [f"x{i}" for i in range(14)] + ["g"]
    scores = score_ranking(ranked, GOLD, k=20)
    assert set(scores) == {"recall@1", "recall@5", "recall@10", "recall@20", "mrr@20"}
    assert scores["recall@10"] == 0.0
    assert scores["recall@20"] == 1.0
    assert scores["mrr@20"] == pytest.approx(1 / 15)


def test_average_rounds_to_four_places() -> None:
    rows = [{"recall@1": 1 / 3, "mrr@10": 1.0}, {"recall@1": 0.0, "mrr@10": 1 / 3}, {"recall@1": 1.0, "mrr@10": 0.0}]
    assert average(rows) == {"recall@1": 0.4444, "mrr@10": 0.4444}
    assert average([{"a": 2 / 3}]) == {"a": 0.6667}


# --- load_questions -------------------------------------------------------------------------------------


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "questions.jsonl"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_questions_reads_jsonl_and_skips_blank_lines(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        '{"question": "How do refunds work?", "gold_doc_ids": ["refunds", 42]}\n'
        "\n   \n"
        '{"question": "Shipping?", "gold_doc_ids": ["shipping"], "extra": true}\n',
    )
    assert load_questions(path) == [
        Question("How do refunds work?", frozenset({"refunds", "42"})),
        Question("Shipping?", frozenset({"shipping"})),
    ]


@pytest.mark.parametrize(
    ("bad_line", "detail"),
    [
        ("{not json", "Expecting property name"),
        ('{"question": "q"}', "'gold_doc_ids'"),
        ('{"gold_doc_ids": ["a"]}', "'question'"),
        ('["question", "gold_doc_ids"]', "list indices"),
        ('{"question": "q", "gold_doc_ids": 5}', "non-empty list"),
    ],
)
def test_bad_line_is_named_by_file_and_line(tmp_path: Path, bad_line: str, detail: str) -> None:
    path = _file(tmp_path, '{"question": "ok", "gold_doc_ids": ["a"]}\n\n' + bad_line + "\n")
    with pytest.raises(ValueError, match="expected") as caught:
        load_questions(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:3: ")
    assert detail in message


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_file_is_an_error_naming_the_file(tmp_path: Path, text: str) -> None:
    path = _file(tmp_path, text)
    with pytest.raises(ValueError, match="holds no questions") as caught:
        load_questions(path)
    assert str(path) in str(caught.value)


def test_gold_doc_ids_as_a_string_is_rejected(tmp_path: Path) -> None:
    path = _file(tmp_path, '{"question": "q", "gold_doc_ids": "refunds"}\n')
    with pytest.raises(ValueError, match=r":1: "):
        load_questions(path)


def test_question_without_gold_documents_is_rejected(tmp_path: Path) -> None:
    path = _file(tmp_path, '{"question": "q", "gold_doc_ids": []}\n')
    with pytest.raises(ValueError, match=r":1: "):
        load_questions(path)
