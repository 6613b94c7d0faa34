"""Contrastive Filtering and Self-Rubrics decision rules, on scripted LMs."""

import random

import pytest

from codeclm_dspy import CodecLM, Runtime
from codeclm_dspy.config import PipelineConfig
from codeclm_dspy.pipeline.contrastive_filtering import average_scores, decide
from codeclm_dspy.pipeline.records import Metadata, RubricAction, Trajectory
from codeclm_dspy.pipeline.self_rubrics import sample_action

META = Metadata("m00000", "question answering", ("cooking",), ("seed-1",))
ACTIONS = [RubricAction(f"rubric {k}", f"action {k}") for k in range(4)]


def judge_by(strong: int, target: int, bias: int = 0):
    """A judge that scores by content, adding ``bias`` to whichever answer is first."""

    def handler(role, inputs, params):
        score = {"STRONG answer": strong, "TARGET answer": target}
        return {"score_1": min(10, score[inputs["answer_1"]] + bias), "score_2": score[inputs["answer_2"]]}

    return handler


def run_one(lms, threshold=3.0, max_iterations=4, seed=0):
    program = CodecLM(PipelineConfig(threshold=threshold, max_iterations=max_iterations))
    traj = Trajectory("m00000-000", META, "What is a roux?")
    rt = Runtime(lms)
    source = rt.run(program.evolve(rt, traj, ACTIONS, random.Random(seed)))
    return source, traj


@pytest.mark.parametrize(
    ("gap", "threshold", "expected"),
    [
        (3.5, 3, "strong"),
        (-3.5, 3, "target"),
        (3.0, 3, None),
        (-3.0, 3, None),
        (0.0, 0, None),
        (0.5, 0, "strong"),
    ],
)
def test_decide_sign_and_strict_boundary(gap, threshold, expected):
    assert decide(gap, threshold) == expected


def test_both_orders_are_averaged():
    scores = {"strong_first": {"strong": 9, "target": 2}, "target_first": {"strong": 7, "target": 4}}
    assert average_scores(scores) == (8.0, 3.0)


def test_strong_answer_kept_when_gap_exceeds_threshold(script, lms):
    script.handlers["judge"] = judge_by(strong=9, target=2)
    source, traj = run_one(lms)
    assert source == "strong"
    assert [a.iteration for a in traj.attempts] == [1]
    assert traj.attempts[0].gap == 7.0
    assert script.steps("improve") == []  # the basic instruction is iteration 1


def test_target_answer_kept_when_target_is_much_better(script, lms):
    script.handlers["judge"] = judge_by(strong=2, target=9)
    source, traj = run_one(lms)
    assert source == "target"
    assert traj.attempts[-1].gap == -7.0


def test_position_bias_cancels_in_the_average(script, lms):
    # A judge that adds 4 to whichever answer it sees first: one order says
    # strong wins by 4, the other says target wins by 4; the average is 0.
    script.handlers["judge"] = judge_by(strong=5, target=5, bias=4)
    source, traj = run_one(lms, threshold=3.0, max_iterations=1)
    assert source is None
    assert traj.attempts[0].judge_scores == {
        "strong_first": {"strong": 9, "target": 5},
        "target_first": {"strong": 5, "target": 9},
    }
    assert traj.attempts[0].gap == 0.0
    assert len(script.steps("judge")) == 2


def test_gap_equal_to_threshold_is_sent_back_not_kept(script, lms):
    script.handlers["judge"] = judge_by(strong=6, target=3)  # G = 3 = threshold
    source, traj = run_one(lms, threshold=3.0, max_iterations=2)
    assert source is None
    assert [a.gap for a in traj.attempts] == [3.0, 3.0]


def test_iteration_cap_counts_basic_instruction_and_drops_after_t(script, lms):
    script.handlers["judge"] = judge_by(strong=5, target=5)
    source, traj = run_one(lms, max_iterations=4)
    assert source is None
    assert [a.iteration for a in traj.attempts] == [1, 2, 3, 4]
    assert len(traj.actions) == 3  # improvements happen from iteration 2 on
    assert len(script.steps("improve")) == 3
    assert len(script.steps("judge")) == 8
    assert all(len(a.judge_scores) == 2 for a in traj.attempts)


def test_improvements_accumulate(script, lms):
    script.handlers["judge"] = judge_by(strong=5, target=5)
    _, traj = run_one(lms, max_iterations=3)
    assert traj.attempts[2].instruction == "What is a roux? (harder) (harder)"
    assert script.steps("improve")[1][1]["instruction"] == "What is a roux? (harder)"


def test_kept_on_a_later_iteration_after_improvement(script, lms):
    def judge(role, inputs, params):
        hard = "(harder)" in inputs["instruction"]
        return judge_by(strong=9 if hard else 5, target=5)(role, inputs, params)

    script.handlers["judge"] = judge
    source, traj = run_one(lms)
    assert source == "strong"
    assert [a.iteration for a in traj.attempts] == [1, 2]
    assert traj.actions and traj.actions[0] in {a.action for a in ACTIONS}


def test_action_sampling_is_seeded_and_uses_every_action():
    draws = [sample_action(ACTIONS, random.Random(7)) for _ in range(3)]
    assert len(set(draws)) == 1  # same seed, same first draw
    rng = random.Random(0)
    seen = {sample_action(ACTIONS, rng) for _ in range(200)}
    assert seen == {a.action for a in ACTIONS}


def test_actions_applied_are_recorded_in_order(script, lms):
    script.handlers["judge"] = judge_by(strong=5, target=5)
    _, traj = run_one(lms, seed=3)
    applied = [inputs["action"] for _, inputs in script.steps("improve")]
    assert traj.actions == applied
    rng = random.Random(3)
    assert applied == [sample_action(ACTIONS, rng) for _ in range(3)]
