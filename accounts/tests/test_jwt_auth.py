"""Bearer JWTs: HS256 with the shared secret, and better-auth's jwt plugin keys from its JWKS."""

import base64
import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.conf import settings
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from accounts.models import Jwks, generate_id

ME = "/api/me"
HS_SECRET = "test-better-auth-secret-0123456789abcdef"  # JWT_SECRET falls back to it


def claims_for(user, **overrides) -> dict:
    """A jwt-plugin token's claims for `user`, from JWT_ISSUER for JWT_AUDIENCE; an override of
    None leaves that claim out."""
    now = datetime.now(UTC)
    claims = {
        "sub": user.id,
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
        "iat": now,
        "exp": now + timedelta(minutes=15),
        "email": user.email,
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def call_me(client, token: str):
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get(ME)


class KeyPair:
    """A jwt-plugin style key: private key to sign with, public JWK as better-auth stores it."""

    def __init__(self, algorithm: str):
        self.algorithm = algorithm
        self.kid = generate_id()
        self.private_key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
        if algorithm == "EdDSA":
            ed_key = self.private_key = ed25519.Ed25519PrivateKey.generate()
            self.public_jwk = json.loads(OKPAlgorithm.to_jwk(ed_key.public_key()))
        elif algorithm == "ES256":
            ec_key = self.private_key = ec.generate_private_key(ec.SECP256R1())
            self.public_jwk = json.loads(ECAlgorithm.to_jwk(ec_key.public_key()))
        else:
            rsa_key = self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.public_jwk = json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key()))

    def sign(self, claims: dict, **headers) -> str:
        return jwt.encode(
            claims, self.private_key, algorithm=self.algorithm, headers={"kid": self.kid, **headers}
        )

    def store(self) -> "KeyPair":
        Jwks.objects.create(
            id=self.kid,
            public_key=json.dumps(self.public_jwk),
            private_key="encrypted-and-never-read",
            alg=self.algorithm,
            crv=self.public_jwk.get("crv"),
        )
        return self

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@pytest.fixture
def eddsa_key(db):
    return KeyPair("EdDSA").store()


class TestHS256:
    def test_valid_token_authenticates(self, api_client, user):
        token = jwt.encode(claims_for(user), HS_SECRET, algorithm="HS256")

        response = call_me(api_client, token)

        assert response.status_code == 200
        assert response.json()["data"]["id"] == user.id

    def test_jwt_secret_takes_precedence(self, api_client, user, settings):
        settings.JWT_SECRET = "a-separate-jwt-secret-0123456789abcdef"
        assert (
            call_me(api_client, jwt.encode(claims_for(user), HS_SECRET, algorithm="HS256")).status_code == 401
        )

        token = jwt.encode(claims_for(user), settings.JWT_SECRET, algorithm="HS256")
        assert call_me(api_client, token).status_code == 200

    @pytest.mark.parametrize("claim", ["userId", "id"])
    def test_user_id_falls_back_to_user_id_then_id(self, api_client, user, claim):
        token = jwt.encode(claims_for(user, sub=None, **{claim: user.id}), HS_SECRET, algorithm="HS256")

        assert call_me(api_client, token).status_code == 200

    def test_wrong_secret_is_rejected(self, api_client, user):
        token = jwt.encode(claims_for(user), "some-other-secret-0123456789abcdef", algorithm="HS256")

        response = call_me(api_client, token)

        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_token"
        assert "WWW-Authenticate" in response.headers

    def test_expired_token_is_rejected(self, api_client, user):
        past = datetime.now(UTC) - timedelta(hours=1)
        token = jwt.encode(claims_for(user, iat=past, exp=past + timedelta(minutes=15)), HS_SECRET)

        response = call_me(api_client, token)

        assert response.status_code == 401
        assert "expired" in response.json()["error"]["message"]

    def test_token_without_exp_is_rejected(self, api_client, user):
        token = jwt.encode(claims_for(user, exp=None), HS_SECRET, algorithm="HS256")

        assert call_me(api_client, token).status_code == 401

    def test_token_for_a_missing_user_is_rejected(self, api_client, user):
        token = jwt.encode(claims_for(user, sub="no-such-user"), HS_SECRET, algorithm="HS256")

        response = call_me(api_client, token)

        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_token"

    def test_token_without_a_user_id_is_rejected(self, api_client, user):
        token = jwt.encode(claims_for(user, sub=None), HS_SECRET, algorithm="HS256")

        assert call_me(api_client, token).status_code == 401

    def test_tampered_payload_is_rejected(self, api_client, user, other_user):
        header, _, signature = jwt.encode(claims_for(user), HS_SECRET, algorithm="HS256").split(".")
        payload = b64url(json.dumps(claims_for(other_user), default=str).encode())
        forged = f"{header}.{payload}.{signature}"

        assert call_me(api_client, forged).status_code == 401


class TestIssuerAndAudience:
    def test_default_issuer_and_audience_are_ironclad(self, api_client, user):
        assert settings.BETTER_AUTH_URL == ""  # the suite's default
        token = jwt.encode(claims_for(user, iss="ironclad", aud="ironclad"), HS_SECRET, algorithm="HS256")

        assert call_me(api_client, token).status_code == 200

    def test_configured_ones_are_checked(self, api_client, user, settings):
        settings.JWT_ISSUER = "https://app.example"
        settings.JWT_AUDIENCE = "https://app.example"
        good = claims_for(user, iss="https://app.example", aud="https://app.example")

        assert call_me(api_client, jwt.encode(good, HS_SECRET, algorithm="HS256")).status_code == 200
        assert call_me(api_client, jwt.encode(claims_for(user, iss="ironclad"), HS_SECRET)).status_code == 401
        assert call_me(api_client, jwt.encode(claims_for(user, aud="ironclad"), HS_SECRET)).status_code == 401

    def test_an_audience_list_that_names_this_server_is_accepted(self, api_client, user):
        audiences = ["https://other.example", settings.JWT_AUDIENCE]
        token = jwt.encode(claims_for(user, aud=audiences), HS_SECRET, algorithm="HS256")

        assert call_me(api_client, token).status_code == 200

    @pytest.mark.parametrize(
        ("claims", "message"),
        [
            pytest.param(
                {"aud": None}, 'The token is invalid: Token is missing the "aud" claim.', id="no aud"
            ),
            pytest.param(
                {"aud": "http://localhost:3000"},
                "The token is not for this server: its audience must include 'ironclad'.",
                id="wrong aud",
            ),
            pytest.param(
                {"aud": ["http://localhost:3000", "https://other.example"]},
                "The token is not for this server: its audience must include 'ironclad'.",
                id="aud list without this server",
            ),
            pytest.param(
                {"iss": None}, 'The token is invalid: Token is missing the "iss" claim.', id="no iss"
            ),
            pytest.param(
                {"iss": "https://evil.example"},
                "The token is not from the expected issuer 'ironclad'.",
                id="wrong iss",
            ),
        ],
    )
    def test_are_always_required_and_checked(self, api_client, user, claims, message):
        token = jwt.encode(claims_for(user, **claims), HS_SECRET, algorithm="HS256")

        response = call_me(api_client, token)

        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_token"
        assert response.json()["error"]["message"] == message

    @pytest.mark.parametrize("claims", [{"aud": None}, {"iss": None}], ids=["no aud", "no iss"])
    def test_are_required_of_jwt_plugin_tokens_too(self, api_client, user, eddsa_key, claims):
        response = call_me(api_client, eddsa_key.sign(claims_for(user, **claims)))

        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_token"


class TestAlgorithmAttacks:
    def test_alg_none_is_refused(self, api_client, user):
        token = jwt.encode(claims_for(user), None, algorithm="none")
        assert token.endswith(".")  # an unsigned JWT: header.payload.

        response = call_me(api_client, token)

        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_token"

    @pytest.mark.parametrize("alg", ["None", "NONE", "HS384", "HS512", "RS384"])
    def test_other_algorithms_are_refused(self, api_client, user, alg):
        header = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
        body = jwt.encode(claims_for(user), HS_SECRET, algorithm="HS256").split(".")[1]

        assert call_me(api_client, f"{header}.{body}.").status_code == 401

    def test_hs256_signed_with_the_public_key_is_refused(self, api_client, user, eddsa_key):
        # Algorithm confusion: the attacker knows the public key and uses it as an HMAC secret.
        public_key_secrets = [eddsa_key.public_pem(), json.dumps(eddsa_key.public_jwk).encode()]
        for secret in public_key_secrets:
            header = {"alg": "HS256", "kid": eddsa_key.kid, "typ": "JWT"}
            signing_input = ".".join(
                b64url(json.dumps(part, default=int).encode())
                for part in (header, {**claims_for(user), "iat": 0, "exp": 4102444800})
            )
            mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
            token = f"{signing_input}.{b64url(mac)}"

            assert call_me(api_client, token).status_code == 401

    def test_eddsa_header_on_an_es256_key_is_refused(self, api_client, user, db):
        es_key = KeyPair("ES256").store()
        ed_key = KeyPair("EdDSA")
        ed_key.kid = es_key.kid  # sign with a key we own, point at the stored ES256 key

        assert call_me(api_client, ed_key.sign(claims_for(user))).status_code == 401


class TestJwksTable:
    @pytest.mark.parametrize("algorithm", ["EdDSA", "ES256", "RS256"])
    def test_token_signed_by_a_stored_key_authenticates(self, api_client, user, algorithm):
        key = KeyPair(algorithm).store()

        response = call_me(api_client, key.sign(claims_for(user)))

        assert response.status_code == 200
        assert response.json()["data"]["id"] == user.id

    def test_unknown_kid_is_rejected(self, api_client, user, eddsa_key):
        stranger = KeyPair("EdDSA")  # same kind of key, never stored

        assert call_me(api_client, stranger.sign(claims_for(user))).status_code == 401

    def test_key_swapped_under_a_known_kid_is_rejected(self, api_client, user, eddsa_key):
        impostor = KeyPair("EdDSA")
        impostor.kid = eddsa_key.kid

        assert call_me(api_client, impostor.sign(claims_for(user))).status_code == 401

    def test_expired_key_is_rejected(self, api_client, user, eddsa_key):
        Jwks.objects.filter(pk=eddsa_key.kid).update(expires_at=datetime.now(UTC) - timedelta(minutes=1))

        assert call_me(api_client, eddsa_key.sign(claims_for(user))).status_code == 401

    def test_missing_kid_is_rejected(self, api_client, user, eddsa_key):
        token = jwt.encode(claims_for(user), eddsa_key.private_key, algorithm="EdDSA")

        assert call_me(api_client, token).status_code == 401

    def test_expired_token_is_rejected(self, api_client, user, eddsa_key):
        past = datetime.now(UTC) - timedelta(hours=1)

        response = call_me(api_client, eddsa_key.sign(claims_for(user, exp=past)))

        assert response.status_code == 401

    def test_deleted_user_is_rejected(self, api_client, user, eddsa_key):
        token = eddsa_key.sign(claims_for(user))
        user.delete()

        assert call_me(api_client, token).status_code == 401

    def test_key_lookups_are_cached(self, api_client, user, eddsa_key, django_assert_num_queries, settings):
        settings.CREDENTIAL_CACHE_SECONDS = 0  # else the whole token is remembered: no query at all
        token = eddsa_key.sign(claims_for(user))
        assert call_me(api_client, token).status_code == 200

        with django_assert_num_queries(1):  # the user only
            assert call_me(api_client, token).status_code == 200


class _JwksHandler(BaseHTTPRequestHandler):
    keys: list[dict] = []
    requests = 0

    def do_GET(self):
        type(self).requests += 1
        body = json.dumps({"keys": self.keys}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def jwks_server(settings):
    """A real JWKS endpoint on loopback, as better-auth's /api/auth/jwks serves it."""
    handler = type("Handler", (_JwksHandler,), {"keys": [], "requests": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    # A short poll interval: shutdown() waits for one (half a second by default) after every test.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    settings.BETTER_AUTH_JWKS_URL = f"http://127.0.0.1:{server.server_port}/api/auth/jwks"
    yield handler
    server.shutdown()
    server.server_close()


class TestJwksUrl:
    def test_token_verified_with_a_key_from_the_url(self, api_client, user, jwks_server):
        key = KeyPair("EdDSA")
        jwks_server.keys.append({**key.public_jwk, "kid": key.kid, "alg": "EdDSA"})

        assert call_me(api_client, key.sign(claims_for(user))).status_code == 200
        assert call_me(api_client, key.sign(claims_for(user))).status_code == 200
        assert jwks_server.requests == 1  # cached after the first fetch

    def test_rotated_key_is_fetched_when_its_kid_is_new(self, api_client, user, jwks_server, settings):
        settings.BETTER_AUTH_JWKS_REFRESH_COOLDOWN = 0
        first, second = KeyPair("EdDSA"), KeyPair("EdDSA")
        jwks_server.keys.append({**first.public_jwk, "kid": first.kid, "alg": "EdDSA"})
        assert call_me(api_client, first.sign(claims_for(user))).status_code == 200

        jwks_server.keys.append({**second.public_jwk, "kid": second.kid, "alg": "EdDSA"})
        assert call_me(api_client, second.sign(claims_for(user))).status_code == 200
        assert jwks_server.requests == 2

    def test_unknown_kids_do_not_refetch_within_the_cooldown(self, api_client, user, jwks_server):
        published = KeyPair("EdDSA")
        jwks_server.keys.append({**published.public_jwk, "kid": published.kid, "alg": "EdDSA"})
        assert call_me(api_client, published.sign(claims_for(user))).status_code == 200

        for _ in range(5):
            assert call_me(api_client, KeyPair("EdDSA").sign(claims_for(user))).status_code == 401
        assert jwks_server.requests == 1

    def test_key_not_published_is_rejected(self, api_client, user, jwks_server):
        published, stranger = KeyPair("EdDSA"), KeyPair("EdDSA")
        jwks_server.keys.append({**published.public_jwk, "kid": published.kid, "alg": "EdDSA"})

        assert call_me(api_client, stranger.sign(claims_for(user))).status_code == 401

    def test_unreachable_jwks_url_is_503_not_401(self, api_client, user, settings):
        settings.BETTER_AUTH_JWKS_URL = "http://127.0.0.1:9/jwks"  # discard port: nothing listens

        response = call_me(api_client, KeyPair("EdDSA").sign(claims_for(user)))

        assert response.status_code == 503
        assert response.json()["error"]["code"] == "jwks_unavailable"
