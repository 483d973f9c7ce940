from django.db import connection

from accounts.models import Account, Session, User, generate_id


def test_generated_ids_look_like_better_auths():
    ids = {generate_id() for _ in range(100)}

    assert len(ids) == 100
    assert all(len(value) == 32 and value.isalnum() and value.isascii() for value in ids)


def test_deleting_a_user_with_plain_sql_removes_sessions_and_accounts(make_user, make_session):
    bob = make_user("Bob")
    make_session(bob)
    Account.objects.create(user=bob, account_id=bob.id, provider_id="credential", password="x")

    with connection.cursor() as cursor:  # as better-auth does it, outside Django
        cursor.execute('DELETE FROM "user" WHERE id = %s', [bob.id])

    assert not User.objects.filter(pk=bob.pk).exists()
    assert not Session.objects.filter(user_id=bob.id).exists()
    assert not Account.objects.filter(user_id=bob.id).exists()


def test_session_expiry_helpers(make_session, user):
    from datetime import timedelta

    live = make_session(user)
    gone = make_session(user, expires_in=timedelta(seconds=-1))

    assert list(Session.objects.active()) == [live]
    assert list(Session.objects.expired()) == [gone]
    assert gone.is_expired and not live.is_expired
