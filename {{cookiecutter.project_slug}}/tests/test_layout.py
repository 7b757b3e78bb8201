"""The package's import layers, checked on the source (the project's lint contract).

- monitoring is the base the other apps build on: an app that an option adds may import
  it; monitoring imports none of the other apps, nor the project's config (which imports
  monitoring), so each app can be taken out or put in alone;
- the example app (orders) uses monitoring's public modules only (PUBLIC_MONITORING),
  as your own apps should: the rest may change without notice;
- context and redaction, which every other module uses, import nothing of the project.
"""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import PROJECT_DIR

PACKAGE = "{{ cookiecutter.project_slug }}"
MONITORING = f"{PACKAGE}.monitoring"
# What an app of yours may import from monitoring.
PUBLIC_MONITORING = {
    MONITORING,
    f"{MONITORING}.context",
{%- if cookiecutter.use_sentry == "y" %}
    f"{MONITORING}.sentry",
{%- endif %}
    f"{MONITORING}.tracing",
}


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


def project_imports(path: Path) -> set[str]:
    return {
        name
        for name in imported_modules(path)
        if name in (PACKAGE, "config") or name.startswith((f"{PACKAGE}.", "config."))
    }


def test_orders_uses_only_the_public_monitoring_modules():
    internals = {
        f"{path.relative_to(PROJECT_DIR)}: {name}"
        for path in (PROJECT_DIR / PACKAGE / "orders").rglob("*.py")
        for name in project_imports(path)
        if name.startswith(MONITORING) and name not in PUBLIC_MONITORING
    }
    assert internals == set()


def test_context_and_redaction_import_nothing_of_the_project():
    for module in ("context", "redaction"):
        path = PROJECT_DIR / PACKAGE / "monitoring" / f"{module}.py"
        assert project_imports(path) == set(), module
