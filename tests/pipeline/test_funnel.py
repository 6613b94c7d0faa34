"""The per-iteration funnel counts every filter round once."""

from codeclm_dspy.pipeline.funnel import Funnel
from codeclm_dspy.pipeline.records import Attempt, Metadata, Trajectory

META = Metadata("m0", "qa", ("x",), ("s0",))


def traj(rounds: int) -> Trajectory:
    t = Trajectory("m0-000", META, "Explain the thing well")
    t.attempts = [Attempt(i, "q", "a", "b", {}, 5, 5, 0) for i in range(1, rounds + 1)]
    return t


def rows(funnel: Funnel):
    return [{k: v for k, v in r.items() if v and k != "iteration"} for r in funnel.data["iterations"]]


def test_a_failure_after_two_rounds_sent_both_back():
    f = Funnel(4)
    f.trajectory(traj(2), None, "failed")  # failed while improving for round 3
    assert rows(f) == [{"judged": 1, "sent_back": 1}, {"judged": 1, "sent_back": 1}, {"failed": 1}, {}]


def test_kept_dropped_and_refused_end_where_they_happened():
    f = Funnel(3)
    f.trajectory(traj(2), "target", "kept")
    f.trajectory(traj(3), None, "dropped")
    f.trajectory(traj(1), None, "rejected")  # the answer to keep was refused in round 1
    f.trajectory(traj(1), None, "refused_rewrite")  # the rewrite for round 2 leaked
    assert rows(f) == [
        {"judged": 4, "sent_back": 3, "rejected": 1},
        {"judged": 2, "sent_back": 1, "kept_target": 1, "rejected": 1},
        {"judged": 1, "dropped": 1},
    ]


def test_ablations_without_filtering_count_no_rounds():
    f = Funnel(3, judged=False)
    f.trajectory(traj(1), "strong", "kept")
    assert rows(f) == [{}, {}, {}]
