"""Password hashes in better-auth's format, so that better-auth can sign in people Ironclad creates.

better-auth (`@better-auth/utils/password`) derives a 64-byte scrypt key (N=16384, r=16, p=1)
from the NFKC-normalised password and a random 16-byte salt, and stores `<salt hex>:<key hex>`.
The salt fed to scrypt is the hex *string*, not the bytes it spells.
"""

import hashlib
import hmac
import secrets
import unicodedata

SCRYPT_N = 16384
SCRYPT_R = 16
SCRYPT_P = 1
KEY_LENGTH = 64
SALT_BYTES = 16
# scrypt needs 128 * N * r bytes; Python's default ceiling (32 MiB) is just short of it.
# better-auth allows twice that, and so do we.
SCRYPT_MAXMEM = 128 * SCRYPT_N * SCRYPT_R * 2


def _derive_key(password: str, salt: str) -> bytes:
    return hashlib.scrypt(
        unicodedata.normalize("NFKC", password).encode(),
        salt=salt.encode(),
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        dklen=KEY_LENGTH,
        maxmem=SCRYPT_MAXMEM,
    )


def hash_password(password: str) -> str:
    """The value better-auth stores in `account.password` for a credential account."""
    salt = secrets.token_hex(SALT_BYTES)
    return f"{salt}:{_derive_key(password, salt).hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches a hash in better-auth's format; False for a malformed hash."""
    salt, _, key = stored.partition(":")
    if not salt or not key:
        return False
    return hmac.compare_digest(_derive_key(password, salt).hex(), key)
