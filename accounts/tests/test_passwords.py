"""Password hashes in better-auth's format (checked against hashes better-auth 1.7.25 made)."""

import pytest

from accounts.passwords import hash_password, verify_password

# Made by @better-auth/utils/password `hashPassword` (the function better-auth 1.7.25 uses).
BETTER_AUTH_HASHES = {
    "ironclad-demo": (
        "535c50114634b3efe6f1b0ed14010574:11e94eb06d6f8cc9f5221c5f974f9093bc64456f7fb40f5f89353e45620b9a76"
        "ea667be71d45a52333b8cd12aecb1fd842e30687923190ba4966debc2c7ab274"
    ),
    # NFKC: the ligature and the roman numeral are normalised before hashing.
    "\ufb01nch \u216b caf\u00e9": (
        "b90be3b0c102d4dd4e36e18c28019e37:e7f5c4c656b24c4e8b1403f40082f7c373ef16df2e37ab0cccad2eb0d6c615e6"
        "b50a9ff298ed219e4bba57f099d59319d964f9e04b8c52c49329b3eebf208f39"
    ),
}


@pytest.mark.parametrize(("password", "stored"), BETTER_AUTH_HASHES.items())
def test_hashes_made_by_better_auth_verify(password, stored):
    assert verify_password(password, stored)
    assert not verify_password(password + "x", stored)


def test_nfkc_equivalent_passwords_match():
    assert verify_password("finch XII caf\u00e9", BETTER_AUTH_HASHES["\ufb01nch \u216b caf\u00e9"])


def test_hash_has_better_auths_shape_and_a_fresh_salt():
    first, second = hash_password("s3cret-pass"), hash_password("s3cret-pass")

    salt, key = first.split(":")
    assert len(salt) == 32 and len(key) == 128
    int(salt + key, 16)  # hex
    assert first != second
    assert verify_password("s3cret-pass", first) and verify_password("s3cret-pass", second)


@pytest.mark.parametrize("stored", ["", "nocolon", ":abc", "abc:"])
def test_malformed_hashes_do_not_verify(stored):
    assert not verify_password("anything", stored)
