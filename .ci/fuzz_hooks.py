"""schemathesis hooks for .ci/fuzz (loaded through SCHEMATHESIS_HOOKS).

Some schema-valid values are refused by design, as the schema's descriptions say in words, and one
kind of request schemathesis calls valid is not:

- the task writes refuse a `category_id` that is not the id of one of the signed-in user's
  categories (no schema can list which ids exist, and the fuzzer's own requests delete the
  categories it created), and a `due_date` outside 0001-01-02..9999-12-30 UTC (JSON Schema has no
  bounds for dates; the generator does reach 0001-01-01);
- the webhook writes refuse a `url` that is not https to a public address (webhooks.addresses: no
  schema says which hosts are public);
- the task list refuses a `search` term without three letters or digits in a row (what the trigram
  indexes look up; no regular expression of Unicode letters is common to JSON Schema's dialects);
- schemathesis's coverage phase only writes letters and digits into headers, so for `If-Match` and
  `If-None-Match`, whose every value has a quote or a `*`, it has no valid value: it sends a wrong
  one ("0") in cases it counts as valid.

So the built-in positive_data_acceptance check takes a 400 (.ci/schemathesis.toml), and the check
below holds every valid case to the rule with exactly these exceptions. tests/test_hostile_input.py,
todos/tests/test_search.py and todos/tests/test_conditional_requests.py cover each refusal.
"""

import os
import re
import sys
from pathlib import Path

import django
import schemathesis

# The project's own rules, read from its code: .ci/fuzz exports the server's settings.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from ironclad.conditional import CONDITION_PATTERN  # noqa: E402
from todos.filters import SEARCHABLE  # noqa: E402
from webhooks.addresses import refusal_of  # noqa: E402

TASK_WRITES = {"POST /api/tasks", "PUT /api/tasks/{id}", "PATCH /api/tasks/{id}"}
# Operations whose 400s schemathesis.toml accepts for reasons of their own.
OWN_RULES = {"POST /api/tasks/bulk", "GET /api/changes"}
ACCEPTED = {401, 403, 404, 409, 410, 412, 422, 429}  # positive_data_acceptance's, besides 2xx, 3xx and 400
TASK_REFUSALS = {"category_id": "does not exist", "due_date": "Must be from 0001-01-02"}
WEBHOOK_WRITES = {"POST /api/webhooks", "PATCH /api/webhooks/{id}"}
CONDITIONS = ("If-Match", "If-None-Match")


def documented(field: str, messages: list, case) -> bool:
    """Whether a valid case's 400 for `field` is one of the refusals the module's docstring lists."""
    label = case.operation.label
    if label in TASK_WRITES and field in TASK_REFUSALS:
        return TASK_REFUSALS[field] in messages[0]
    if label in WEBHOOK_WRITES and field == "url":
        sent = (case.body or {}).get("url") if isinstance(case.body, dict) else None
        return isinstance(sent, str) and refusal_of(sent) == messages[0]
    if label == "GET /api/tasks" and field == "search":
        return not SEARCHABLE.search(str((case.query or {}).get("search", "")))
    if field in CONDITIONS:
        sent = (case.headers or {}).get(field)
        return sent is not None and not re.search(CONDITION_PATTERN, str(sent))
    return False


@schemathesis.check
def valid_data_is_refused_only_as_documented(ctx, response, case):
    if case.operation.label in OWN_RULES or case.meta is None:
        return None
    if not case.meta.generation.mode.is_positive:
        return None
    if 200 <= response.status_code < 400 or response.status_code in ACCEPTED:
        return None
    if response.status_code == 400:
        details = response.json()["error"]["details"]
        if details and all(documented(field, messages, case) for field, messages in details.items()):
            return None
    raise AssertionError(
        f"Valid data should have been accepted, not {response.status_code}: {response.text[:300]}"
    )
