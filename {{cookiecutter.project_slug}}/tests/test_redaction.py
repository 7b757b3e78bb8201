"""The one set of redaction rules, as log lines and error reports use it."""

import time

import pytest

from {{ cookiecutter.project_slug }}.monitoring.redaction import (
    DEFAULT_MASKED_URL_PATHS,
    FILTERED,
    Redactor,
    mask_url_paths,
    redact,
)


def test_secret_keys_are_masked_at_any_depth_and_in_header_pairs():
    data = {
        "headers": {"Authorization": "Bearer a", "X-Api-Key": "b", "Accept": "json"},
        "env": {"HTTP_COOKIE": "c", "QUERY_STRING": "page=1&access_token=d"},
        "list": [{"new_password": "e"}, ["Set-Cookie", "f"], ("X-CSRFToken", "g")],
        "text": "<WSGIRequest: GET '/x/?page=1&api_key=h'>",
        "plain": "page=1",
        "count": 3,
    }
    expected = {
        "headers": {"Authorization": FILTERED, "X-Api-Key": FILTERED, "Accept": "json"},
        "env": {"HTTP_COOKIE": FILTERED, "QUERY_STRING": f"page=1&access_token={FILTERED}"},
        "list": [{"new_password": FILTERED}, ["Set-Cookie", FILTERED], ("X-CSRFToken", FILTERED)],
        "text": f"<WSGIRequest: GET '/x/?page=1&api_key={FILTERED}'>",
        "plain": "page=1",
        "count": 3,
    }
    for redactor in (redact, Redactor(allow_pii=True)):
        assert redactor(data) == expected
    # A copy: what the caller passed is left as it was.
    assert data["headers"]["Authorization"] == "Bearer a"


def test_inline_credentials_in_free_text():
    assert redact("Authorization: Bearer abc123 sent") == f"Authorization: Bearer {FILTERED} sent"
    assert redact('{"token": "abc", "id": 4}') == '{"token": ' + FILTERED + ', "id": 4}'
    assert redact("password=hunter2&next=/") == f"password={FILTERED}&next=/"
    assert redact("db at postgres://app:pw@db:5432/app") == (
        f"db at postgres://app:{FILTERED}@db:5432/app"
    )
    # Nothing to hide: text comes back unchanged.
    for text in ("GET /orders/ 200", "at 12:30, ratio=0.5", "empty password=", ""):
        assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A pair inside the value of another: the outer name is harmless, the inner not.
        ("GET http://x/p?token=abc&page=2", f"GET http://x/p?token={FILTERED}&page=2"),
        ("ValueError: password=hunter2", f"ValueError: password={FILTERED}"),
        ("login failed: token=abc", f"login failed: token={FILTERED}"),
        # E-mail addresses as query strings carry them, under any key.
        ("/signup/?contact=jane%40example.org&x=1", f"/signup/?contact={FILTERED}&x=1"),
        ("http://x/p?email=jane%40example.org&a=1", f"http://x/p?email={FILTERED}&a=1"),
        ("sent to jane%40Example.ORG", f"sent to {FILTERED}"),
        # Credentials in URLs anywhere in a string: an empty user, a DSN's key.
        ("cache at redis://:s3cr3t-pw@cache:6379/0", f"cache at redis://:{FILTERED}@cache:6379/0"),
        (
            "dsn https://0123456789abcdef0123456789abcdef@o1.ingest.example.io/7 refused",
            f"dsn https://{FILTERED}@o1.ingest.example.io/7 refused",
        ),
        ("clone ssh://git@gitserver/repo.git", "clone ssh://git@gitserver/repo.git"),
        # JSON inside a JSON string (a logged request body, an event's extra).
        (
            '{"body": "{\\"password\\": \\"hunter2\\", \\"id\\": 4}"}',
            '{"body": "{\\"password\\": ' + FILTERED + ', \\"id\\": 4}"}',
        ),
        ("password=ab\\cd next", f"password={FILTERED} next"),
        # An address under a personal key is masked once, as one value.
        ("?x=1&email=ada@example.com&a=1", f"?x=1&email={FILTERED}&a=1"),
    ],
)
def test_pairs_inside_values_and_url_encoded_addresses(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A URL inside a query string, encoded once: its own pairs are read decoded.
        ("/login/?next=%2Faccount%2F%3Ftoken%3Dabc123", f"/login/?next=/account/?token={FILTERED}"),
        ("url=https%3A%2F%2Fx%2F%3Fpassword%3Dpw1", f"url=https://x/?password={FILTERED}"),
        # Encoded names and form-encoded card numbers.
        ("pass%77ord=hunter2&x=1", f"password={FILTERED}&x=1"),
        ("?api%5Fkey=abc", f"?api_key={FILTERED}"),
        # A value masked in the raw form is not masked again in the decoded one.
        ("token=abc&next=%2F%3Fkey%3Dx", f"token={FILTERED}&next=/?key={FILTERED}"),
        ("q=4111+1111+1111+1111", f"q={FILTERED}"),
        ("q=4111%201111%201111%201111", f"q={FILTERED}"),
        # An address encoded twice (a URL in a URL).
        ("/?next=%2F%3Fcontact%3Djane%2540example.org", f"/?next=/?contact={FILTERED}"),
        # Nothing to hide: the raw form is kept, encoding and all.
        ("/search/?q=caf%C3%A9+au+lait&page=2", "/search/?q=caf%C3%A9+au+lait&page=2"),
        ("disk 95% full, 1+1", "disk 95% full, 1+1"),
    ],
)
def test_url_encoded_names_and_values_are_read_decoded(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A pair behind a harmless one, whatever the value of the harmless one looks like.
        ("Name: password=hunter2", f"Name: password={FILTERED}"),
        ("Error: secret: abc", f"Error: secret: {FILTERED}"),
        ("Invalid: 'password'='hunter2'", f"Invalid: 'password'={FILTERED}"),
        (r"bad value \"token\": \"abc\" in body", rf"bad value \"token\": {FILTERED} in body"),
        ("token: abc", f"token: {FILTERED}"),
        # A quoted value runs to its closing quote, escaped quotes and blanks included.
        ('password="a\\"b c" next', f"password={FILTERED} next"),
        ("password: 'hunter 2' end", f"password: {FILTERED} end"),
        # The repr of an exception whose message has quotes escapes them; JSON in it twice.
        (r"ValueError('bad: \'token\'=\'abc\'')", rf"ValueError('bad: \'token\'={FILTERED}')"),
        (r"""repr('\\"token\\": \\"abc\\"')""", rf"""repr('\\"token\\": {FILTERED}')"""),
        # A repr cut short keeps no part of its value.
        ("{'password': 'hunter2...", "{'password': " + FILTERED),
    ],
)
def test_secret_pairs_inside_free_text(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgres://app:p@ss@db:5432/app", f"postgres://app:{FILTERED}@db:5432/app"),
        ("http://host:8000/?to=a", "http://host:8000/?to=a"),
    ],
)
def test_url_passwords_run_to_the_authoritys_last_at(text, expected):
    assert Redactor(allow_pii=True)(text) == expected


def test_url_encoded_addresses_stay_when_personal_data_is_allowed():
    text = "/signup/?contact=jane%40example.org"
    assert Redactor(allow_pii=True)(text) == text


def test_personal_data_is_masked_unless_allowed():
    data = {
        "email": "ada@example.com",
        "username": "ada",
        "note": "mail ada@example.com",
        # A task argument as a frame variable's repr; a Celery node name is no address.
        "vars": {"customer": "'ada@example.com'", "node": "celery@worker-1"},
        "id": 7,
    }
    assert redact(data) == {
        "email": FILTERED,
        "username": FILTERED,
        "note": f"mail {FILTERED}",
        "vars": {"customer": f"'{FILTERED}'", "node": "celery@worker-1"},
        "id": 7,
    }
    assert Redactor(allow_pii=True)(data) == data
    # Secrets stay masked either way.
    assert Redactor(allow_pii=True)({"X-Forwarded-For": "1.2.3.4", "session_id": "s"}) == {
        "X-Forwarded-For": "1.2.3.4",
        "session_id": FILTERED,
    }


@pytest.mark.parametrize(
    "key",
    ["Authorization", "HTTP_AUTHORIZATION", "proxy-authorization", "authorisation", "oauth"],
)
def test_auth_names_are_secret(key):
    assert redact({key: "v"}) == {key: FILTERED}


def test_a_plain_key_is_secret_but_not_a_word_containing_it():
    assert redact({"key": "k-1", "Key": "k-2", "monkey": "m", "primary_key": 3}) == {
        "key": FILTERED,
        "Key": FILTERED,
        "monkey": "m",
        "primary_key": 3,
    }
    assert redact("GET /maps/?key=AIza-123&zoom=3") == f"GET /maps/?key={FILTERED}&zoom=3"


@pytest.mark.parametrize("key", ["author", "authored_by", "authority", "book_author"])
def test_author_names_are_not_secret(key):
    assert redact({key: "Ada"}) == {key: "Ada"}


def test_configured_secrets_are_masked_wherever_they_appear():
    url = "https://hooks.example.com/services/T0/B0/abcdef123"
    redactor = Redactor(secret_values=(url, "abcdef123", "short", ""))
    assert redactor({"crumb": f"POST {url}", "data": {"url": url}, "other": "abcdef123!"}) == {
        "crumb": f"POST {FILTERED}",
        "data": {"url": FILTERED},
        "other": f"{FILTERED}!",
    }
    # Too short to tell apart from ordinary text: left to the other rules.
    assert redactor("a short note") == "a short note"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("charge 4111111111111111 now", f"charge {FILTERED} now"),
        ("card 4111 1111 1111 1111, exp 12/30", f"card {FILTERED}, exp 12/30"),
        ("[5500-0000-0000-0004, 'EUR']", f"[{FILTERED}, 'EUR']"),
        # Not Luhn-valid, or too short: an order number, a timestamp, a phone number.
        ("order 4111111111111112", "order 4111111111111112"),
        ("at 1764664200001 ms", "at 1764664200001 ms"),
        ("call +33 6 12 34 56 78", "call +33 6 12 34 56 78"),
        # A float's digits, even when they pass the check (Celery's "succeeded in" line).
        ("succeeded in 2.0030687379985466s", "succeeded in 2.0030687379985466s"),
        ("ratio 4111111111111111.5", "ratio 4111111111111111.5"),
    ],
)
def test_card_numbers_are_masked_in_text(text, expected):
    for redactor in (redact, Redactor(allow_pii=True)):
        assert redactor(text) == expected


def test_card_numbers_are_masked_as_integers_too():
    assert redact({"card": 4111111111111111, "order": 4111111111111112, "n": 7, "ok": True}) == {
        "card": FILTERED,
        "order": 4111111111111112,
        "n": 7,
        "ok": True,
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/accounts/reset/MQ/c4k9x2-0123abcd/", f"/accounts/reset/{FILTERED}/{FILTERED}/"),
        (
            "GET https://app.example.com/reset/MQ/c4k9x2-0123abcd/?next=/",
            f"GET https://app.example.com/reset/{FILTERED}/{FILTERED}/?next=/",
        ),
        # A route pattern (a transaction name) and other paths stay as they are.
        ("/reset/<uidb64>/<token>/", "/reset/<uidb64>/<token>/"),
        ("/reset/{uidb64}/{token}/", "/reset/{uidb64}/{token}/"),
        ("/reset/done/", "/reset/done/"),
        ("/orders/12/", "/orders/12/"),
    ],
)
def test_password_reset_paths_are_masked_by_default(text, expected):
    assert Redactor(allow_pii=True)(text) == expected


def test_masked_url_paths_can_be_replaced():
    try:
        mask_url_paths(["/invite/<code>/", "/files/<file_id>/download/<signature>"])
        assert redact("/invite/abc123/ then /files/7/download/s1g") == (
            f"/invite/{FILTERED}/ then /files/{FILTERED}/download/{FILTERED}"
        )
        assert redact("/reset/MQ/c4k9x2-0123abcd/") == "/reset/MQ/c4k9x2-0123abcd/"
    finally:
        mask_url_paths(DEFAULT_MASKED_URL_PATHS)


def test_long_words_take_linear_time():
    """A pair's name, or an address, starts only where a word does (a base64 blob in a
    body, a long id): tried at each of its letters, 2,000 of them took 120 ms."""
    blob = "QUJD" * 5_000
    text = r"body: \"note\": \"" + blob + ", sent by a@b " + blob
    started = time.perf_counter()
    assert redact(text) == text
    assert time.perf_counter() - started < 0.5
