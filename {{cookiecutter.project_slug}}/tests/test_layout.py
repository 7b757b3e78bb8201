"""The package's one dependency rule: monitoring is the base the other apps build on.

An app that an option adds may import monitoring; monitoring imports none of the other
apps, nor the project's config (which imports monitoring), so each app can be taken out
or put in alone.
"""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import PROJECT_DIR

PACKAGE = "{{ cookiecutter.project_slug }}"
MONITORING = f"{PACKAGE}.monitoring"


def imported_modules(path: Path) -> set[str]:
    """Absolute names of the modules `path` imports (relative imports resolved)."""
    package = ".".join(path.relative_to(PROJECT_DIR).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = package.rsplit(".", node.level - 1)[0]
            if node.module:
                names.add(f"{base}.{node.module}")
            else:
                names.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module or "")
    return names


def test_imported_modules_resolves_relative_imports():
    health = PROJECT_DIR / PACKAGE / "monitoring" / "health" / "views.py"
    assert f"{MONITORING}.health.runner" in imported_modules(health)


def test_monitoring_imports_no_other_app_and_not_the_config():
    outside = {
        f"{path.relative_to(PROJECT_DIR)}: {name}"
        for path in (PROJECT_DIR / PACKAGE / "monitoring").rglob("*.py")
        for name in imported_modules(path)
        if name == "config"
        or name.startswith("config.")
        or (name.startswith(f"{PACKAGE}.") and not name.startswith(f"{MONITORING}."))
    }
    assert outside == set()
