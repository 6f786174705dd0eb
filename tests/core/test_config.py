"""Typed configs: YAML + dotted overrides, validation errors that name the field."""

import re
from pathlib import Path

import pytest
from tiny_configs import tiny_config

from polyrlaif.core.config import load_config, save_config


def _write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_yaml_and_overrides_are_typed(tmp_path):
    p = _write(tmp_path, "domain: {name: code, timeout_s: 3}\noptim: {lr: 1.0e-5}\n")
    cfg = load_config(p, ["optim.beta=0.3", "domain.workers=1", "sampling.n=2"])
    assert cfg.optim.lr == 1e-5 and cfg.optim.beta == 0.3
    assert cfg.domain.timeout_s == 3.0 and cfg.domain.workers == 1
    assert cfg.sampling.n == 2 and cfg.domain.__class__.__name__ == "CodeDomainConfig"


def test_wrong_type_names_field(tmp_path):
    p = _write(tmp_path, "domain: {name: code}\n")
    with pytest.raises(ValueError, match="optim.lr"):
        load_config(p, ["optim.lr=fast"])


def test_unknown_field_names_it(tmp_path):
    p = _write(tmp_path, "domain: {name: code, tmeout_s: 3}\n")
    with pytest.raises(ValueError, match="tmeout_s"):
        load_config(p)


def test_unknown_domain_lists_valid(tmp_path):
    p = _write(tmp_path, "domain: {name: nope}\n")
    with pytest.raises(KeyError, match="valid: .*code"):
        load_config(p)


def test_packaged_config_by_name_and_save_roundtrip(tmp_path):
    cfg = load_config("code/demo", ["run.rounds=2"])
    assert cfg.run.rounds == 2 and cfg.model.name_or_path == "smollm2-135m-instruct"
    save_config(cfg, tmp_path / "resolved.yaml")
    again = load_config(tmp_path / "resolved.yaml")
    assert again == cfg


def test_run_mode_is_checked_and_each_mode_needs_its_parts(tmp_path):
    from polyrlaif.core.feedback import run_feedback
    from polyrlaif.core.registry import RECIPES

    with pytest.raises(ValueError, match=r"field 'run.mode'.*'sideways'"):
        load_config(tiny_config("code"), ["run.mode=sideways"])
    online_code = load_config(tiny_config("code"), ["run.mode=online", f"run.output_dir={tmp_path / 'a'}"])
    with pytest.raises(ValueError, match="'code' has no online RL task .*, which run.mode=online needs"):
        RECIPES.get("online")(online_code)
    with pytest.raises(ValueError, match="needs run.mode=preference"):
        run_feedback(online_code)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("domain:\n  name: code\nrun:\n\trounds: 2\n", r"bad.yaml:4:1: invalid YAML: .*not tabs"),
        ("domain: {name: code\nrun: 1\n", r"bad.yaml:2:4: invalid YAML: expected ',' or '}'"),
        ("- domain\n- run\n", r"bad.yaml: a config is a mapping of sections .* got a list"),
    ],
)
def test_yaml_errors_name_file_line_and_column(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=expected):
        load_config(path)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("sampling.n=-1", "sampling.n"),
        ("sampling.n=0", "sampling.n"),
        ("run.rounds=-1", "run.rounds"),
        ("judge.timeout_s=-1", "judge.timeout_s"),
        ("judge.timeout_s=nan", "judge.timeout_s"),
        ("rl.batch_size=6", "rl.batch_size"),
        ("optim.backend=grpo", "optim.backend"),
        ("pairs.strategy=best", "pairs.strategy"),
        ("judge.backend=gpt", "judge.backend"),
        ("model.num_frames=0", "model.num_frames"),
        ("optim.reference=later", "optim.reference"),
    ],
)
def test_ranges_and_choices_are_checked_when_the_config_loads(override, field):
    with pytest.raises(ValueError, match=rf"invalid config at field '{re.escape(field)}'"):
        load_config(tiny_config("code"), [override])


def test_freezing_is_for_full_fine_tuning():
    cfg = load_config(tiny_config("code"), ["optim.freeze=[model.layers.0.]", "optim.lora.enabled=false"])
    assert cfg.optim.freeze == ["model.layers.0."]
    with pytest.raises(ValueError, match=r"field 'optim.freeze'.*optim.lora.target_modules"):
        load_config(tiny_config("code"), ["optim.freeze=[model.layers.0.]", "optim.lora.enabled=true"])


def test_answer_logprob_pooling_is_for_domains_that_train_a_vision_reward_model():
    cfg = load_config(tiny_config("video_lmm", "tiny-online"), ["optim.reward_pooling=answer_logprob"])
    assert cfg.optim.reward_pooling == "answer_logprob"
    with pytest.raises(ValueError, match=r"'optim.reward_pooling'.*domain code trains no vision reward"):
        load_config(tiny_config("code"), ["optim.reward_pooling=answer_logprob"])


def test_every_packaged_config_is_for_users_and_the_fixtures_live_under_tests():
    """The packaged configs run as they are: none is a test fixture that needs the tests' rule-judge
    endpoint; those live in tests/configs and load by path."""
    from importlib.resources import files

    from polyrlaif.core.config import builtin_config_path

    root = Path(str(files("polyrlaif.configs")))
    # configs/accelerate holds accelerate's own launch configs (tests/cli/test_launch_train.py uses them)
    packaged = sorted(p for p in root.rglob("*.yaml") if p.parent.name != "accelerate")
    assert len(packaged) >= 6
    for path in packaged:
        assert not path.stem.startswith("tiny") and "rule-judge" not in path.read_text(), path
        load_config(path)  # and each loads as it is
    assert builtin_config_path("code/tiny") is None
    assert load_config(tiny_config("code")).judge.model == "rule-judge"


def test_a_run_folder_loads_the_config_the_run_wrote(tmp_path):
    """``--config RUN_DIR`` (``polyrlaif audit`` on an existing run): the folder's ``config.yaml``."""
    from tiny_configs import tiny_config

    from polyrlaif.core.config import config_dict, load_config, save_config

    cfg = load_config(tiny_config("code"), [f"run.output_dir={tmp_path}", "sampling.n=3"])
    save_config(cfg, tmp_path / "config.yaml")
    again = load_config(tmp_path, ["run.seed=5"])
    assert again.sampling.n == 3 and again.run.seed == 5
    assert config_dict(again) == {**config_dict(cfg), "run": {**config_dict(cfg)["run"], "seed": 5}}


def test_noise_draws_belong_to_diffusion_dpo():
    from tiny_configs import tiny_config

    from polyrlaif.core.config import load_config

    with pytest.raises(ValueError, match=r"optim.noise_draws.*only optim.backend=diffusion_dpo"):
        load_config(tiny_config("code"), ["optim.noise_draws=4"])
    with pytest.raises(ValueError, match=r"optim.noise_draws"):
        load_config(tiny_config("text_to_image"), ["optim.noise_draws=0"])
    assert load_config(tiny_config("text_to_image"), ["optim.noise_draws=4"]).optim.noise_draws == 4
