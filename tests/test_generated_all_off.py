"""The all-off render's own suite on real services (test_generated_project.py says how).

A file of its own so that `--dist loadfile` gives it to the other xdist worker than the
default render's: the two longest tests of the suite then run side by side.
"""

import pytest

from .conftest import ALL_OFF
from .test_generated_project import run_generated_suite


@pytest.mark.slow
def test_the_all_off_render_s_suite_passes_on_real_services(bake, service_env):
    """Without a `.env`, as the render's CI runs on a fresh clone."""
    run_generated_suite(bake, service_env, ALL_OFF, keep_env_file=False)
