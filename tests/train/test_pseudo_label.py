"""Pseudo-labelling (back-translation): a tiny tokens -> text model trained here labels unpaired tokens, through
the function and the `sonorant pseudo-label` command, and the labelled manifest feeds a text -> tokens run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tiny_token_model import base_config, toy_text, toy_tokens, write_manifest

from sonorant.__main__ import main
from sonorant.errors import ConfigError, DecodeLimitError
from sonorant.train.config import parse_config
from sonorant.train.frontends import FRONTENDS
from sonorant.train.pseudo import pseudo_label
from sonorant.train.trainer import Trainer

COUNT = 16


@pytest.fixture(scope="module")
def labeller(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The last checkpoint of a tokens -> text model that has learned the toy code (80 steps)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("labeller")
    data = base_config(tmp, write_manifest(tmp / "paired.jsonl", COUNT), steps=80, batch_size=8,
                       checkpoint_every=80)
    data["model"]["options"] = {"direction": "tokens_to_text", "hidden": 64}
    data["data"]["direction"] = "tokens_to_text"
    data["optim"]["lr"] = 2e-2
    result = Trainer(parse_config(data, "labeller")).run()
    torch.set_num_threads(threads)
    assert result.checkpoint is not None
    return result.checkpoint


def test_cli_labels_unpaired_tokens_and_the_result_trains(labeller: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    unpaired = write_manifest(tmp_path / "unpaired.jsonl", COUNT, with_text=False)
    np.save(tmp_path / "extra.npy", np.array(toy_tokens(toy_text(3))))
    with unpaired.open("a") as f:
        f.write(json.dumps({"tokens_path": "extra.npy", "text": "stale text is replaced"}) + "\n")
    out = tmp_path / "labelled" / "pseudo.jsonl"
    assert main(["pseudo-label", str(labeller), str(unpaired), "-o", str(out), "--max-len", "16"]) == 0
    assert f"wrote {COUNT + 1} lines" in capsys.readouterr().out
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    texts = [line["text"] for line in lines]
    assert texts == [toy_text(i) for i in range(COUNT)] + [toy_text(3)]  # every line labelled exactly
    assert all(line["pseudo_label"] is True for line in lines)
    assert [line["tokens"] for line in lines[:COUNT]] == [toy_tokens(toy_text(i)) for i in range(COUNT)]
    assert lines[-1]["tokens_path"] == "../extra.npy" and (out.parent / lines[-1]["tokens_path"]).is_file()

    assert main(["pseudo-label", str(labeller), str(unpaired), "-o", str(out)]) == 2
    assert "exists: pass --force" in capsys.readouterr().err

    # the labelled manifest is extra training data for a text -> tokens run (Spear-TTS's last stage)
    data = base_config(tmp_path, write_manifest(tmp_path / "paired.jsonl", 8), steps=2)
    data["data"]["extra_manifests"] = [str(out)]
    trainer = Trainer(parse_config(data, "tts"))
    assert len(trainer.train_set) == 8 + COUNT + 1
    assert trainer.run().step == 2


def test_generation_limits_are_errors_or_counted_skips(labeller: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    unpaired = write_manifest(tmp_path / "unpaired.jsonl", COUNT, with_text=False)
    out = tmp_path / "pseudo.jsonl"
    assert main(["pseudo-label", str(labeller), str(unpaired), "-o", str(out), "--max-len", "3"]) == 2
    assert "generation never ended (no EOS within the length limit)" in capsys.readouterr().err
    assert main(["pseudo-label", str(labeller), str(unpaired), "-o", str(out), "--max-len", "3",
                 "--skip-failed"]) == 0
    short = [i for i in range(COUNT) if len(toy_text(i)) <= 3]
    assert f"wrote {len(short)} lines to {out} ({COUNT - len(short)} left out)" in capsys.readouterr().out
    assert [json.loads(line)["text"] for line in out.read_text().splitlines()] == [toy_text(i) for i in short]


def test_function_with_a_stand_in_generator(tmp_path: Path) -> None:
    unpaired = write_manifest(tmp_path / "unpaired.jsonl", 4, with_text=False)
    calls: list[int] = []

    def generate(sources: list[np.ndarray]) -> list[list[int] | None]:
        calls.append(len(sources))
        return [[int(t) + 3 + 97 for t in s] if len(s) != 5 else None for s in sources]

    lengths = [len(toy_text(i)) for i in range(4)]
    assert lengths == [3, 7, 5, 5]  # lines 3 and 4 "never end"
    with pytest.raises(DecodeLimitError, match=r"unpaired\.jsonl:3: generation never ended"):
        pseudo_label(unpaired, tmp_path / "out.jsonl", generate, FRONTENDS["bytes"], batch_size=3)
    assert calls == [3, 1]
    report = pseudo_label(unpaired, tmp_path / "out.jsonl", generate, FRONTENDS["bytes"], skip_failed=True)
    assert (report.written, report.skipped) == (2, 2)
    assert [json.loads(line)["text"] for line in report.output.read_text().splitlines()] == [
        toy_text(0), toy_text(1)]  # token t -> byte 97 + t: the toy code's letters
    with pytest.raises(ConfigError, match="is the input manifest"):
        pseudo_label(unpaired, unpaired, generate, FRONTENDS["bytes"], force=True)


def test_a_text_to_tokens_checkpoint_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = base_config(tmp_path, write_manifest(tmp_path / "m.jsonl", 8), steps=2)
    checkpoint = Trainer(parse_config(data, "tts")).run().checkpoint
    assert main(["pseudo-label", str(checkpoint), str(tmp_path / "m.jsonl"), "-o", str(tmp_path / "o.jsonl")]) == 2
    assert "the model maps text to tokens; pseudo-labelling needs a tokens -> text model" in capsys.readouterr().err
