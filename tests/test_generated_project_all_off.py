"""The all-off render's own suite on this machine's services (tests/render_suites.py)."""

from __future__ import annotations

import pytest

from .conftest import ALL_OFF
from .render_suites import run_render_suite


@pytest.mark.slow
def test_all_off_render_suite_passes_on_real_services(bake, service_env):
    """Without the `.env` the generator wrote, as the render's CI has it on a fresh clone."""
    project = bake(**ALL_OFF)
    (project / ".env").unlink()
    run_render_suite(project, service_env, prometheus=False)
