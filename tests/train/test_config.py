"""The training config: YAML and TOML read alike, every bad config is a clear error naming the file and the
key, the schema documents every field, and `sonorant train` runs a config end to end."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from tiny_token_model import base_config, write_manifest

from sonorant.__main__ import main
from sonorant.errors import ConfigError
from sonorant.train import config as config_module
from sonorant.train.config import TrainConfig, load_config, parse_config
from sonorant.train.schema import field_docs
from sonorant.train.trainer import Trainer

YAML = """\
model:
  kind: tiny_gru
data:
  manifest: train.jsonl
  cache_dir: cache
  valid_fraction: 0.0
optim:
  lr: 0.01
  betas: [0.9, 0.95]
  schedule: constant
train:
  output_dir: run
  steps: 4
  batch_size: 4
  checkpoint_every: 2
  log_every: 1
  progress: false
  plot: false
  device: cpu
freeze:
  parts: [encoder]
"""

TOML = """\
[model]
kind = "tiny_gru"

[data]
manifest = "train.jsonl"
cache_dir = "cache"
valid_fraction = 0.0

[optim]
lr = 0.01
betas = [0.9, 0.95]
schedule = "constant"

[train]
output_dir = "run"
steps = 4
batch_size = 4
checkpoint_every = 2
log_every = 1
progress = false
plot = false
device = "cpu"

[freeze]
parts = ["encoder"]
"""


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    write_manifest(tmp_path / "train.jsonl", 8)
    return tmp_path


def test_yaml_and_toml_give_the_same_config_with_paths_relative_to_the_file(folder: Path) -> None:
    (folder / "run.yaml").write_text(YAML)
    (folder / "run.toml").write_text(TOML)
    from_yaml, from_toml = load_config(folder / "run.yaml"), load_config(folder / "run.toml")
    assert from_yaml == from_toml
    assert from_yaml.data.manifest == folder.resolve() / "train.jsonl"
    assert from_yaml.train.output_dir == folder.resolve() / "run"
    assert from_yaml.optim.betas == (0.9, 0.95) and from_yaml.freeze.parts == ["encoder"]
    assert from_yaml.optim.weight_decay == 0.01 and from_yaml.train.precision == "fp32"  # defaults


def _edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


BAD_YAML = [
    (lambda t: _edit(t, "  steps: 4", "  stesp: 4"), r"train\.stesp: unknown key \(did you mean 'steps'\?\)"),
    (lambda t: _edit(t, "optim:", "optimizer:"), r"optimizer: unknown key \(did you mean 'optim'\?\)"),
    (lambda t: _edit(t, "batch_size: 4", "batch_size: '4'"),
     r"train\.batch_size: expected an integer, got '4' \(a string\)"),
    (lambda t: _edit(t, "steps: 4", "steps: true"), r"train\.steps: expected an integer, got true"),
    (lambda t: _edit(t, "steps: 4", "steps: 0"), r"train\.steps: 0 is out of range: it must be >= 1"),
    (lambda t: _edit(t, "lr: 0.01", "lr: -1"), r"optim\.lr: -1\.0 is out of range: it must be between 0\.0 and 10"),
    (lambda t: _edit(t, "betas: [0.9, 0.95]", "betas: [0.9]"), r"optim\.betas: expected a list of 2 items, got 1"),
    (lambda t: _edit(t, "betas: [0.9, 0.95]", "betas: [0.9, 1.5]"), r"optim\.betas: 1\.5 is out of range"),
    (lambda t: _edit(t, "  steps: 4\n", ""), r"train\.steps: missing required key \(Optimizer steps"),
    (lambda t: _edit(t, "model:\n  kind: tiny_gru\n", ""), r"model: missing required key"),
    (lambda t: _edit(t, "manifest: train.jsonl", "manifest: nope.jsonl"),
     r"data\.manifest: file '.*nope\.jsonl' does not exist"),
    (lambda t: _edit(t, "device: cpu", "device: cpu\n  precision: fp8"),
     r"train\.precision: 'fp8' is not one of 'fp32', 'bf16', 'fp16'"),
    (lambda t: _edit(t, "schedule: constant", "schedule: cosin"),
     r"optim\.schedule: 'cosin' is not one of 'cosine', 'constant' \(did you mean 'cosine'\?\)"),
    (lambda t: _edit(t, "cache_dir: cache", "cache_dir: cache\n  frontend: byte"),
     r"data\.frontend: unknown front end 'byte' \(did you mean 'bytes'\?\); known: bytes, phonemes"),
    (lambda t: _edit(t, "parts: [encoder]", "parts: encoder"), r"freeze\.parts: expected a list, got 'encoder'"),
    (lambda t: t + "eval:\n  every: 5\n", r"eval\.every: set to 5 but there are no eval sentences"),
    (lambda t: _edit(t, "schedule: constant", "warmup_steps: 9"),
     r"optim\.warmup_steps: 9 is more than train\.steps 4"),
    (lambda t: _edit(t, "valid_fraction: 0.0", "valid_fraction: .nan"), r"data\.valid_fraction: must be a finite"),
    (lambda t: "- just\n- a list\n", r"expected a table of sections"),
    (lambda t: t + "  oops: [unclosed\n", r"not valid YAML"),
]


@pytest.mark.parametrize("edit, message", BAD_YAML, ids=[m[:40] for _, m in BAD_YAML])
def test_bad_configs_name_the_file_and_the_key(folder: Path, edit, message: str) -> None:  # noqa: ANN001
    path = folder / "bad.yaml"
    path.write_text(edit(YAML))
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(path)
    assert str(caught.value).startswith(str(path)), str(caught.value)


def test_bad_toml_and_other_suffixes(folder: Path) -> None:
    (folder / "bad.toml").write_text(TOML.replace('kind = "tiny_gru"', "kind = tiny_gru"))
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML"):
        load_config(folder / "bad.toml")
    (folder / "run.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"\.yaml, \.yml or \.toml"):
        load_config(folder / "run.json")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(folder / "absent.yaml")


def _runtime(folder: Path, **changes: dict) -> TrainConfig:  # noqa: ANN003
    data = base_config(folder, folder / "train.jsonl", steps=2)
    for section, values in changes.items():
        data.setdefault(section, {}).update(values)
    return parse_config(data, "test")


@pytest.mark.parametrize("changes, message", [
    ({"train": {"precision": "bf16"}}, r"train\.precision: bf16 needs a CUDA GPU; this run's device is cpu"),
    ({"train": {"device": "tpu"}}, r"train\.device: unknown device 'tpu'"),
    ({"model": {"kind": "tiny_gr"}}, r"model\.kind: unknown model kind 'tiny_gr' \(did you mean 'tiny_gru'\?\); "
                                     r"known kinds: .*tiny_gru"),
    ({"freeze": {"parts": ["encodr"]}}, r"freeze\.parts: unknown part 'encodr' \(did you mean 'encoder'\?\)"),
    ({"freeze": {"patterns": ["decoder.layers.*"]}}, r"freeze\.patterns: pattern 'decoder\.layers\.\*' matches no "
                                                     r"parameter"),
    ({"freeze": {"patterns": ["*"]}}, r"every parameter of the model is frozen"),
    ({"train": {"batch_size": 6, "grad_accum": 2}}, r"the training split has 8 examples, fewer than one step's "
                                                    r"train\.batch_size x train\.grad_accum = 12"),
    ({"eval": {"sentences": ["Hello."], "every": 1}}, r"model kind 'tiny_gru' has no synthesizer registered"),
    ({"model": {"options": {"direction": "tokens_to_text"}}},  # a text model fed tokens: token 0 is its pad
     r"train\.jsonl:1: target holds the model's special id\(s\) \[0\] \(BOS 259, EOS 1, pad 0\)"),
])
def test_settings_checked_when_the_run_starts(folder: Path, changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        Trainer(_runtime(folder, **changes))
    if "train\\.jsonl" not in message:  # a message about a config key names the config file first
        assert str(caught.value).startswith("test: "), str(caught.value)
    assert not (folder / "run").exists()  # nothing written before the run could start


def test_model_init_must_fit(folder: Path) -> None:
    import torch

    (folder / "other.pt").write_bytes(b"")
    torch.save({"not": torch.zeros(2)}, folder / "other.pt")
    with pytest.raises(ConfigError, match=r"model\.init: .*other\.pt does not fit the model"):
        Trainer(_runtime(folder, model={"init": str(folder / "other.pt")}))


def test_every_field_is_documented_and_printed(capsys: pytest.CaptureFixture[str]) -> None:
    sections = [c for c in vars(config_module).values() if dataclasses.is_dataclass(c) and isinstance(c, type)]
    assert len(sections) == 8
    for cls in sections:
        docs = field_docs(cls)
        for f in dataclasses.fields(cls):
            assert len(docs.get(f.name, "")) > 10, f"{cls.__name__}.{f.name} has no docstring"
    assert main(["train", "--print-schema"]) == 0
    out = capsys.readouterr().out
    for cls in sections:
        for f in dataclasses.fields(cls):
            assert (f"{f.name}: " in out) == f.init, f.name  # TrainConfig.source is not a key of the file
    assert "steps: int  (required)  [>= 1]" in out and "Optimizer steps to train for." in out


def test_cli_trains_and_guards_the_run(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "run.yaml").write_text(YAML)
    assert main(["train", str(folder / "run.yaml"), "--stop-at", "2"]) == 0
    assert "stopped at step 2" in capsys.readouterr().out
    assert main(["train", str(folder / "run.yaml")]) == 2
    assert "already holds a training run: pass --resume" in capsys.readouterr().err
    assert main(["train", str(folder / "run.yaml"), "--resume"]) == 0
    assert "finished at step 4" in capsys.readouterr().out
    assert main(["train"]) == 2
    assert "needs a config file" in capsys.readouterr().err
