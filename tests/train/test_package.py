"""sonorant.train is a leaf: only the command line (lazily) imports it, and registering its subcommands loads
no tensor library."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import sonorant

ROOT = Path(sonorant.__file__).parent


def _imports_train(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module.startswith("sonorant.train") or (node.level and module.startswith("train")):
                return True
        elif isinstance(node, ast.Import) and any(a.name.startswith("sonorant.train") for a in node.names):
            return True
    return False


def test_nothing_but_the_cli_imports_train() -> None:
    importers = sorted(str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py")
                       if "train" not in p.relative_to(ROOT).parts and _imports_train(p))
    assert importers == ["__main__.py"]


def test_the_cli_parser_does_not_load_torch() -> None:
    code = ("import sys; from sonorant.__main__ import _build_parser; _build_parser(); import sonorant.train; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr
