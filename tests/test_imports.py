"""The package's import structure: no import circles, and model families stay behind the family seam.

Every `import` in `src/sonorant` is read with `ast` (nothing is imported). Module-level imports (outside
`if TYPE_CHECKING:`) must form no cycle; imports anywhere (also inside functions) of a family package
(`sonorant.models.<family>`) may only come from that family itself or from its loaders (`LOADERS` below); tests are not part of the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sonorant

ROOT = Path(sonorant.__file__).parent
FAMILIES = ("vits", "fastpitch", "hifigan", "tacotron2", "waveglow", "tokens", "encodec", "units")
"""Family packages under sonorant.models (hifigan and waveglow: vocoder families; tokens: the token
transformer behind toktts, Spear-TTS and trained token voices; encodec and units: codecs)."""
_TOKEN_LOADERS = ("sonorant.voices.toktts", "sonorant.voices.toktts_loader", "sonorant.voices.speartts",
                  "sonorant.voices.speartts_loader", "sonorant.voices.tokenvoice_loader",
                  "sonorant.voices.token_source")
LOADERS = {
    "vits": ("sonorant.voices.piper", "sonorant.voices.piper_loader", "sonorant.voices.piper_export"),
    "fastpitch": ("sonorant.voices.nemo", "sonorant.voices.nemo_loader"),
    "hifigan": ("sonorant.voices.nemo", "sonorant.voices.nemo_loader", "sonorant.models.fastpitch"),
    "tacotron2": ("sonorant.voices.nvidia", "sonorant.voices.nvidia_loader"),
    "waveglow": ("sonorant.voices.nvidia", "sonorant.voices.nvidia_loader", "sonorant.models.tacotron2"),
    "tokens": (*_TOKEN_LOADERS, "sonorant.train.token_model", "sonorant.train.token_eval"),
    "encodec": ("sonorant.voices.encodec",),
    "units": ("sonorant.voices.units",),
}
"""The modules (besides the family's own) allowed to import each family: its loaders (and, for the token
model, the trainer, a leaf). FastPitch pairs with the mel vocoder family, Tacotron2 with WaveGlow."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """(module-level imports outside TYPE_CHECKING, every import anywhere) of one file, as module names."""
    module = _module_name(path)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))

    def names(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Import):
            found = [a.name for a in node.names]
        else:
            assert isinstance(node, ast.ImportFrom)
            base = _resolve(module, is_package, node.level, node.module)
            found = [base] + [f"{base}.{a.name}" for a in node.names]
        return [n for n in found if n.startswith("sonorant")]

    def top_level(body: list[ast.stmt]) -> set[str]:
        """Imports that run when the module is imported: not in functions, classes or TYPE_CHECKING blocks."""
        out: set[str] = set()
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                out.update(names(node))
            elif isinstance(node, ast.If):
                out |= top_level(node.orelse) | (set() if _is_type_checking(node) else top_level(node.body))
            elif isinstance(node, ast.Try):
                out |= top_level(node.body) | top_level(node.orelse) | top_level(node.finalbody)
                for handler in node.handlers:
                    out |= top_level(handler.body)
            elif isinstance(node, ast.With):
                out |= top_level(node.body)
        return out

    everywhere = {n for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom)) for n in names(node)}
    return top_level(tree.body), everywhere


def _graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    files = {_module_name(p): p for p in ROOT.rglob("*.py")}
    top, anywhere = {}, {}
    for name, path in files.items():
        t, a = _imports(path)
        # An import of `pkg.mod.attr` is an import of the module `pkg.mod` (or of `pkg.mod.attr` if that is one).
        top[name] = {m if m in files else m.rpartition(".")[0] for m in t} & set(files) - {name}
        anywhere[name] = {m if m in files else m.rpartition(".")[0] for m in a} & set(files) - {name}
    return top, anywhere


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_the_walk_sees_the_package() -> None:
    top, anywhere = _graph()
    assert "sonorant.engine.engine" in top and "sonorant.models.base" in top["sonorant.engine.engine"]
    assert "sonorant.voices.registry" in anywhere["sonorant"]  # inside load_voice ...
    assert "sonorant.voices.registry" not in top["sonorant"]  # ... so not when sonorant is imported
    assert "sonorant.models.vits" in anywhere["sonorant.voices.piper"]


def test_no_import_circles() -> None:
    top, _ = _graph()
    # A package's __init__ importing its own submodules is how packages work, not a circle: drop the edges
    # from a submodule back to its own package.
    graph = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in top.items()}
    assert _cycles(graph) == []


@pytest.mark.parametrize("family", FAMILIES)
def test_only_a_family_and_its_loaders_import_it(family: str) -> None:
    _, anywhere = _graph()
    package = f"sonorant.models.{family}"
    offenders = sorted(m for m, deps in anywhere.items()
                       if any(d == package or d.startswith(package + ".") for d in deps)
                       and not (m == package or m.startswith(package + "."))
                       and not any(m == ok or m.startswith(ok + ".") for ok in LOADERS[family]))
    assert offenders == []
