def test_me_returns_the_signed_in_user(auth_client, user):
    response = auth_client.get("/api/me")

    assert response.status_code == 200
    data = response.json()["data"]
    assert data == {
        "id": user.id,
        "name": "Alice",
        "email": "alice@example.com",
        "email_verified": False,
        "image": None,
        "created_at": data["created_at"],
    }
    assert data["created_at"].endswith(("Z", "+00:00"))


def test_me_never_shows_another_user(api_client, user, other_user, make_session):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_session(other_user).token}")

    assert api_client.get("/api/me").json()["data"]["email"] == "bob@example.com"
