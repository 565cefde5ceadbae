"""NeMo's TTS text tokenizers, ported: a FastPitch ``.nemo``'s text to exactly the ids NeMo gives it.

:meth:`NemoTokenizer.from_config` reads a model's ``text_tokenizer`` config (with its ``g2p``
section) and the dictionary files stored in the ``.nemo`` archive, and builds one of

- :class:`ArpabetTokenizer` (NeMo's ``EnglishPhonemesTokenizer`` + ``EnglishG2p``): space,
  [silence], 24 consonants, 15 vowels (x3 with ``stresses``), [a-z with ``chars`` or a
  ``phoneme_probability``], ["'" with ``apostrophe``], [punctuation], then ``<pad>``,
  [``<blank>``], ``<oov>`` (``add_blank_at="last"`` puts the blank last);
- :class:`IpaTokenizer` (NeMo's ``IPATokenizer`` + ``IpaG2p``): the sorted set of the
  dictionary's phoneme characters, [prefixed graphemes with ``use_chars``], ["'"], [the locale's
  punctuation], then the space (if not among them), [silence], ``<pad>``, [``<blank>``], ``<oov>``.

``encode(text)`` is NeMo's ``FastPitchModel.parse`` without its text normalizer (sonorant's own
normalizer runs before, in :class:`~sonorant.text.pipeline.TextPipeline`):

1. clean-up: English accents dropped (NFD, combining marks removed), curly quotes made ASCII; case
   is kept (the G2P lower-cases words itself); other locales NFC;
2. G2P (:mod:`sonorant.text.nemo_g2p`): dictionary phonemes, letters for unknown, ambiguous and
   heteronym words; ``phoneme_probability`` is 1 at inference, so nothing random happens;
3. filtering, as NeMo does it: a symbol the table lacks is skipped (digits and other non-letters
   left by the normalizer, letters of unknown words in an ARPAbet table without ``chars``, an
   apostrophe without ``apostrophe``); NeMo logs that on every call, this port once per symbol.
   ARPAbet drops stress digits without ``stresses``, collapses runs of spaces and never starts
   with one; the IPA tokenizer keeps every space it is given (NeMo's own quirk). Trailing
   spaces go; ``pad_with_space`` adds one space id at each end.

There is no length limit: a long text gives all its ids (cutting is the pipeline's job).

Inline phonemes: a ``[[ … ]]`` block (sonorant's syntax, also what SSML ``<phoneme>`` becomes) is
read as this voice's own symbols: ARPAbet phonemes separated by spaces (``[[ HH AH0 L OW1 ]]``,
what NeMo's ``|HH AH0 L OW1|`` does) or IPA characters. NeMo's ``|…|`` syntax itself works too.
"""

from __future__ import annotations

import logging
import re
import string
import threading
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from sonorant.errors import VoiceError
from sonorant.text.nemo_g2p import (
    DEFAULT_PUNCTUATION,
    ArpabetG2p,
    IpaG2p,
    any_locale_text_preprocessing,
    english_text_preprocessing,
    ipa_punctuation,
    read_lines,
)

__all__ = ["ArpabetTokenizer", "IpaTokenizer", "NemoTokenizer"]

_LOGGER = logging.getLogger(__name__)

PAD, BLANK, OOV = "<pad>", "<blank>", "<oov>"
CONSONANTS = (
    "B", "CH", "D", "DH", "F", "G", "HH", "JH", "K", "L", "M", "N", "NG", "P", "R", "S", "SH", "T",
    "TH", "V", "W", "Y", "Z", "ZH",
)
VOWELS = ("AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW")
_PHONEME_BLOCK = re.compile(r"\[\[(.*?)\]\]")
_UNSUPPORTED = ("text_preprocessing_func", "word_tokenize_func", "apply_to_oov_word")


class NemoTokenizer(ABC):
    """Text to a NeMo TTS model's input ids, as the model's own tokenizer gives them at inference.

    Build one with :meth:`from_config`. Thread-safe. Also what
    :class:`~sonorant.text.pipeline.TextPipeline` takes as a ``tokenizer`` (see
    :class:`~sonorant.text.pipeline.Tokenizer`).
    """

    def __init__(
        self,
        symbols: Sequence[str],
        *,
        space: str,
        pad_with_space: bool,
        punct: Sequence[str],
        add_blank_at: Any | None,
        oov: str = OOV,
        sep: str = "|",
    ) -> None:
        """A table of ``symbols`` (space and silence included) followed by NeMo's special tokens."""
        tokens = [*symbols, PAD]
        self.pad_id = len(symbols)
        """Id of ``<pad>`` (FastPitch's embedding ``padding_idx``)."""
        self.blank_id: int | None = None
        """Id of ``<blank>``, or None when the table has none (``add_blank_at`` unset)."""
        if add_blank_at is not None:
            self.blank_id = len(tokens)
            tokens.append(BLANK)
        self.oov_id = len(tokens)
        """Id of the out-of-vocabulary token (NeMo skips unknown symbols rather than mapping them to it)."""
        tokens.append(oov)
        if add_blank_at == "last":
            tokens[-1], tokens[-2] = tokens[-2], tokens[-1]
            self.oov_id, self.blank_id = self.blank_id, self.oov_id  # type: ignore[assignment]
        self.tokens: list[str] = tokens
        """Id -> symbol."""
        self.space = space
        """The space symbol."""
        self.pad_with_space = pad_with_space
        """Whether every input starts and ends with a space id."""
        self.separator = sep
        """What NeMo puts between symbols when it writes them out (for traces)."""
        self.punct = frozenset(punct)
        self._ids = {token: index for index, token in enumerate(tokens)}
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    @property
    def vocab_size(self) -> int:
        """Number of ids (the model's embedding rows)."""
        return len(self.tokens)

    @property
    def space_id(self) -> int:
        """Id of the space symbol."""
        return self._ids[self.space]

    # --- building --------------------------------------------------------------------------------

    @classmethod
    def from_config(
        cls,
        tokenizer_cfg: Mapping[str, Any],
        g2p_cfg: Mapping[str, Any] | None = None,
        artifacts: Mapping[str, bytes] | None = None,
    ) -> NemoTokenizer:
        """The tokenizer a ``.nemo`` model config describes.

        ``tokenizer_cfg``: the model's ``text_tokenizer`` section (with ``_target_``); ``g2p_cfg``:
        its G2P section (default: ``tokenizer_cfg["g2p"]``); ``artifacts``: the archive's files by
        name as stored in the tar (``"<uuid32>_cmudict-0.7b_nv22.10"``, a leading ``./`` is
        ignored); ``nemo:<uuid32>_<name>`` references in the config are resolved against it.
        Raises :class:`~sonorant.errors.VoiceError` for a tokenizer this port does not know, a
        missing artifact or a malformed dictionary.
        """
        cfg = dict(tokenizer_cfg)
        nested = cfg.pop("g2p", None)
        g2p_cfg = dict(g2p_cfg if g2p_cfg is not None else nested or {})
        target = _class_name(cfg.pop("_target_", None))
        files = {name.removeprefix("./"): data for name, data in (artifacts or {}).items()}
        if target == "EnglishPhonemesTokenizer":
            return ArpabetTokenizer._from_config(cfg, g2p_cfg, files)
        if target == "IPATokenizer":
            return IpaTokenizer._from_config(cfg, g2p_cfg, files)
        raise VoiceError(
            f"the NeMo text tokenizer {target!r} is not supported (EnglishPhonemesTokenizer, IPATokenizer)"
        )

    # --- encoding --------------------------------------------------------------------------------

    def encode(self, text: str) -> list[int]:
        """The ids of ``text``: NeMo's ``FastPitchModel.parse(text, normalize=False)`` as a list, for a
        text without ``[[ … ]]`` blocks (which are sonorant's)."""
        return self.symbol_ids(self.symbols(text))

    def symbols(self, text: str) -> list[str]:
        """The symbols ``text`` is read as (the ids of :meth:`encode` without the space padding)."""
        raw: list[str] = []
        for index, part in enumerate(_PHONEME_BLOCK.split(text)):
            if index % 2:
                raw.extend(self._block_symbols(part))
            elif part:
                raw.extend(self._g2p(part))
        return self._filter(raw)

    def symbol_ids(self, symbols: Iterable[str]) -> list[int]:
        """Ids of a run of symbols (all of :meth:`symbols`, or a piece of them), as NeMo frames a text:
        filtered again (a piece may start with a space NeMo would not keep), trailing spaces
        removed, a space id at each end with ``pad_with_space``."""
        kept = self._filter(symbols)
        if self.pad_with_space:
            kept = [self.space, *kept, self.space]
        return [self._ids[s] for s in kept]

    def max_symbols(self, max_ids: int) -> int:
        """The most symbols whose ids fit ``max_ids``."""
        return max_ids - (2 if self.pad_with_space else 0)

    def _filter(self, symbols: Iterable[str]) -> list[str]:
        """NeMo's ``encode_from_g2p`` on symbols: what the table holds, as NeMo keeps it."""
        kept: list[str] = []
        space = self.space
        for symbol in symbols:
            symbol = self._adjust(symbol)
            if symbol == space and kept and kept[-1] != space or self._accepts(symbol):
                kept.append(symbol)
            elif symbol != space:
                self._warn(symbol)
        while kept and kept[-1] == space:
            kept.pop()
        return kept

    def _warn(self, symbol: str, why: str = "the voice has no symbol for it") -> None:
        with self._lock:
            if symbol in self._warned:
                return
            self._warned.add(symbol)
        _LOGGER.warning("%r is not read: %s (NeMo skips it too)", symbol, why)

    # --- what the two kinds define ---------------------------------------------------------------

    @abstractmethod
    def _g2p(self, text: str) -> list[str]:
        """Symbols of plain text (clean-up and G2P), unfiltered."""

    @abstractmethod
    def _block_symbols(self, content: str) -> list[str]:
        """Symbols of a ``[[ … ]]`` block, unfiltered."""

    def _adjust(self, symbol: str) -> str:
        return symbol

    @abstractmethod
    def _accepts(self, symbol: str) -> bool:
        """Whether the table can hold `symbol`."""

    def _run_g2p(self, g2p: Callable[[str], tuple[list[str], list[str]]], text: str) -> list[str]:
        symbols, dropped = g2p(text)
        for char in dropped:
            self._warn(char, "NeMo's word split drops a '|' without a closing '|'")
        return symbols


class ArpabetTokenizer(NemoTokenizer):
    """NeMo's ``EnglishPhonemesTokenizer`` with ``EnglishG2p`` (ARPAbet from CMUdict)."""

    def __init__(
        self,
        g2p: ArpabetG2p,
        *,
        punct: bool = True,
        non_default_punct_list: Sequence[str] | None = None,
        stresses: bool = False,
        chars: bool = False,
        space: str = " ",
        silence: str | None = None,
        apostrophe: bool = True,
        oov: str = OOV,
        sep: str = "|",
        add_blank_at: Any | None = None,
        pad_with_space: bool = False,
        phoneme_probability: float | None = None,
    ) -> None:
        """The arguments of NeMo's constructor; ``phoneme_probability`` (the G2P's) adds the letters
        to the table as ``chars`` does (NeMo does so; at inference it never draws letters)."""
        table = [space] + ([silence] if silence is not None else []) + list(CONSONANTS)
        table += [f"{v}{s}" for v in VOWELS for s in (0, 1, 2)] if stresses else list(VOWELS)
        if chars or phoneme_probability is not None:
            table += list(string.ascii_lowercase)
        if apostrophe:
            table.append("'")
        punct_list = list(non_default_punct_list if non_default_punct_list is not None else DEFAULT_PUNCTUATION)
        if punct:
            table += punct_list
        super().__init__(table, space=space, pad_with_space=pad_with_space, punct=punct_list if punct else (),
                         add_blank_at=add_blank_at, oov=oov, sep=sep)
        self.g2p = g2p
        self.stresses = stresses
        self._table = frozenset(self.tokens)

    @classmethod
    def _from_config(cls, cfg: dict[str, Any], g2p_cfg: dict[str, Any], files: Mapping[str, bytes]) -> ArpabetTokenizer:
        g2p_cfg = _g2p_kwargs(g2p_cfg, ("EnglishG2p",))
        encoding = g2p_cfg.pop("encoding", "latin-1")
        phoneme_dict = ArpabetG2p.read_cmudict(_artifact(g2p_cfg.pop("phoneme_dict", None), files, "phoneme_dict"),
                                               encoding)
        heteronyms = g2p_cfg.pop("heteronyms", None)
        g2p = ArpabetG2p(
            phoneme_dict,
            None if heteronyms is None else _heteronyms(_artifact(heteronyms, files, "heteronyms"), encoding),
            ignore_ambiguous_words=bool(g2p_cfg.pop("ignore_ambiguous_words", True)),
        )
        probability = g2p_cfg.pop("phoneme_probability", None)
        g2p_cfg.pop("mapping_file", None)  # stored by NeMo, never read
        _no_more(g2p_cfg, "EnglishG2p")
        _check_keys(cfg, ("punct", "non_default_punct_list", "stresses", "chars", "space", "silence", "apostrophe",
                          "oov", "sep", "add_blank_at", "pad_with_space"), "EnglishPhonemesTokenizer")
        return cls(g2p, phoneme_probability=probability, **_plain(cfg))

    def _g2p(self, text: str) -> list[str]:
        return self._run_g2p(self.g2p.g2p, english_text_preprocessing(text, lower=False))

    def _block_symbols(self, content: str) -> list[str]:
        return content.split()  # phonemes, as NeMo's |…| gives them (no spaces between them)

    def _adjust(self, symbol: str) -> str:
        if not self.stresses and len(symbol) == 3 and symbol.isalnum():
            return symbol[:2]  # AH0 -> AH
        return symbol

    def _accepts(self, symbol: str) -> bool:
        return ((symbol.isalnum() or symbol == "'") and symbol in self._table) or symbol in self.punct


class IpaTokenizer(NemoTokenizer):
    """NeMo's ``IPATokenizer`` with ``IpaG2p`` (IPA characters from a dictionary)."""

    def __init__(
        self,
        g2p: IpaG2p,
        *,
        locale: str | None = "en-US",
        punct: bool = True,
        non_default_punct_list: Sequence[str] | None = None,
        fixed_vocab: Sequence[str] | None = None,
        space: str = " ",
        silence: str | None = None,
        apostrophe: bool = False,
        oov: str = OOV,
        sep: str = "|",
        add_blank_at: Any | None = None,
        pad_with_space: bool = False,
    ) -> None:
        """The arguments of NeMo's constructor (``fixed_vocab`` narrows the G2P's dictionary, as in NeMo)."""
        self._preprocess: Callable[[str], str] = (
            _english_cased if locale == "en-US" else any_locale_text_preprocessing
        )
        if fixed_vocab:
            symbols = {self._preprocess(c) for c in fixed_vocab}
            if symbols != g2p.symbols:
                g2p.keep_only(symbols)
        else:
            symbols = set(g2p.symbols)
        if apostrophe:
            symbols.add("'")
        punct_list = list(non_default_punct_list) if non_default_punct_list is not None else ipa_punctuation(locale)
        if punct:
            symbols.update(punct_list)
        table = sorted(symbols)
        if space not in g2p.symbols:
            table.append(space)
        if silence is not None:
            table.append(silence)
        super().__init__(table, space=space, pad_with_space=pad_with_space, punct=punct_list if punct else (),
                         add_blank_at=add_blank_at, oov=oov, sep=sep)
        self.g2p = g2p
        self._table = frozenset(self.tokens)

    @classmethod
    def _from_config(cls, cfg: dict[str, Any], g2p_cfg: dict[str, Any], files: Mapping[str, bytes]) -> IpaTokenizer:
        g2p_cfg = _g2p_kwargs(g2p_cfg, ("IpaG2p", "IPAG2P"))
        phoneme_dict = IpaG2p.read_dict(_artifact(g2p_cfg.pop("phoneme_dict", None), files, "phoneme_dict"))
        heteronyms = g2p_cfg.pop("heteronyms", None)
        if isinstance(heteronyms, str):
            heteronyms = sorted(_heteronyms(_artifact(heteronyms, files, "heteronyms"), "utf-8"))
        probability = g2p_cfg.pop("phoneme_probability", None)
        g2p_cfg.pop("mapping_file", None)  # stored by NeMo, never read
        use_chars = bool(g2p_cfg.pop("use_chars", False)) or probability is not None
        kwargs = _plain(g2p_cfg)
        _check_keys(kwargs, ("locale", "ignore_ambiguous_words", "use_stresses", "grapheme_case", "grapheme_prefix"),
                    "IpaG2p")
        g2p = IpaG2p(phoneme_dict, heteronyms=list(heteronyms) if heteronyms else None, use_chars=use_chars, **kwargs)
        _check_keys(cfg, ("locale", "punct", "non_default_punct_list", "fixed_vocab", "space", "silence", "apostrophe",
                          "oov", "sep", "add_blank_at", "pad_with_space"), "IPATokenizer")
        return cls(g2p, **_plain(cfg))

    def _g2p(self, text: str) -> list[str]:
        return self._run_g2p(self.g2p.g2p, self._preprocess(text))

    def _block_symbols(self, content: str) -> list[str]:
        return list(unicodedata.normalize("NFC", " ".join(content.split())))

    def _accepts(self, symbol: str) -> bool:
        return symbol in self._table or symbol in self.punct


# --- config helpers ----------------------------------------------------------------------------


def _english_cased(text: str) -> str:
    return english_text_preprocessing(text, lower=False)


def _class_name(target: Any) -> str:
    if not isinstance(target, str) or not target:
        raise VoiceError(f"the NeMo tokenizer config has no _target_ (got {target!r})")
    return target.rsplit(".", 1)[-1]


def _g2p_kwargs(cfg: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """The G2P config without ``_target_`` (checked against ``names``); callables NeMo would take
    from code are refused."""
    if not cfg:
        raise VoiceError("the NeMo tokenizer config has no g2p section")
    cfg = dict(cfg)
    target = _class_name(cfg.pop("_target_", None))
    if target not in names:
        raise VoiceError(f"the NeMo G2P {target!r} is not supported here (expected {' or '.join(names)})")
    return cfg


def _check_keys(cfg: Mapping[str, Any], known: Sequence[str], what: str) -> None:
    for key, value in cfg.items():
        if key in _UNSUPPORTED and value is not None:
            raise VoiceError(f"{what}: {key} (a function) is not supported by sonorant's port of NeMo's tokenizer")
        if key not in known and key not in _UNSUPPORTED:
            raise VoiceError(f"{what}: unknown argument {key!r} (NeMo would refuse it too)")
        if isinstance(value, str) and value.startswith("${"):
            raise VoiceError(f"{what}: {key} is an unresolved interpolation {value!r}")


def _no_more(cfg: Mapping[str, Any], what: str) -> None:
    _check_keys(cfg, (), what)


def _plain(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Config values as plain Python (OmegaConf lists to lists), unsupported-but-None keys left out."""
    out: dict[str, Any] = {}
    for key, value in cfg.items():
        if key in _UNSUPPORTED:
            continue
        if not isinstance(value, (str, bytes, Mapping)) and isinstance(value, Iterable):
            value = list(value)
        out[key] = value
    return out


def _artifact(ref: Any, files: Mapping[str, bytes], what: str) -> bytes:
    """The bytes of the archive file a config value names (``nemo:<uuid>_<name>``, the stored name,
    or a path whose file name is that of exactly one stored ``<uuid>_<name>``)."""
    if not isinstance(ref, str) or not ref:
        raise VoiceError(f"the NeMo G2P config names no {what} file (got {ref!r})")
    name = ref.removeprefix("nemo:")
    if name in files:
        return files[name]
    base = PurePosixPath(name).name
    matches = [key for key in files if key == base or (key[32:33] == "_" and key[33:] == base)]
    if len(matches) == 1:
        return files[matches[0]]
    raise VoiceError(f"the .nemo archive has no file {ref!r} for the G2P's {what} (it has: {', '.join(sorted(files))})")


def _heteronyms(data: bytes, encoding: str) -> set[str]:
    return {line.rstrip() for line in read_lines(data, encoding)}
