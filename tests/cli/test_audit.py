"""``polyrlaif audit`` end to end on tiny models: it samples a round when none exists, verifies in the
sandbox, probes the configured judge (a local yes/no judge; a pairwise one behind an HTTP endpoint) and
writes audit.json, audit.md and audit.png."""

from __future__ import annotations

import json

from tiny_configs import tiny_config


def _audit(cli, out, *extra):
    res = cli("audit", "--config", tiny_config("code"), f"run.output_dir={out}", "run.num_prompts=2",
              "domain.rubric_judge=true", *extra, "--limit", "2", "--repeats", "1")  # fmt: skip
    report = json.loads((out / "audit" / "audit.json").read_text())
    assert (out / "audit" / "audit.png").stat().st_size > 5000
    assert "| judge | probe | metric |" in (out / "audit" / "audit.md").read_text()
    assert "audit written to" in res.stdout
    return report


def test_audit_samples_a_round_and_probes_a_local_yes_no_judge(tmp_path, tiny_lm_path, cli):
    out = tmp_path / "run"
    report = _audit(cli, out, f"model.name_or_path={tiny_lm_path}", "judge.backend=transformers",
                    f"judge.model={tiny_lm_path}", "domain.rubric_mode=yesno")  # fmt: skip
    assert (out / "round_1" / "candidates.jsonl").is_file()  # sampled, for a later train to resume from
    assert report["round"] == "round_1" and report["prompts"] == 2 and report["candidates"] == 6
    (probes,) = report["judges"].values()
    assert probes["position"]["applicable"] is False and "pointwise" in probes["position"]["reason"]
    for probe in ("verbosity", "injection", "sycophancy"):
        got = probes[probe]
        assert got["applicable"] and got["n"] == 6
        assert got["delta"]["low"] <= got["delta"]["value"] <= got["delta"]["high"]
        assert got["delta"]["value"] != 0.0  # the edited text is a new judge prompt, judged afresh
    assert probes["consistency"]["stable"]["value"] == 1.0  # p(yes) from logits does not vary
    assert probes["agreement"]["truth"] == "unit_tests" and probes["agreement"]["n"] == 6


def test_audit_reads_a_guarded_pairwise_judges_two_orders(tmp_path, tiny_lm_path, rule_judge, cli):
    url, state = rule_judge
    state.junk_when = lambda messages: "completely confident" in messages  # the sycophancy copies
    out = tmp_path / "pairwise"
    report = _audit(cli, out, f"model.name_or_path={tiny_lm_path}", f"judge.base_url={url}",
                    "domain.rubric_mode=pairwise", "judge.guard=true")  # fmt: skip
    ((judge_id, probes),) = report["judges"].items()
    assert judge_id.endswith("+guard")  # judge.guard: the judge saw each response fenced
    assert any("<<<RESPONSE>>>" in json.dumps(p) for p in state.payloads)
    # the endpoint prefers the response with the larger hash whichever order it is shown in
    assert probes["position"]["applicable"] and probes["position"]["flip_rate"]["value"] == 0.0
    assert probes["position"]["n"] == 2 * 3  # three pairs in each of the two prompts' groups
    assert 0.0 <= probes["verbosity"]["prefers_edited"]["value"] <= 1.0
    assert state.requests > 0
    # every sycophancy pair came back unreadable: not scored, and the audit says how many and why
    syc = probes["sycophancy"]
    assert syc["applicable"] is False and state.junked > 0
    ((reason, count),) = syc["skipped"].items()
    assert reason.startswith("edited pair failed: ") and count == 6 and f"{reason}: 6" in syc["reason"]
    assert "Items a probe could not score, by reason:" in (out / "audit" / "audit.md").read_text()


def test_audit_refuses_what_it_cannot_do_before_any_work(tmp_path):
    """No judge to audit, a limit of zero, a poisoning rate that is not a share: each stops with a clear
    error (exit 2) before a model is loaded or a candidate sampled."""
    import subprocess
    import sys

    def audit(*args):
        cmd = [sys.executable, "-m", "polyrlaif.core.cli", "audit", "--config", tiny_config("code"),
               f"run.output_dir={tmp_path / 'r'}", *args]  # fmt: skip
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300)

    res = audit("judge.backend=none")
    assert res.returncode == 2 and "no judge to audit" in res.stderr
    res = audit("judge.backend=none", "--limit", "0")
    assert res.returncode == 2 and "--limit and --repeats must be at least 1" in res.stderr
    res = audit("judge.backend=none", "--poison", "0.05,1.5")
    assert res.returncode == 2 and "--poison rates are shares in (0, 1), got [1.5]" in res.stderr
    assert not (tmp_path / "r" / "round_1").exists()
