"""Phonemes to model input ids, laid out the way Piper voices were trained.

Every sentence becomes ``^ _ p1 _ p2 _ … pn _ $``: BOS, a pad, then each phoneme followed by a
pad, then EOS. The pad right after BOS matters: runtimes that dropped it made voices swallow the
first phoneme. A voice's ``phoneme_id_map`` maps each phoneme to a *list* of ids.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

_LOGGER = logging.getLogger(__name__)

PAD = "_"
"""Pad symbol, between every two phonemes (id 0 in Piper voices)."""

BOS = "^"
"""Beginning-of-sentence symbol (id 1 in Piper voices)."""

EOS = "$"
"""End-of-sentence symbol (id 2 in Piper voices)."""


def phonemes_to_ids(phonemes: Iterable[str], id_map: Mapping[str, Sequence[int]]) -> list[int]:
    """Ids for one sentence: ``^ _ p1 _ p2 … pn _ $``.

    Phonemes missing from ``id_map`` are skipped (with their pad); each distinct one is logged
    once per call as a warning.
    """
    ids: list[int] = [*id_map[BOS], *id_map[PAD]]
    pad = list(id_map[PAD])
    missing: set[str] = set()
    for phoneme in phonemes:
        phoneme_ids = id_map.get(phoneme)
        if phoneme_ids is None:
            if phoneme not in missing:
                missing.add(phoneme)
                _LOGGER.warning("Phoneme %r is not in the voice's id map; skipped", phoneme)
            continue
        ids.extend(phoneme_ids)
        ids.extend(pad)
    ids.extend(id_map[EOS])
    return ids
