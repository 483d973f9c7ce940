"""schemathesis hooks for .ci/fuzz (loaded through SCHEMATHESIS_HOOKS).

The task writes refuse two kinds of schema-valid value by design, as the schema's descriptions of
the fields say in words: a `category_id` that is not the id of one of the signed-in user's
categories (no schema can list which ids exist, and the fuzzer's own requests delete the
categories it created), and a `due_date` outside 0001-01-02..9999-12-30 UTC (JSON Schema has no
bounds for dates; the generator does reach 0001-01-01). So the built-in positive_data_acceptance
check takes any 400 from the three task writes (.ci/schemathesis.toml), and the check below holds
them to the same rule with those two exceptions. tests/test_hostile_input.py covers both.
"""

import schemathesis

TASK_WRITES = {"POST /api/tasks", "PUT /api/tasks/{id}", "PATCH /api/tasks/{id}"}
ACCEPTED = {401, 403, 404, 409, 412, 422, 429}  # positive_data_acceptance's, besides 2xx (schemathesis.toml)
DOCUMENTED_REFUSALS = {"category_id": "does not exist", "due_date": "Must be from 0001-01-02"}


def refuses_only_as_documented(response) -> bool:
    if response.status_code != 400:
        return False
    details = response.json()["error"]["details"]
    return bool(details) and all(
        field in DOCUMENTED_REFUSALS and DOCUMENTED_REFUSALS[field] in messages[0]
        for field, messages in details.items()
    )


@schemathesis.check
def task_writes_accept_valid_data(ctx, response, case):
    if case.operation.label not in TASK_WRITES or case.meta is None:
        return None
    if not case.meta.generation.mode.is_positive:
        return None
    if 200 <= response.status_code < 300 or response.status_code in ACCEPTED:
        return None
    if refuses_only_as_documented(response):
        return None
    raise AssertionError(
        f"Valid data should have been accepted, not {response.status_code}: {response.text[:300]}"
    )
