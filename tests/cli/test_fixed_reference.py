"""``optim.reference``: what each preference round's update is held to, through ``polyrlaif train``.

Two code-domain rounds on the tiny random chat model and the rule-judge endpoint: with the default
(``round``) round 2's reference is the policy round 1 trained, so its first DPO step starts at log 2;
with ``initial`` it is the starting policy, which round 2's policy already differs from.
"""

from __future__ import annotations

import json
import math

import pytest
from tiny_configs import tiny_config


def _first_step(out, r):
    return json.loads((out / f"round_{r}" / "train" / "steps.jsonl").read_text().splitlines()[0])


@pytest.mark.parametrize("reference", ["round", "initial"])
def test_round_two_is_held_to_the_chosen_reference(reference, tmp_path, tiny_lm_path, rule_judge, cli):
    url, _ = rule_judge
    out = tmp_path / reference
    cli(
        "train",
        "--config",
        tiny_config("code"),
        f"run.output_dir={out}",
        f"model.name_or_path={tiny_lm_path}",
        f"judge.base_url={url}",
        f"optim.reference={reference}",
        "optim.lr=1e-3",  # enough for round 1 to move the policy measurably
    )
    # round 1: the starting policy is both the policy and the reference either way
    assert _first_step(out, 1)["loss"] == pytest.approx(math.log(2), abs=1e-6)
    second = _first_step(out, 2)
    if reference == "round":
        assert second["loss"] == pytest.approx(math.log(2), abs=1e-6)
    else:
        assert abs(second["loss"] - math.log(2)) > 1e-4, second
