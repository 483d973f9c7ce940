"""Input an attacker would send: each answers a 4xx in the error envelope, never a 500.

Run on SQLite and on PostgreSQL (CI runs both); several of these were 500s on PostgreSQL only
(NUL characters, integers beyond bigint).
"""

import json
from datetime import UTC, datetime

import jwt
import pytest
from django.conf import settings

from accounts.tests.test_jwt_auth import b64url
from agents.tests.test_mcp_http import LIST_TOOLS, rpc
from chat.models import Conversation, Message
from tests.net import ON_POSTGRES
from todos.models import Category, Task

TASKS = "/api/tasks"
SECRET = "test-better-auth-secret-0123456789abcdef"  # JWT_SECRET falls back to BETTER_AUTH_SECRET


def unsigned_jwt(header: dict, claims: dict | None = None) -> str:
    parts = (header, claims or {"sub": "x", "exp": 2_000_000_000})
    return ".".join([*(b64url(json.dumps(part).encode()) for part in parts), b64url(b"sig")])


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    if code is not None:
        assert error["code"] == code
    assert "sys.set_int_max_str_digits" not in error["message"]
    return error


pytestmark = pytest.mark.usefixtures("fresh_throttle_counts")


@pytest.fixture
def task(user):
    return Task.objects.create(user=user, title="Water the plants")


@pytest.fixture
def conversation(user):
    conversation = Conversation.objects.create(user=user, title="Plans")
    Message.objects.create(user=user, conversation=conversation, role="user", content="hello")
    return conversation


MALFORMED_CREDENTIALS = {
    "a NUL in a session token": "Bearer abc%00def",
    "a NUL in a signed session token": "Bearer abc%00def.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    "a NUL key id": f"Bearer {unsigned_jwt({'alg': 'EdDSA', 'kid': chr(0)})}",
    "a list for a key id": f"Bearer {unsigned_jwt({'alg': 'EdDSA', 'kid': ['a']})}",
    "a list for an algorithm": f"Bearer {unsigned_jwt({'alg': ['HS256']})}",
    "an object for an algorithm": f"Bearer {unsigned_jwt({'alg': {'name': 'HS256'}})}",
    "a number for an algorithm": f"Bearer {unsigned_jwt({'alg': 256})}",
    "a space in a session token": "Bearer abc%20def",
    "a list for an access token's algorithm": f"Bearer {unsigned_jwt({'alg': ['EdDSA'], 'typ': 'at+jwt'})}",
    "an object for an access token's algorithm": f"Bearer {unsigned_jwt({'alg': {'a': 1}, 'typ': 'at+jwt'})}",
    "an access token's kid list": f"Bearer {unsigned_jwt({'alg': 'EdDSA', 'typ': 'at+jwt', 'kid': [1]})}",
    "an object for a token type": f"Bearer {unsigned_jwt({'alg': 'EdDSA', 'typ': {'a': 1}})}",
}


@pytest.mark.django_db
class TestMalformedCredentials:
    @pytest.mark.parametrize("header", MALFORMED_CREDENTIALS.values(), ids=MALFORMED_CREDENTIALS.keys())
    def test_is_a_401(self, api_client, header):
        response = api_client.get(TASKS, HTTP_AUTHORIZATION=header)

        assert_error(response, 401)
        assert response["WWW-Authenticate"].startswith("Bearer")

    @pytest.mark.parametrize("header", MALFORMED_CREDENTIALS.values(), ids=MALFORMED_CREDENTIALS.keys())
    def test_is_a_401_on_mcp_too(self, api_client, settings, header):
        # With OAuth on, /mcp tries each bearer as an access token first.
        settings.BETTER_AUTH_URL, settings.OAUTH_ISSUER = (
            "https://app.example.com",
            "https://app.example.com/api/auth",
        )
        settings.MCP_RESOURCE_URL = "https://api.example.com/mcp"

        response = rpc(api_client, LIST_TOOLS, HTTP_AUTHORIZATION=header)

        assert_error(response, 401)
        assert response["WWW-Authenticate"].startswith('Bearer error="invalid_token"')

    def test_counts_against_the_anonymous_limit(self, api_client, rates):
        rates(anon="5/min")
        headers = list(MALFORMED_CREDENTIALS.values())

        statuses = [api_client.get(TASKS, HTTP_AUTHORIZATION=header).status_code for header in headers]

        assert statuses == [401] * 5 + [429] * (len(headers) - 5)
        assert int(api_client.get(TASKS, HTTP_AUTHORIZATION=headers[0])["Retry-After"]) >= 1

    def test_a_refused_session_cookie_counts_too(self, api_client, rates):
        rates(anon="2/min")
        api_client.cookies["better-auth.session_token"] = f"forged.{'A' * 43}="

        assert [api_client.get(TASKS).status_code for _ in range(3)] == [401, 401, 429]

    def test_a_valid_credential_is_not_charged_to_the_anonymous_limit(self, auth_client, rates):
        rates(anon="1/min")

        assert [auth_client.get(TASKS).status_code for _ in range(3)] == [200, 200, 200]


@pytest.mark.django_db
class TestJwtTimeClaims:
    def token(self, user, **claims) -> str:
        base = {
            "sub": user.pk,
            "iss": settings.JWT_ISSUER,
            "aud": settings.JWT_AUDIENCE,
            "exp": 2_000_000_000,
        }
        return jwt.encode({**base, **claims}, SECRET, algorithm="HS256")

    @pytest.mark.parametrize(
        "claims",
        [
            {"exp": "2000000000"},
            {"exp": 1e300},
            {"exp": True},
            {"exp": 2_000_000_000, "nbf": "0"},
            {"exp": 2_000_000_000, "iat": 1e300},
            {"exp": 2_000_000_000, "iat": -5},
        ],
        ids=str,
    )
    def test_must_be_numbers_within_range(self, api_client, user, claims):
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.token(user, **claims)}")

        assert_error(api_client.get(TASKS), 401, "invalid_token")

    def test_a_number_for_the_user_id_is_refused(self, api_client, user):
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.token(user, sub=12)}")

        assert_error(api_client.get(TASKS), 401, "invalid_token")

    def test_well_formed_claims_are_accepted(self, api_client, user):
        now = int(datetime.now(UTC).timestamp())
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.token(user, iat=now, nbf=now - 1.5)}")

        assert api_client.get(TASKS).status_code == 200


PAGINATED = [
    "/api/tasks",
    "/api/categories",
    "/api/conversations",
    "/api/conversations/{conversation}/messages",
    "/api/{user}/tasks",
    "/api/{user}/conversations",
]


@pytest.mark.django_db
class TestPaging:
    @pytest.mark.parametrize("path", PAGINATED)
    @pytest.mark.parametrize("param", ["page", "page_size"])
    @pytest.mark.parametrize("value", ["²", "٣", "100000000000000000000", "9" * 5000, "1.0", "-1", ""])
    def test_bad_numbers_are_a_400(self, alice_client, user, conversation, path, param, value):
        url = path.format(user=user.pk, conversation=conversation.pk)

        error = assert_error(alice_client.get(url, {param: value}), 400, "validation_error")

        assert param in error["details"]

    @pytest.mark.parametrize("path", PAGINATED)
    def test_the_largest_page_is_past_the_end(self, alice_client, user, conversation, path):
        url = path.format(user=user.pk, conversation=conversation.pk)

        assert_error(alice_client.get(url, {"page": 2**31 - 1, "page_size": 100}), 404, "not_found")
        assert_error(alice_client.get(url, {"page": 2**31}), 400)


@pytest.mark.django_db
class TestJsonBodies:
    @pytest.mark.parametrize("path", [TASKS, "/api/chat", "/api/categories"])
    def test_deep_nesting_is_a_400(self, alice_client, path):
        body = "[" * 100_000 + "]" * 100_000

        response = alice_client.post(path, body, content_type="application/json")

        error = assert_error(response, 400, "parse_error")

        assert "deeper than 32 levels" in error["message"]

    def test_nesting_just_too_deep_for_the_walk_is_a_400(self, alice_client):
        nested: object = "deep"
        for _ in range(32):  # with the object and the tags list: 33 levels
            nested = [nested]
        body = json.dumps({"title": "x", "tags": nested})

        assert_error(alice_client.post(TASKS, body, content_type="application/json"), 400, "parse_error")

    @pytest.mark.parametrize(
        ("body", "words"),
        [
            ('{"title": "a\\u0000b"}', "NUL"),
            ('{"title\\u0000": "x"}', "NUL"),
            ('{"title": "\\ud800"}', "surrogate"),
            ('{"title": "x", "category_id": ' + "9" * 5000 + "}", "64-bit"),
            ('{"title": "x", "category_id": 99999999999999999999}', "64-bit"),
            ('{"title": "x", "category_id": 1e400}', "too large"),
            ('{"title": "x", "category_id": NaN}', "not a JSON number"),
            ('{"title": "x"', "not valid JSON"),
            (b'{"title": "\xff"}', "not valid utf-8"),
        ],
    )
    def test_what_cannot_be_stored_is_a_400_in_plain_words(self, alice_client, body, words):
        response = alice_client.post(TASKS, body, content_type="application/json")

        error = assert_error(response, 400, "parse_error")

        assert words in error["message"]
        assert not Task.objects.exists()

    @pytest.mark.parametrize("value", [1.5, "1.5", "٣", True, "1e3", "9223372036854775808"])
    def test_a_category_id_must_be_a_whole_number(self, alice_client, user, value):
        Category.objects.create(id=1, user=user, name="Work")

        error = assert_error(alice_client.post(TASKS, {"title": "x", "category_id": value}), 400)

        assert "category_id" in error["details"]
        assert not Task.objects.exists()

    def test_a_whole_number_category_id_is_accepted(self, alice_client, user):
        category = Category.objects.create(user=user, name="Work")

        response = alice_client.post(TASKS, {"title": "x", "category_id": float(category.pk)})

        assert response.json()["data"]["category_id"] == category.pk

    def test_a_conversation_id_beyond_bigint_is_a_400(self, alice_client):
        response = alice_client.post("/api/chat", {"message": "hi", "conversation_id": str(2**63)})

        assert "conversation_id" in assert_error(response, 400)["details"]


@pytest.mark.django_db
class TestPathQueryAndCookies:
    @pytest.mark.parametrize("query", ["search=a%00b", "tag=%00", "a%00=1", "priority=%00"])
    def test_a_nul_in_the_query_string_is_a_400(self, alice_client, query):
        assert_error(alice_client.get(f"{TASKS}?{query}"), 400, "validation_error")

    def test_a_nul_in_a_cookie_is_a_400(self, api_client):
        api_client.cookies["sessionid"] = "\x00aaaaaaaaaaaaaaa"

        assert_error(api_client.get(TASKS), 400, "validation_error")

    def test_a_nul_in_the_admin_is_a_400_not_a_database_error(self, operator_client):
        assert operator_client.get("/admin/todos/task/?q=%00").status_code == 400
        assert operator_client.get("/admin/accounts/user/%00/change/").status_code == 400

    @pytest.mark.parametrize(
        "path", ["/api/tasks/1%0aforged", "/api/tasks/%00", "/api/tasks/٣", "/api/x\u2028y", "/api"]
    )
    def test_odd_paths_under_the_api_are_json(self, alice_client, task, path):
        response = alice_client.get(path)

        assert response.status_code in (400, 404)
        assert response["Content-Type"] == "application/json"
        assert "error" in response.json()

    def test_an_id_beyond_bigint_is_a_404(self, alice_client):
        assert_error(alice_client.get(f"{TASKS}/{2**64}"), 404, "not_found")

    @pytest.mark.parametrize(
        ("path", "query"),
        [
            ("/api/tasks", "priorty=high"),
            ("/api/tasks", "page=1&format=json"),
            ("/api/categories", "search=work"),
            ("/api/conversations", "completed=true"),
            ("/api/me", "x=1"),
            ("/api/tasks/{task}", "page=2"),
        ],
    )
    def test_unknown_query_parameters_are_named_in_a_400(self, alice_client, task, path, query):
        response = alice_client.get(f"{path.format(task=task.pk)}?{query}")

        error = assert_error(response, 400, "validation_error")
        assert list(error["details"]) == [query.split("=")[0] if "&" not in query else "format"]


@pytest.mark.django_db
class TestDueDatesAtTheEdges:
    @pytest.mark.parametrize("recurrence", ["daily", "weekly", "monthly"])
    def test_the_last_due_date_completes_and_ends_its_recurrence(self, alice_client, recurrence):
        body = {"title": "x", "due_date": "9999-12-30T12:00:00Z", "recurrence": recurrence}
        created = alice_client.post(TASKS, body)
        task_id = created.json()["data"]["id"]

        response = alice_client.patch(f"{TASKS}/{task_id}/complete")

        assert response.status_code == 200, response.content
        assert response.json()["meta"]["next_occurrence"] is None
        assert Task.objects.count() == 1

    def test_monthly_near_the_end_of_time_completes(self, alice_client):
        created = alice_client.post(TASKS, {"title": "x", "due_date": "9999-12-15", "recurrence": "monthly"})

        response = alice_client.patch(f"{TASKS}/{created.json()['data']['id']}/complete")

        assert response.status_code == 200
        assert response.json()["meta"]["next_occurrence"] is None

    @pytest.mark.parametrize(
        "due",
        [
            "9999-12-31T12:00:00Z",
            "9999-12-31",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59-05:00",
            "10000-01-01",
        ],
    )
    def test_due_dates_outside_the_range_are_a_400(self, alice_client, due):
        error = assert_error(alice_client.post(TASKS, {"title": "x", "due_date": due}), 400)

        assert "due_date" in error["details"]

    @pytest.mark.parametrize("due", ["0001-01-01T00:00:00", "9999-12-31T23:00:00", "9999-12-31"])
    def test_naive_due_dates_beyond_the_range_in_the_time_zone_are_a_400(self, alice_client, settings, due):
        settings.TIME_ZONE = "America/New_York"

        assert (
            "due_date"
            in assert_error(alice_client.post(TASKS, {"title": "x", "due_date": due}), 400)["details"]
        )

    def test_a_due_date_in_non_ascii_digits_is_a_400(self, alice_client):
        assert_error(
            alice_client.post(TASKS, {"title": "x", "due_date": "\u0662\u0660\u0662\u0666-12-01"}), 400
        )

    def test_a_row_stored_at_the_end_of_time_is_shown_and_completed_in_any_time_zone(
        self, alice_client, user, settings
    ):
        # Rows written before due dates had their range, or by another service.
        settings.TIME_ZONE = "Pacific/Kiritimati"  # UTC+14: 9999-12-31T23:00Z is the year 10000 there
        task = Task.objects.create(
            user=user, title="x", recurrence="daily", due_date=datetime(9999, 12, 31, 23, tzinfo=UTC)
        )

        listed = alice_client.get(TASKS).json()["data"]
        completed = alice_client.patch(f"{TASKS}/{task.pk}/complete")

        assert listed[0]["due_date"] == "9999-12-31T23:00:00Z"
        assert completed.status_code == 200, completed.content
        assert completed.json()["meta"]["next_occurrence"] is None

    def test_the_chat_completes_a_task_due_at_the_end_of_time(self, alice_client, user):
        task = Task.objects.create(
            user=user, title="x", recurrence="daily", due_date=datetime(9999, 12, 30, 12, tzinfo=UTC)
        )

        response = alice_client.post("/api/chat", {"message": f"mark {task.pk} done"})

        assert response.status_code == 200, response.content
        assert Task.objects.get().completed


@pytest.mark.django_db
class TestDatesWithoutATime:
    def test_a_rest_due_date_and_a_chat_due_date_mean_the_same_moment(self, alice_client):
        rest = alice_client.post(TASKS, {"title": "rest", "due_date": "2026-12-01"}).json()["data"]
        alice_client.post("/api/chat", {"message": "add chat on 2026-12-01"})

        assert Task.objects.get(title="chat").due_date == datetime.fromisoformat(rest["due_date"])

    def test_the_day_is_the_end_of_that_day_in_the_time_zone(self, alice_client, settings):
        settings.TIME_ZONE = "America/New_York"

        data = alice_client.post(TASKS, {"title": "x", "due_date": "2026-12-01"}).json()["data"]

        assert datetime.fromisoformat(data["due_date"]) == datetime(2026, 12, 2, 4, 59, tzinfo=UTC)

    @pytest.mark.parametrize(
        ("query", "titles"),
        [
            ({"due_before": "2026-12-05"}, ["morning of the 5th", "end of the 4th"]),
            ({"due_after": "2026-12-05"}, ["morning of the 6th", "morning of the 5th"]),
            ({"due_after": "2026-12-05", "due_before": "2026-12-05"}, ["morning of the 5th"]),
        ],
    )
    def test_date_bounds_take_in_the_whole_day(self, alice_client, user, query, titles):
        for title, due in [
            ("end of the 4th", datetime(2026, 12, 4, 23, 59, 59, tzinfo=UTC)),
            ("morning of the 5th", datetime(2026, 12, 5, 9, tzinfo=UTC)),
            ("morning of the 6th", datetime(2026, 12, 6, 9, tzinfo=UTC)),
        ]:
            Task.objects.create(user=user, title=title, due_date=due)

        listed = alice_client.get(TASKS, {**query, "ordering": "-due_date"}).json()["data"]

        assert [task["title"] for task in listed] == titles

    @pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Pacific/Kiritimati"])
    @pytest.mark.parametrize(
        "query",
        [
            {"due_after": "0001-01-01", "due_before": "9999-12-31"},
            {"due_after": "0001-01-01T00:00:00+14:00", "due_before": "9999-12-31T23:59:59-12:00"},
            {"due_after": "0001-01-01T00:00:00", "due_before": "9999-12-31T23:59:59.999999"},
        ],
    )
    def test_bounds_at_the_ends_of_time_take_in_everything(self, alice_client, user, settings, zone, query):
        settings.TIME_ZONE = zone
        Task.objects.create(user=user, title="x", due_date=datetime(2026, 12, 5, 9, tzinfo=UTC))

        response = alice_client.get(TASKS, query)

        assert response.status_code == 200, response.content
        assert [task["title"] for task in response.json()["data"]] == ["x"]


@pytest.mark.django_db
class TestCategoryNames:
    def test_names_are_compared_as_the_unique_constraint_compares_them(self, alice_client, caplog):
        alice_client.post("/api/categories", {"name": "k\nforged"})

        response = alice_client.post("/api/categories", {"name": "\u212a\nforged"})  # the Kelvin sign

        # PostgreSQL's lower() folds the Kelvin sign to "k"; SQLite's folds ASCII letters only.
        if ON_POSTGRES:
            assert "name" in assert_error(response, 409, "conflict")["details"]
        else:
            assert response.status_code == 201
        assert not any("integrity error" in record.getMessage() for record in caplog.records)

    def test_a_duplicate_name_is_a_409_naming_the_field(self, alice_client):
        alice_client.post("/api/categories", {"name": "Work"})

        error = assert_error(alice_client.post("/api/categories", {"name": "WORK"}), 409, "conflict")

        assert error["details"] == {"name": ["You already have a category with this name."]}


@pytest.mark.django_db
class TestCookieOrigins:
    def test_origin_null_is_refused_whatever_the_referer(self, auth_client):
        response = auth_client.post(
            TASKS, {"title": "x"}, HTTP_ORIGIN="null", HTTP_REFERER="http://localhost:3000/tasks"
        )

        assert_error(response, 403, "untrusted_origin")
        assert not Task.objects.exists()

    def test_a_trusted_referer_without_origin_still_works(self, auth_client):
        response = auth_client.post(TASKS, {"title": "x"}, HTTP_REFERER="http://localhost:3000/tasks")

        assert response.status_code == 201


@pytest.mark.django_db
class TestStrictBodies:
    @pytest.mark.parametrize(
        ("body", "field", "message"),
        [
            ({"title": "x", "titel": "y"}, "titel", "Unknown field."),
            ({"title": 5}, "title", "Must be a string."),
            ({"title": "x", "completed": "true"}, "completed", "Must be true or false."),
            ({"title": "x", "completed": 1}, "completed", "Must be true or false."),
            ({"title": "x", "category_id": "5"}, "category_id", "Must be a whole number."),
            ({"title": "x", "tags": ["a", 5]}, "tags", "Must be a string."),
            ({"title": "x", "tags": "a"}, "tags", "Must be a list."),
            ({"title": "x", "priority": 3}, "priority", "Must be a string."),
            ({"title": "x", "due_date": 20261201}, "due_date", "Must be a string."),
            ({"title": "x", "user_id": "someone"}, "user_id", "This field is read-only."),
        ],
    )
    def test_a_field_the_schema_does_not_allow_is_named(self, alice_client, body, field, message):
        error = assert_error(alice_client.post(TASKS, body), 400, "validation_error")

        assert error["details"][field] == [message]
        assert not Task.objects.exists()

    @pytest.mark.parametrize(
        ("path", "body", "field"),
        [
            ("/api/chat", {"message": 5}, "message"),
            ("/api/chat", {"message": "hi", "conversation_id": "1"}, "conversation_id"),
            ("/api/chat", {"message": "hi", "user": "bob"}, "user"),
            ("/api/categories", {"name": "x", "color": 123456}, "color"),
            ("/api/tasks/{task}/complete", {"completed": "yes"}, "completed"),
            ("/api/tasks/{task}/complete", {"done": True}, "done"),
        ],
    )
    def test_every_body_is_strict(self, alice_client, task, path, body, field):
        response = alice_client.generic(
            "PATCH" if "complete" in path else "POST",
            path.format(task=task.pk),
            json.dumps(body),
            content_type="application/json",
        )

        assert field in assert_error(response, 400, "validation_error")["details"]


@pytest.mark.django_db
class TestEveryOperation:
    """Walks the OpenAPI schema, so that an operation added later is held to the same rules."""

    def operations(self, api_client):
        schema = api_client.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
        for path, methods in schema["paths"].items():
            for method in methods:
                yield method.upper(), path

    def test_an_unknown_query_parameter_is_named_in_a_400(self, api_client, alice_client, task, conversation):
        ids = {"{id}": str(task.pk)}
        seen = 0
        for method, path in self.operations(api_client):
            if path.startswith("/api/conversations/{id}"):
                url = path.replace("{id}", str(conversation.pk))
            else:
                url = path.replace("{id}", ids["{id}"])
            url = url.replace("{delivery_id}", "1")
            response = alice_client.generic(
                method, f"{url}?nonsense=1", "{}", content_type="application/json"
            )

            error = assert_error(response, 400, "validation_error")
            assert error["details"] == {"nonsense": ["Unknown query parameter."]}, (method, path)
            seen += 1
        assert seen >= 15

    def test_a_method_a_route_does_not_take_is_a_405_whatever_the_query(self, alice_client):
        response = alice_client.generic("TRACE", f"{TASKS}?nonsense=1")

        assert_error(response, 405, "method_not_allowed")


def test_a_row_deleted_under_a_request_is_a_404(rf):
    from ironclad.errors import exception_handler

    for error in (Task.DoesNotExist(), Task.NotUpdated()):
        response = exception_handler(error, {"request": rf.get("/api/tasks/1")})

        assert response.status_code == 404
        assert response.data["error"]["code"] == "not_found"


class TestAnswersQuoteLittle:
    """An error quotes at most a short prefix of what was sent, and lists at most 20 problems per
    level: no answer (or kept Idempotency-Key answer, or log line) grows with the request."""

    HUGE = "x" * 1_000_000

    def test_a_huge_value_is_quoted_by_its_start(self, alice_client):
        error = assert_error(alice_client.post(TASKS, {"title": "t", "priority": self.HUGE}), 400)

        assert error["details"] == {"priority": [f'"{"x" * 39}…" is not a valid choice.']}

    def test_hundreds_of_unknown_fields_with_long_names_are_listed_short(self, alice_client):
        body = {f"{n:05d}{'f' * 1_000}": 1 for n in range(900)}

        response = alice_client.post(TASKS, body)

        error = assert_error(response, 400)
        assert len(error["details"]) == 20
        assert all(len(name) <= 60 for name in error["details"])
        assert len(response.content) < 3_000

    @pytest.mark.parametrize(
        "body",
        [
            {"title": "t", "tags": ["t" * 51] * 10_000},
            {"action": "complete", "ids": ["a"] * 10_000},
        ],
        ids=["tags", "bulk ids"],
    )
    def test_thousands_of_bad_items_are_listed_short(self, alice_client, body):
        path = f"{TASKS}/bulk" if "ids" in body else TASKS

        response = alice_client.post(path, body)

        assert_error(response, 400)
        assert len(response.content) < 3_000

    def test_a_long_path_is_quoted_by_its_start(self, alice_client):
        error = assert_error(alice_client.get("/api/" + "p" * 50_000), 404)

        assert len(error["message"]) < 150  # the log line: tests/test_log_injection.py

    def test_the_tools_quote_little(self, user):
        from agents.tools import run_tool

        unknown = run_tool(user, self.HUGE, {})
        category = run_tool(user, "add_task", {"title": "t", "category": self.HUGE})
        argument = run_tool(user, "add_task", {"title": "t", self.HUGE: 1})

        assert all(len(result["error"]) < 150 for result in (unknown, category, argument))
