"""TRL options passed through (`optim.trl`, `rl.trl`) and loss types checked against the backend, all
when the config loads; the options reach TRL's own config classes."""

from __future__ import annotations

import pytest
from tiny_configs import tiny_config

from polyrlaif.core.config import load_config


def _load(*overrides):
    return load_config(tiny_config("code"), list(overrides))


def test_the_fast_backend_names_the_loss_types_it_lacks_and_where_to_go():
    with pytest.raises(
        ValueError, match=r"optim.loss_type.*'robust'.*sigmoid, hinge, ipo.*optim.backend=trl"
    ):
        _load("optim.loss_type=robust")
    assert _load("optim.backend=trl", "optim.loss_type=robust").optim.loss_type == "robust"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["optim.backend=trl", "optim.trl.label_smothing=0.1"],
            r"optim.trl.label_smothing.*did you mean label_smoothing",
        ),
        (
            ["optim.backend=trl", "optim.trl.output_dir=/tmp/x"],
            r"optim.trl.output_dir.*the run sets this itself",
        ),
        (
            ["optim.backend=trl", "optim.loss_type=nonsense"],
            r"optim.trl.loss_type.*'nonsense'.*DPOConfig's loss types are sigmoid, hinge, ipo, .*robust",
        ),
        (["optim.trl.label_smoothing=0.1"], r"optim.trl.*need optim.backend=trl"),
        (["optim.backend=diffusion_dpo", "optim.loss_type=ipo"], r"trains the sigmoid loss only"),
        (["rl.trl.num_generation=4"], r"rl.trl.num_generation.*GRPOConfig has no such field; did you mean"),
    ],
)
def test_bad_pass_through_stops_at_load(overrides, message):
    with pytest.raises(ValueError, match=message):
        _load(*overrides)


def test_options_reach_trls_config_classes(tmp_path):
    import torch

    from polyrlaif.core.trainers.trl_dpo import TRLDPOTrainer
    from polyrlaif.core.trainers.trl_grpo import _config

    cfg = _load("optim.backend=trl", "optim.trl.label_smoothing=0.2", "optim.trl.loss_type=[robust]",
                "optim.lr=3e-5", "rl.trl.epsilon_high=0.28", "rl.trl.loss_type=dr_grpo")  # fmt: skip
    dpo = TRLDPOTrainer(cfg)._dpo_config(tmp_path, "cpu", torch.float32)
    assert dpo.label_smoothing == 0.2 and dpo.loss_type == ["robust"] and dpo.learning_rate == 3e-5
    assert dpo.report_to == [] or dpo.report_to == "none" or dpo.report_to == ["none"]
    grpo = _config(cfg.rl, tmp_path, True, 0, None)
    assert grpo.epsilon_high == 0.28 and grpo.loss_type == "dr_grpo" and grpo.learning_rate == cfg.rl.lr


def test_a_value_trls_config_refuses_stops_at_load():
    with pytest.raises(ValueError, match=r"optim.trl.*DPOConfig refuses it.*loss_weights"):
        _load("optim.backend=trl", "optim.trl.loss_type=[sigmoid,sft]", "optim.trl.loss_weights=[1.0]")


def test_the_fast_online_backend_refuses_trl_options_it_would_ignore():
    """An explicit ``rl.backend=fast`` with a ``rl.trl`` option that changes TRL's step (vLLM, another
    loss type) stops the run at load naming ``rl.backend=trl``; the clip range and TRL's own defaults
    pass, and so does anything in a run that is not online. The default, ``auto``, takes them all and
    sends the run to TRL's trainer (tests/core/test_grpo.py)."""
    from tiny_configs import tiny_config as tc

    def online(*o):
        return load_config(tc("search_agent"), list(o))

    with pytest.raises(ValueError, match=r"rl.trl.*use_vllm.*rl.backend=trl"):
        online("rl.backend=fast", "rl.trl.use_vllm=true")
    with pytest.raises(ValueError, match=r"rl.trl.*dr_grpo.*rl.backend=trl"):
        online("rl.backend=fast", "rl.trl.loss_type=dr_grpo")
    assert online("rl.backend=fast", "rl.trl.epsilon_high=0.28", "rl.trl.loss_type=dapo").rl.backend == "fast"
    assert online("rl.trl.loss_type=dr_grpo").rl.backend == "auto"
    assert online("rl.backend=trl", "rl.trl.loss_type=dr_grpo").rl.trl == {"loss_type": "dr_grpo"}
    assert _load("rl.backend=fast", "rl.trl.loss_type=dr_grpo").run.mode != "online"  # rl unread
