"""Each step's compile metric on hand-made cases, and the data the metrics score."""

import dspy
import pytest

from codeclm_dspy.engine.runtime import Runtime
from codeclm_dspy.pipeline.program import CodecLM
from optimizers import batch_diversity, encode_format, judge_agreement
from optimizers.examples import REFUSAL, degrade, judge_examples, load_records, split_records
from optimizers.metrics import decode_metric, encode_metric, improve_metric, judge_metric
from optimizers.students import step_predictor
from tests.compile_helpers import bag_of_words, write_seeds

SEED = "How do I cook dish number 3 at home tonight?"


def test_encode_format_scores_each_rule():
    assert encode_format("cooking help", ["home cooking", "meal planning"]) == (1.0, [])
    score, problems = encode_format(
        "cooking help", ["cooking", "meal planning", "knife work", "timing skills"]
    )
    assert score == pytest.approx((1 + 0 + 3 / 4) / 3)  # four skills, one of them a single word
    assert any("one to 3 skills" in p for p in problems) and any("'cooking'" in p for p in problems)
    assert encode_format("", [])[0] == 0.0


def test_encode_round_trip_rewards_metadata_that_decodes_back_to_the_seed(script, lms):
    rt = Runtime(lms)
    script.handlers["decode"] = lambda role, i, p: {
        "new_instructions": [SEED if "cook" in i["use_case"] else "Compose limericks regarding taxes"]
    }
    metric = encode_metric(rt, bag_of_words, step_predictor(CodecLM(), "decode"))
    gold = dspy.Example(instruction=SEED)
    close = metric.assess(gold, dspy.Prediction(use_case="cooking help", skills=["home cooking"]))
    far = metric.assess(gold, dspy.Prediction(use_case="poetry", skills=["rhyme schemes"]))
    assert close.score == pytest.approx(1.0) and close.parts["round_trip"] == pytest.approx(1.0)
    assert far.parts["round_trip"] == 0.0 and far.score == pytest.approx(0.5)
    assert "far from the original" in far.feedback
    assert metric(gold, dspy.Prediction(use_case="cooking help", skills=["home cooking"])) == close.score


def test_batch_diversity_is_one_minus_mean_pairwise_cosine():
    same = bag_of_words(["cook rice", "cook rice", "cook rice"])
    apart = bag_of_words(["cook rice", "fix bikes", "write poems"])
    assert batch_diversity(same) == pytest.approx(0.0, abs=1e-6)
    assert batch_diversity(apart) == pytest.approx(1.0)
    assert batch_diversity(apart[:1]) == 0.0


def test_decode_metric_weighs_adherence_and_diversity(script, lms):
    rt = Runtime(lms)
    script.handlers["adherence"] = lambda role, i, p: {
        "fits_use_case": "cook" in i["instruction"],
        "uses_skills": "cook" in i["instruction"],
    }
    metric = decode_metric(rt, bag_of_words)
    gold = dspy.Example(use_case="cooking help", skills=["home cooking"], count=2)
    varied = metric.assess(gold, dspy.Prediction(instructions=["cook rice tonight", "cook a stew slowly"]))
    off = metric.assess(gold, dspy.Prediction(instructions=["cook rice tonight", "fix my bike chain"]))
    short = metric.assess(gold, dspy.Prediction(instructions=["cook rice tonight"]))
    assert varied.parts["adherence"] == 1.0 and 0 < varied.parts["diversity"] < 1
    assert off.parts["adherence"] == 0.5 and "strays" in off.feedback
    assert short.score == pytest.approx(0.25) and "asked for 2" in short.feedback  # 1 of 2 fits, no diversity


def test_improve_metric_wants_harder_on_the_same_topic(script, lms):
    rt = Runtime(lms)
    script.handlers["difficulty"] = lambda role, i, p: {
        "harder": True,
        "same_use_case": True,
        "same_skills": False,
    }
    metric = improve_metric(rt)
    gold = dspy.Example(instruction=SEED, use_case="cooking help", skills=["home cooking"])
    assert metric.assess(gold, dspy.Prediction(improved_instruction=SEED)).score == 0.0  # unchanged
    judged = metric.assess(gold, dspy.Prediction(improved_instruction=SEED + " With a budget of 5 euros."))
    assert judged.score == 0.75 and "not same skills" in judged.feedback
    assert len(script.steps("difficulty")) == 1


@pytest.mark.parametrize(
    ("reference_first", "degraded_first", "score", "consistent"),
    [
        ((8, 3), (3, 8), 1.0, True),
        ((5, 6), (5, 6), 0.5, False),
        ((3, 8), (8, 3), 0.0, True),
        ((5, 5), (6, 5), 0.0, False),
    ],
)
def test_judge_metric_counts_orders_that_prefer_the_reference(
    reference_first, degraded_first, score, consistent
):
    # strong = reference, target = degraded copy; *_first gives (score_1, score_2) as the judge wrote them
    scores = {
        "strong_first": {"strong": reference_first[0], "target": reference_first[1]},
        "target_first": {"strong": degraded_first[1], "target": degraded_first[0]},
    }
    assert judge_agreement(scores)[:2] == (score, consistent)
    gold = dspy.Example(degradation="off_topic")
    result = judge_metric().assess(gold, dspy.Prediction(scores=scores))
    assert result.score == score
    if score < 1 and not consistent:
        assert "position" in result.feedback


def test_metrics_speak_every_optimizers_convention():
    metric = judge_metric()
    scores = {"strong_first": {"strong": 8, "target": 3}, "target_first": {"strong": 8, "target": 3}}
    pred, gold = dspy.Prediction(scores=scores), dspy.Example(degradation="refusal")
    assert metric(gold, pred) == 1.0  # Evaluate, bootstrapping
    feedback = metric(gold, pred, None, "judge", None)  # GEPA
    assert feedback.score == 1.0 and "both orders" in feedback.feedback

    class Fixed(dspy.Module):
        def forward(self, **_):
            return pred

    result = dspy.Evaluate(devset=[gold.with_inputs()], metric=metric, display_progress=False)(Fixed())
    assert result.score == 100.0


def test_degraded_copies_are_known_to_be_worse():
    long = "one two three four five six seven eight nine ten eleven twelve"
    assert degrade(long, ["another answer"], "off_topic") == ("another answer", "off_topic")
    assert degrade(long, [], "off_topic") == ("one two three", "truncated")
    assert degrade("Yes.", [], "truncated") == (REFUSAL, "refusal")


def test_split_is_reproducible_and_disjoint(tmp_path):
    records = load_records(write_seeds(tmp_path / "s.jsonl", n=10), "instruction", "id", "reference")
    train, dev = split_records(records, 0.3, seed=1)
    assert (train, dev) == split_records(records, 0.3, seed=1)
    assert len(dev) == 3 and not {r.id for r in train} & {r.id for r in dev}
    assert split_records(records, 0.3, seed=1, max_train=2, max_dev=1) == (train[:2], dev[:1])
    pairs = judge_examples(dev, seed=0)
    assert [p.degradation for p in pairs] == ["off_topic", "truncated", "refusal"]
    assert all(p.reference != p.degraded for p in pairs)


def test_seeds_read_alike_for_generate_and_compile(tmp_path):
    from codeclm_dspy.seeds import load_seeds

    path = tmp_path / "tasks.jsonl"
    path.write_text(
        '{"id": "t1", "instruction": "Summarise this.", "input": "A long memo.", "reference": "Memo."}\n'
        '{"id": "t2", "instruction": "Say hi.", "input": ""}\n'
    )
    seeds = load_seeds(path)
    records = load_records(path, "instruction", "id", "reference")
    assert (
        [s.instruction for s in seeds]
        == [r.instruction for r in records]
        == ["Summarise this.\n\nA long memo.", "Say hi."]
    )
