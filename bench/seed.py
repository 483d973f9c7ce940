"""Seed a benchmark database inside PostgreSQL; print the credentials as JSON on stdout.

    python -m bench.seed            bench/run.py's data: 10,000 users and 1,000,000 tasks
    python -m bench.seed --search   bench/search.py's data: bench/run.py's, and a user with 20,000 tasks
    python -m bench.seed --load N   bench/load.py's data: N users with 50 tasks and a session each

bench/run.py: three users are the benchmark's own: a reader with 200 tasks (the list), a writer
(creates) and a toggler with 200 tasks (complete/reopen). Safe to run again: the bulk rows are made
once; the three users' sessions and tasks are reset on every run.

bench/search.py: one more user, the searcher, with 20,000 tasks whose descriptions are 2,000
characters of words; made once, again only if some are missing.
"""

import argparse
import json
import sys
from datetime import timedelta
from urllib.parse import quote

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.authentication import sign_session_token  # noqa: E402
from accounts.models import Session, User, generate_id  # noqa: E402
from accounts.tokens import mint_jwt  # noqa: E402
from todos.models import Task  # noqa: E402

USERS = 10_000
TASKS = 1_000_000
OWN_TASKS = 200
READER, WRITER, TOGGLER = "bench-00001", "bench-00002", "bench-00003"

BULK_USERS = """
INSERT INTO "user" (id, name, email, "emailVerified", "createdAt", "updatedAt")
SELECT 'bench-' || lpad(g::text, 5, '0'), 'Bench user ' || g, 'user' || g || '@bench.example',
       true, now(), now()
FROM generate_series(1, %(users)s) AS g
"""

# Tasks of every user but the three benchmark users, then 200 each for the reader and the toggler.
BULK_TASKS = """
INSERT INTO task ("userId", title, description, completed, priority, "dueDate", tags, recurrence,
                  "completedAt", "createdAt", "updatedAt")
SELECT CASE WHEN g <= %(own)s THEN %(reader)s
            WHEN g <= 2 * %(own)s THEN %(toggler)s
            ELSE 'bench-' || lpad((4 + g %% (%(users)s - 3))::text, 5, '0') END,
       'Task number ' || g,
       CASE WHEN g %% 4 = 0 THEN 'Some longer description for task ' || g ELSE '' END,
       g > 2 * %(own)s AND g %% 3 = 0,
       (ARRAY['low', 'medium', 'high'])[1 + g %% 3],
       CASE WHEN g %% 5 = 0 THEN NULL ELSE now() + ((g %% 60) - 20) * interval '1 day' END,
       CASE WHEN g %% 2 = 0 THEN '["work", "bench"]'::jsonb ELSE '[]'::jsonb END,
       'none',
       CASE WHEN g > 2 * %(own)s AND g %% 3 = 0 THEN now() ELSE NULL END,
       now() - g * interval '1 second',
       now() - g * interval '1 second'
FROM generate_series(1, %(tasks)s) AS g
"""


def seed_bulk() -> None:
    if User.objects.filter(pk=READER).exists() and Task.objects.count() >= TASKS:
        return
    params: dict[str, int | str] = {
        "users": USERS,
        "tasks": TASKS,
        "own": OWN_TASKS,
        "reader": READER,
        "toggler": TOGGLER,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute('TRUNCATE task, category, session, "user" CASCADE')
        cursor.execute(BULK_USERS, params)
        cursor.execute(BULK_TASKS, params)
    with connection.cursor() as cursor:
        cursor.execute('ANALYZE "user"; ANALYZE task; ANALYZE session')


SEARCHER = "bench-searcher"
SEARCHER_TASKS = 20_000
SEARCHER_DESCRIPTION_LENGTH = 2_000
# Ordinary words, none of which contains UNMATCHED_TERM; nor does any bulk task's title or description.
VOCABULARY = """
    account address agenda answer appointment approve archive arrange article assign backup balance
    bank battery bicycle bill birthday board book booking borrow branch budget bug build calendar
    call camera cancel card carpet chapter check cheque circle clean client coffee collect colour
    comment confirm contract copy cost course cover customer dentist deploy design desk dinner doctor
    document draft driver email engine estimate event expense export feedback fence file finish
    fix flight folder form friday garage garden gift grocery guest handle heater holiday hotel
    invoice issue jacket kitchen ladder laptop launch lawn lease letter library license list lunch
    mail meeting memo mirror monday money morning note notice office order package paint paper
    parcel party passport payment pension phone photo plan plumber policy post print printer
    project quarter quote receipt recipe refund release renew rent repair reply report request
    review roof router salary sample schedule school screen send server service share shelf
    shopping sign slides sofa spreadsheet staff station stove summary supplier survey table tax
    team ticket timesheet tooth train transfer travel tuesday update upload vacation vendor visa
    wallet washer water website wednesday window winter workshop
"""
UNMATCHED_TERM = "marzipan"

SEARCHER_USER = """
INSERT INTO "user" (id, name, email, "emailVerified", "createdAt", "updatedAt")
VALUES (%(searcher)s, 'Bench searcher', 'searcher@bench.example', true, now(), now())
"""

# Each word is drawn from the vocabulary by a hash of its task and position, so every database
# gets the same text. Words have 3 letters or more: length / 3 of them always fill the description.
SEARCHER_TASKS_SQL = """
WITH vocabulary AS (SELECT %(vocabulary)s::text[] AS words)
INSERT INTO task ("userId", title, description, completed, priority, "dueDate", tags, recurrence,
                  "completedAt", "createdAt", "updatedAt")
SELECT %(searcher)s,
       initcap(title.phrase) || ' ' || t,
       left(description.phrase, %(length)s),
       t %% 3 = 0,
       (ARRAY['low', 'medium', 'high'])[1 + t %% 3],
       CASE WHEN t %% 5 = 0 THEN NULL ELSE now() + ((t %% 60) - 20) * interval '1 day' END,
       CASE WHEN t %% 2 = 0 THEN '["work"]'::jsonb ELSE '[]'::jsonb END,
       'none',
       CASE WHEN t %% 3 = 0 THEN now() ELSE NULL END,
       now() - t * interval '1 second',
       now() - t * interval '1 second'
FROM vocabulary, generate_series(1, %(tasks)s) AS t,
     LATERAL (SELECT string_agg(words[1 + abs(hashint8(-t * 1000 - w)::bigint) %% cardinality(words)],
                                ' ' ORDER BY w) AS phrase
              FROM generate_series(1, 2 + t %% 5) AS w) AS title,
     LATERAL (SELECT string_agg(words[1 + abs(hashint8(t * 1000 + w)::bigint) %% cardinality(words)],
                                ' ' ORDER BY w) AS phrase
              FROM generate_series(1, %(length)s / 3) AS w) AS description
"""


def seed_searcher() -> None:
    """The searcher and their tasks, unless all of them are there already."""
    if Task.objects.filter(user_id=SEARCHER).count() == SEARCHER_TASKS:
        return
    params: dict[str, int | str | list[str]] = {
        "searcher": SEARCHER,
        "tasks": SEARCHER_TASKS,
        "length": SEARCHER_DESCRIPTION_LENGTH,
        "vocabulary": VOCABULARY.split(),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute('DELETE FROM "user" WHERE id = %s', [SEARCHER])  # and, cascading, their tasks
        cursor.execute(SEARCHER_USER, params)
        cursor.execute(SEARCHER_TASKS_SQL, params)


def bearer_token(user_id: str) -> str:
    """An HS256 JWT for `user_id`, valid for a day, as `manage.py issue_token` makes it."""
    return mint_jwt(User(id=user_id), lifetime=timedelta(days=1))


def credentials(user_id: str) -> dict:
    session = Session.objects.create(
        user_id=user_id, token=generate_id(), expires_at=timezone.now() + timedelta(days=1)
    )
    cookie_name = f"{settings.BETTER_AUTH_COOKIE_PREFIX}.session_token"
    cookie_value = quote(sign_session_token(session.token, settings.BETTER_AUTH_SECRET), safe="")
    return {"cookie": f"{cookie_name}={cookie_value}", "jwt": bearer_token(user_id)}


LOAD_TASKS_PER_USER = 50

LOAD_USERS = """
INSERT INTO "user" (id, name, email, "emailVerified", "createdAt", "updatedAt")
SELECT 'load-' || lpad(g::text, 6, '0'), 'Load user ' || g, 'load' || g || '@bench.example',
       true, now(), now()
FROM generate_series(1, %(users)s) AS g
"""

# Titles with a few words a search can find; a fifth without a due date; a third done.
LOAD_TASKS = """
INSERT INTO task ("userId", title, description, completed, priority, "dueDate", tags, recurrence,
                  "completedAt", "createdAt", "updatedAt")
SELECT 'load-' || lpad(u::text, 6, '0'),
       (ARRAY['Write report', 'Call plumber', 'Buy groceries', 'Plan trip', 'Review budget'])[1 + t %% 5]
           || ' ' || t,
       CASE WHEN t %% 4 = 0 THEN 'Notes for the report on item ' || t ELSE '' END,
       t %% 3 = 0,
       (ARRAY['low', 'medium', 'high'])[1 + t %% 3],
       CASE WHEN t %% 5 = 0 THEN NULL ELSE now() + ((t %% 30) - 10) * interval '1 day' END,
       CASE WHEN t %% 2 = 0 THEN '["work"]'::jsonb ELSE '[]'::jsonb END,
       'none',
       CASE WHEN t %% 3 = 0 THEN now() ELSE NULL END,
       now() - (u * %(per_user)s + t) * interval '1 second',
       now() - (u * %(per_user)s + t) * interval '1 second'
FROM generate_series(1, %(users)s) AS u, generate_series(1, %(per_user)s) AS t
"""


def seed_load(users: int) -> dict:
    """`users` users with LOAD_TASKS_PER_USER tasks and a live session each, on an empty database;
    returns each user's credentials (signed session cookie and HS256 JWT)."""
    params = {"users": users, "per_user": LOAD_TASKS_PER_USER}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(LOAD_USERS, params)
        cursor.execute(LOAD_TASKS, params)
    with connection.cursor() as cursor:
        cursor.execute('VACUUM ANALYZE "user"')
        cursor.execute("VACUUM ANALYZE task")
    user_ids = list(User.objects.order_by("id").values_list("id", flat=True))
    return {"tasks": Task.objects.count(), "credentials": [credentials(user_id) for user_id in user_ids]}


def main() -> None:
    if connection.vendor != "postgresql" or "bench" not in connection.settings_dict["NAME"]:
        sys.exit("The benchmark seeds a PostgreSQL database whose name contains 'bench'; it truncates it.")
    parser = argparse.ArgumentParser()
    parser.add_argument("--load", type=int, metavar="USERS", help="seed bench/load.py's users instead")
    parser.add_argument("--search", action="store_true", help="seed bench/search.py's searcher too")
    args = parser.parse_args()
    if args.load is not None:
        json.dump(seed_load(args.load), sys.stdout)
        return
    seed_bulk()
    if args.search:
        seed_searcher()
        with connection.cursor() as cursor:
            # The change feed's tables grew with the tasks: all are vacuumed now, not during the run.
            cursor.execute("VACUUM (ANALYZE)")
        json.dump(
            {
                "tasks": Task.objects.count(),
                "users": User.objects.count(),
                "searcher": SEARCHER,
                "searcher_tasks": Task.objects.filter(user_id=SEARCHER).count(),
                "unmatched_term": UNMATCHED_TERM,
                "jwt": bearer_token(SEARCHER),
            },
            sys.stdout,
        )
        return
    Task.objects.filter(user_id=WRITER).delete()
    Task.objects.filter(user_id=TOGGLER).update(completed=False, completed_at=None)
    Session.objects.filter(user_id__in=[READER, WRITER, TOGGLER]).delete()
    with connection.cursor() as cursor:
        # Clean up after the previous run now, so autovacuum does not start in the middle of this one.
        cursor.execute("VACUUM ANALYZE task")
    toggle_ids = list(Task.objects.filter(user_id=TOGGLER).values_list("id", flat=True))
    json.dump(
        {
            "tasks": Task.objects.count(),
            "users": User.objects.count(),
            "reader": credentials(READER),
            "writer": credentials(WRITER),
            "toggler": credentials(TOGGLER),
            "toggle_ids": toggle_ids,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
