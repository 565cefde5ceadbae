"""Training of token models (`sonorant train`): config, cached data, the trainer, evaluation, pseudo-labelling.

A leaf package: it imports models and the rest of sonorant; nothing in sonorant imports it (the CLI
registers its subcommands lazily). Importing it loads no tensor library; the names below load on first use.

    from sonorant.train import Trainer, load_config, register_model
    register_model("my_kind", build=lambda options: MyModel(**options))
    Trainer(load_config("run.yaml")).run()
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TrainConfig": "config", "load_config": "config", "parse_config": "config", "schema_text": "config",
    "Trainer": "trainer", "TrainResult": "trainer", "TrainingDiverged": "trainer", "load_splits": "trainer",
    "TokenModel": "models", "TokenSpec": "models", "register_model": "models", "MODELS": "models",
    "register_codec": "data", "CODECS": "data", "tokenize_manifest": "data",
    "register_frontend": "frontends", "FRONTENDS": "frontends",
    "pseudo_label": "pseudo", "greedy_generate": "generate", "apply_freeze": "freeze", "evaluate": "evaluate",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
