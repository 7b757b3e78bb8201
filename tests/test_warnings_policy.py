"""The render's suite runs with warnings as errors, in pytest and in the processes it starts.

The suite itself runs in tests/test_generated_project.py; this checks the policy that makes
that run a `-W error` run, so it can't be dropped or widened unnoticed.
"""

from __future__ import annotations

import re
import tomllib

from .conftest import ALL_OFF

# PYTHONWARNINGS takes the message and module literally and splits entries on commas.
LITERAL = re.compile(r"[^,\\\[\]()*+?{}|^$]*")


def test_every_warning_is_an_error_but_a_few_named_ones(bake):
    for answers in ({}, ALL_OFF):
        project = bake(**answers)
        pytest_config = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["pytest"]
        filters = pytest_config["ini_options"]["filterwarnings"]
        assert filters[0] == "error"
        for entry in filters[1:]:
            action, message, category, *_ = entry.split(":")
            assert action == "ignore", entry
            assert message and category, f"{entry}: an ignore names its message and category"
            assert LITERAL.fullmatch(entry), f"{entry}: PYTHONWARNINGS would read it otherwise"
        conftest = (project / "tests" / "conftest.py").read_text()
        assert 'os.environ["PYTHONWARNINGS"]' in conftest
        assert 'config.getini("filterwarnings")' in conftest
