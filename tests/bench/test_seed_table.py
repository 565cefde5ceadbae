"""`sonorant bench --mode seed`: NVIDIA's Tacotron2 demo table, measured for any family."""

from __future__ import annotations

from pathlib import Path

import pytest

import sonorant
from sonorant.__main__ import main
from sonorant.bench.seed_table import HEADER, format_seed_table, seed_rows, with_speedups

DLE = Path(__file__).parent.parent / "fixtures" / "tacotron2"


@pytest.fixture(scope="module")
def tacotron2() -> sonorant.Voice:
    return sonorant.load_voice(DLE / "tacotron2_tiny.pt", vocoder=DLE / "waveglow_tiny.pt", runtime="eager")


def test_rows_are_consistent_measurements(tacotron2: sonorant.Voice) -> None:
    rows = seed_rows(tacotron2, (1, 3), input_length=40, iterations=4, warmup=1,
                     cfg=sonorant.SynthesisConfig(seed=5))
    assert [(r.batch_size, r.input_length, r.iterations) for r in rows] == [(1, 40, 4), (3, 40, 4)]
    hop, rate = tacotron2.engine.hop, tacotron2.sample_rate
    for r in rows:
        assert 0 < r.latency_90 <= r.latency_95 <= r.latency_99 and r.latency_std >= 0
        assert r.mels > 1 and r.audio_seconds == pytest.approx(r.mels * hop / rate, rel=1e-9)
        # samples/s and RTF are both audio over wall time: the same measurement in two units
        assert r.throughput / rate == pytest.approx(r.rtf, rel=0.05)
        assert r.rtf == pytest.approx(r.batch_size * r.audio_seconds / r.latency_avg, rel=0.5)
    table = format_seed_table(with_speedups(rows)).splitlines()
    assert table[0] == HEADER and len(table) == 4 and table[2].startswith("|sonorant-eager|1|40|FP32|")
    assert all(line.count("|") == 15 for line in table)


def test_the_command_prints_a_row_per_runtime_block_and_batch(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--mode", "seed", "--voice", str(DLE / "tacotron2_tiny.pt"), "--vocoder",
                 str(DLE / "waveglow_tiny.pt"), "--runtime", "eager", "--decode-blocks", "1,8", "--batch-sizes", "1,2",
                 "--repeats", "1", "--input-length", "30"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("|sonorant")]
    assert [ln.split("|")[1:3] for ln in lines] == [["sonorant-eager block 1", "1"], ["sonorant-eager block 1", "2"],
                                                    ["sonorant-eager block 8", "1"], ["sonorant-eager block 8", "2"]]
    assert main(["bench", "--mode", "offline", "--decode-blocks", "4"]) == 2
    assert "--decode-blocks belongs to --mode seed" in capsys.readouterr().err
