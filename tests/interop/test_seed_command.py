"""The seed command's demo users, signed in by a real better-auth server and by Ironclad."""

import re

from tests.interop.conftest import manage
from tests.net import get, send_json

CREDENTIALS = re.compile(
    r"^(?P<email>\S+@\S+)  \(.*\)\n"
    r"  password  (?P<password>.*)\n"
    r"  cookie    (?P<cookie>.*)\n"
    r"  jwt       (?P<jwt>.*)$",
    re.MULTILINE,
)


def test_seeded_users_sign_in_through_better_auth_and_reach_ironclad(
    harness, fresh_database, start_better_auth, start_ironclad
):
    manage(fresh_database, "migrate", "--noinput")
    output = manage(fresh_database, "seed", "--seed", "1", "--tasks", "5")
    seeded = {match["email"]: match.groupdict() for match in CREDENTIALS.finditer(output)}
    assert set(seeded) == {"alice@example.com", "bob@example.com"}

    better_auth = start_better_auth(fresh_database)
    ironclad = start_ironclad(fresh_database)
    for email, credentials in seeded.items():
        # better-auth verifies the password hash seed stored...
        signed_in = send_json(
            "POST",
            f"{better_auth.url}/api/auth/sign-in/email",
            {"email": email, "password": credentials["password"]},
        )
        assert signed_in.status == 200, signed_in.body
        assert signed_in.json()["user"]["email"] == email
        wrong = send_json(
            "POST",
            f"{better_auth.url}/api/auth/sign-in/email",
            {"email": email, "password": credentials["password"] + "x"},
        )
        assert wrong.status == 401

        # ...and takes the printed cookie for one of its own sessions.
        session = get(f"{better_auth.url}/api/auth/get-session", Cookie=credentials["cookie"])
        assert session.status == 200, session.body
        assert session.json()["user"]["email"] == email

        issued = manage(fresh_database, "issue_token", email).strip()
        for headers in (
            {"Cookie": credentials["cookie"]},
            {"Authorization": f"Bearer {credentials['jwt']}"},
            {"Authorization": f"Bearer {issued}"},
        ):
            me = get(f"{ironclad.url}/api/me", **headers)
            assert me.status == 200, (headers, me.body)
            assert me.json()["data"]["email"] == email
            tasks = get(f"{ironclad.url}/api/tasks", **headers)
            assert tasks.status == 200, tasks.body
            assert tasks.json()["meta"]["total"] == 5

    # A second run changes nothing and prints the same cookies.
    again = {
        match["email"]: match["cookie"] for match in CREDENTIALS.finditer(manage(fresh_database, "seed"))
    }
    assert again == {email: credentials["cookie"] for email, credentials in seeded.items()}
