"""Dependencies point one way: command line and tools → services → shared, and inside a
service the domain is pure (it imports no other layer of its service). Every import
counts, function-local ones included."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).parents[3]
TREES = {"hotro.shared": ROOT / "shared", "hotro.services": ROOT / "services",
         "hotro": ROOT / "hotro"}
SERVICES = ("intake", "routing", "sla", "notify")


def _modules() -> Iterator[tuple[str, Path]]:
    for package, folder in TREES.items():
        for path in sorted(folder.rglob("*.py")):
            relative = path.relative_to(folder)
            if package == "hotro" and relative.parts[0] in ("services", "shared"):
                continue  # the symlinks to the top-level folders
            parts = [*relative.with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join([package, *parts]), path


def _imports(module: str, path: Path) -> Iterator[tuple[int, str]]:
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            yield node.lineno, base
            for alias in node.names:  # `from pkg import module`
                yield node.lineno, f"{base}.{alias.name}"


def _layer(module: str) -> tuple[str, str | None]:
    parts = module.split(".")
    if parts[0] != "hotro":
        return "external", None
    if len(parts) > 1 and parts[1] == "shared":
        return "shared", None
    if len(parts) > 2 and parts[1] == "services":
        return "service", parts[2]
    if len(parts) == 2 and parts[1] == "services":
        return "service", None
    return "cli", None


def _violation(importer: str, imported: str) -> str | None:
    source, source_service = _layer(importer)
    target, target_service = _layer(imported)
    if target == "external":
        if imported.split(".")[0] in ("services", "shared"):
            return "imports the old top-level layout"
        return None
    if source == "shared" and target != "shared":
        return "shared imports upward"
    if source == "service":
        if target == "cli":
            return "a service imports the command line"
        if target == "service" and target_service not in (None, source_service):
            return "a service imports another service"
        parts = importer.split(".")
        if len(parts) > 3 and parts[3] == "domain" and target == "service":
            inner = imported.split(".")
            if len(inner) > 3 and inner[3] != "domain":
                return "the domain imports another layer of its service"
    return None


def test_every_import_points_down() -> None:
    found = []
    for module, path in _modules():
        for line, imported in _imports(module, path):
            why = _violation(module, imported)
            if why:
                found.append(f"{path.relative_to(ROOT)}:{line} {imported}: {why}")
    assert found == []


def test_the_checker_sees_backward_arrows() -> None:
    assert _violation("hotro.shared.runtime.host", "hotro.services.sla.domain")
    assert _violation("hotro.shared.privacy.kv", "hotro.audit.verify")
    assert _violation("hotro.services.sla.application", "hotro.services.notify.domain")
    assert _violation("hotro.services.intake.api", "hotro.cli")
    assert _violation("hotro.services.sla.domain", "hotro.services.sla.application")
    assert _violation("hotro.services.sla.api", "services.sla.domain")
    assert not _violation("hotro.services.sla.application", "hotro.services.sla.domain")
    assert not _violation("hotro.audit.timeline", "hotro.services.sla.domain")
    assert not _violation("hotro.services.routing.domain.case",
                          "hotro.services.routing.domain.workflow")
