"""What the prompts say, and what the root README says about them."""

from __future__ import annotations

import re

from .conftest import ALL_OFF, DEFAULTS, REPO_DIR

PROMPTS: dict[str, str] = DEFAULTS["__prompts__"]
# The answers that only matter when use_sentry=y (pre_gen_project.validate skips them).
SENTRY_SUB_KEYS = [key for key in DEFAULTS if key.startswith(("sentry_", "use_sentry_"))]
# What a render with every option off does not have.
ABSENT_WHEN_ALL_OFF = re.compile(r"error monitoring|alerting", re.IGNORECASE)


def readme_prompt_rows() -> dict[str, str]:
    """The root README's prompt table: each key named in the first column, and its row."""
    text = (REPO_DIR / "README.md").read_text()
    table = text.split("## Prompts", 1)[1].strip().split("\n\n", 1)[0]
    rows = {}
    for line in table.splitlines()[2:]:  # past the header and its separator
        first_column = line.split("|")[1]
        rows |= dict.fromkeys(re.findall(r"`(\w+)`", first_column), line)
    return rows


def test_every_prompt_has_a_text():
    assert PROMPTS.keys() == {key for key in DEFAULTS if not key.startswith("_")}


def test_sentry_sub_prompts_say_they_are_ignored_when_sentry_is_off():
    assert len(SENTRY_SUB_KEYS) == 4, SENTRY_SUB_KEYS
    silent = [key for key in SENTRY_SUB_KEYS if "ignored when Sentry is off" not in PROMPTS[key]]
    assert silent == []


def test_readme_lists_every_prompt_and_the_sentry_caveat():
    rows = readme_prompt_rows()
    assert rows.keys() == PROMPTS.keys()
    silent = [key for key in SENTRY_SUB_KEYS if "ignored when `use_sentry=n`" not in rows[key]]
    assert silent == []


def test_all_off_render_does_not_claim_what_it_lacks(bake):
    project = bake(**ALL_OFF)
    (description,) = [
        line
        for line in (project / "pyproject.toml").read_text().splitlines()
        if line.startswith("description = ")
    ]
    readme_intro = (project / "README.md").read_text().split("\n\n")[1]
    assert not ABSENT_WHEN_ALL_OFF.search(description), description
    assert not ABSENT_WHEN_ALL_OFF.search(readme_intro), readme_intro
