"""The runtime's shape: `export/` sub-packages import only downward, the runtime never imports torch or `models`.

Layers (lowest first): export.core < export.onnx < export.autoencoder < export.poly < export.wavenet < export.banks
< export.app; then plugin_host (the chain) < realtime (the engine). Every import statement counts, lazy ones
inside functions too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXPORT_LAYERS = ("core", "onnx", "autoencoder", "poly", "wavenet", "banks", "app")
RUNTIME = ("export", "realtime", "plugin_host")


def imported_modules(path: Path) -> set[str]:
    """Every module an import statement in `path` names (relative imports resolved against its package)."""
    tree = ast.parse(path.read_text(), str(path))
    package = list(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def runtime_files() -> list[Path]:
    return sorted(p for pkg in RUNTIME for p in (ROOT / pkg).rglob("*.py"))


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "export" or len(parts) < 2 or parts[1] not in EXPORT_LAYERS:
        return None
    return EXPORT_LAYERS.index(parts[1])


def test_every_export_module_lives_in_a_layer() -> None:
    loose = [p.name for p in (ROOT / "export").glob("*.py") if p.name != "__init__.py"]
    assert loose == [], f"modules outside the sub-packages: {loose}"
    assert {p.name for p in (ROOT / "export").iterdir() if (p / "__init__.py").is_file()} == set(EXPORT_LAYERS)


@pytest.mark.parametrize("path", [p for p in runtime_files() if p.relative_to(ROOT).parts[0] == "export"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_export_imports_only_its_own_layer_or_lower(path: Path) -> None:
    own = layer_of(".".join(path.relative_to(ROOT).with_suffix("").parts))
    for module in imported_modules(path):
        top = module.split(".")[0]
        assert top not in ("models", "realtime", "plugin_host", "torch"), f"{path.name} imports {module}"
        layer = layer_of(module)
        if own is not None and layer is not None:
            assert layer <= own, f"{path.relative_to(ROOT)} (export.{EXPORT_LAYERS[own]}) imports {module}"


@pytest.mark.parametrize("path", [p for p in runtime_files() if p.relative_to(ROOT).parts[0] != "export"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_chain_and_engine_never_import_torch_or_models(path: Path) -> None:
    package = path.relative_to(ROOT).parts[0]
    for module in imported_modules(path):
        top = module.split(".")[0]
        assert top not in ("models", "torch"), f"{path.relative_to(ROOT)} imports {module}"
        if package == "plugin_host":
            assert top != "realtime", f"{path.relative_to(ROOT)} imports {module} (the engine is above the chain)"


def test_the_layer_check_sees_lazy_imports() -> None:
    """The scanner must find an import hidden inside a function (else the checks above could not fail)."""
    module = ROOT / "export" / "core" / "_scanner_probe.py"
    try:
        module.write_text("def f():\n    from export.app.cli import main\n    import torch\n")
        assert {"export.app.cli", "torch"} <= imported_modules(module)
        assert layer_of("export.app.cli") > layer_of("export.core.errors")
    finally:
        module.unlink()


def test_importing_every_runtime_module_loads_no_torch_and_no_models() -> None:
    """In a fresh interpreter: import all of export, plugin_host and realtime; neither torch nor `models`."""
    code = (
        "import importlib, pkgutil, sys\n"
        f"for pkg in {RUNTIME!r}:\n"
        "    p = importlib.import_module(pkg)\n"
        "    for m in pkgutil.walk_packages(p.__path__, pkg + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "print(sorted(k for k in sys.modules if k.split('.')[0] in ('torch', 'models')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_tests_mirror_the_package_layout() -> None:
    """Every folder of tests below tests/ names a package of the project (tests/export/wavenet -> export/wavenet)."""
    folders = {p.parent.relative_to(ROOT / "tests") for p in (ROOT / "tests").rglob("test_*.py")}
    for folder in folders - {Path(".")}:
        assert (ROOT / folder / "__init__.py").is_file(), f"tests/{folder} has no package {folder}"
    assert {f.parts[0] for f in folders if f.parts} == {"export", "models", "plugin_host", "realtime"}
