"""Validate the answers before cookiecutter writes the project.

Each rule lives in a small function that returns an error sentence or None, so
the rules can be unit-tested without rendering anything. The hook prints one
plain sentence per invalid answer, saves the answers in a replay file and prints
the command that renders them once fixed (`cruft create`'s when cruft ran), then
exits 1; cookiecutter removes the folder it had just created, so nothing
half-rendered is left behind.
"""

from __future__ import annotations

import json
import keyword
import math
import re
import shlex
import sys
import zoneinfo
from pathlib import Path

# Names a project package must not take: it would shadow these imports.
SHADOWED_MODULES = frozenset(
    {
        "celery",
        "config",
        "django",
        "environ",
        "gunicorn",
        "kombu",
        "prometheus_client",
        "psycopg",
        "pytest",
        "pythonjsonlogger",
        "redis",
        "scripts",
        "sentry_sdk",
        "structlog",
        "test",
        "tests",
        "whitenoise",
    }
)
SLUG_RE = re.compile(r"^[a-z][a-z0-9_]*$")
EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`|~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
DOMAIN_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
UNSAFE_TEXT_RE = re.compile(r'["\\\x00-\x1f\x7f{}]')
# Saved in the output folder, in cookiecutter's replay format (`--replay-file`).
ANSWERS_FILE = "cookiecutter-answers.json"
# The same, when cruft rendered: a flat object, as `cruft create --extra-context-file` reads.
CRUFT_ANSWERS_FILE = "cruft-answers.json"
YES_NO_KEYS = (
    "use_sentry",
    "use_sentry_profiling",
    "sentry_send_default_pii",
    "use_prometheus",
    "use_kubernetes",
)


def check_slug(slug: str) -> str | None:
    if not SLUG_RE.match(slug):
        return (
            f"project_slug '{slug}' is not allowed: use lower-case letters, digits and "
            "underscores, starting with a letter (e.g. my_project)."
        )
    if keyword.iskeyword(slug) or slug in SHADOWED_MODULES or slug in sys.stdlib_module_names:
        return (
            f"project_slug '{slug}' is not allowed: it would shadow the Python module of the "
            "same name; pick another name (e.g. my_project)."
        )
    return None


def check_text(key: str, value: str) -> str | None:
    if not value.strip():
        return f"{key} '{value}' is not allowed: it must not be empty."
    if UNSAFE_TEXT_RE.search(value):
        return (
            f"{key} '{value}' is not allowed: it must be one line without double quotes, "
            "backslashes or curly braces."
        )
    return None


def check_email(email: str) -> str | None:
    if EMAIL_RE.match(email) and len(email) <= 254:
        return None
    return f"author_email '{email}' is not allowed: give an address such as you@example.com."


def check_domain(domain: str) -> str | None:
    labels = domain.split(".")
    if len(domain) <= 253 and len(labels) >= 2 and all(DOMAIN_LABEL_RE.match(x) for x in labels):
        return None
    return (
        f"domain_name '{domain}' is not allowed: give a lower-case host name such as "
        "example.com, without scheme, port or path."
    )


def check_timezone(name: str) -> str | None:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return (
            f"timezone '{name}' is not allowed: give an IANA time zone name such as UTC or "
            "Europe/Paris."
        )
    return None


def check_yes_no(key: str, value: str) -> str | None:
    if value in ("y", "n"):
        return None
    return f"{key} '{value}' is not allowed: answer y or n."


def check_rate(key: str, value: str) -> str | None:
    try:
        rate = float(value)
    except ValueError:
        rate = math.nan
    if 0.0 <= rate <= 1.0:
        return None
    return f"{key} '{value}' is not allowed: give a number from 0 to 1 (e.g. 0.1)."


def validate(answers: dict[str, str]) -> list[str]:
    """Return one sentence per invalid answer, in prompt order."""
    errors = [
        check_text("project_name", answers["project_name"]),
        check_slug(answers["project_slug"]),
        check_text("description", answers["description"]),
        check_text("author_name", answers["author_name"]),
        check_email(answers["author_email"]),
        check_domain(answers["domain_name"]),
        check_timezone(answers["timezone"]),
    ]
    errors += [check_yes_no(key, answers[key]) for key in YES_NO_KEYS]
    # Sentry answers only matter when Sentry is on (the contract says: ignored otherwise).
    if answers["use_sentry"] == "y":
        errors.append(check_rate("sentry_traces_sample_rate", answers["sentry_traces_sample_rate"]))
        if answers["use_sentry_profiling"] == "y":
            errors.append(
                check_rate("sentry_profiles_sample_rate", answers["sentry_profiles_sample_rate"])
            )
    return [error for error in errors if error]


def save_answers(path: Path, answers: dict[str, object]) -> None:
    path.write_text(json.dumps({"cookiecutter": answers}, indent=2, ensure_ascii=False) + "\n")


def save_cruft_answers(path: Path, answers: dict[str, object]) -> None:
    """The prompted answers only: cruft sets its own keys (the template, the commit)."""
    prompted = {key: value for key, value in answers.items() if not key.startswith("_")}
    path.write_text(json.dumps(prompted, indent=2, ensure_ascii=False) + "\n")


def fix_and_run(answers_file: str, command: list[str]) -> str:
    return (
        f"Your answers are saved in {answers_file}: correct the ones named above in that file, "
        f"then run\n  {shlex.join(command)}"
    )


def retry_hint(answers_file: str, template: str, output_dir: str) -> str:
    """How to render the saved answers once the bad ones are fixed; paths as typed."""
    command = ["cookiecutter", "--replay-file", answers_file, template]
    if output_dir != ".":
        command += ["-o", output_dir]
    return fix_and_run(answers_file, command)


def cruft_retry_hint(answers_file: str, template: str, output_dir: str) -> str:
    """The same for `cruft create`, which tells the hooks nothing of where it ran: full paths."""
    command = ["cruft", "create", "--no-input", "--extra-context-file", answers_file, template]
    return fix_and_run(answers_file, [*command, "--output-dir", output_dir])


def main() -> int:
    # Every answer, and cookiecutter's own keys (the template, the output folder): the
    # JSON text as a JSON string, which is a valid Python string literal too.
    answers = json.loads({{ cookiecutter | tojson | tojson }})  # fmt: skip
    errors = validate(answers)
    if not errors:
        return 0
    for error in errors:
        print(f"ERROR: {error}", file=sys.stderr)
    if "_output_dir" not in answers:
        # cruft renders through cookiecutter's generate_files, which sets no _output_dir.
        # The hook runs in the project folder, which is removed after it: the answers go
        # beside it, in the output folder.
        saved = Path.cwd().parent / CRUFT_ANSWERS_FILE
        save_cruft_answers(saved, answers)
        hint = cruft_retry_hint(str(saved), answers["_template"], str(saved.parent))
        print(hint, file=sys.stderr)
        return 1
    save_answers(Path(answers["_output_dir"], ANSWERS_FILE), answers)
    # The output folder as typed where cookiecutter ran (local_extensions.py).
    output_dir = {{ cookiecutter._output_dir|default("")|from_invocation_dir|tojson }}  # fmt: skip
    answers_file = str(Path(output_dir, ANSWERS_FILE))
    print(retry_hint(answers_file, answers["_template"], output_dir), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
