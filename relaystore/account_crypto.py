"""Account-secret encryption exactly as the upstream relay does it, so each side reads the other's.

Generic scheme (every platform but Bedrock): AES-256-CBC with PKCS#7 padding; the key is
scrypt(password=ENCRYPTION_KEY, salt=<the platform's salt string>, N=16384, r=8, p=1, dkLen=32)
(Node's scryptSync defaults); a fresh random 16-byte IV per value; the stored text is
`hex(iv) + ":" + hex(ciphertext)` of the UTF-8 plaintext; an empty plaintext is stored as "".

Bedrock: the key is the raw SHA-256 of ENCRYPTION_KEY (no scrypt) and the value is the object
`{"encrypted": hex(ciphertext), "iv": hex(iv)}` inside the account's JSON; the plaintext is JSON.

Decrypting, as upstream's generic helper: "" gives ""; a value without ":" is returned unchanged
(plaintext written by hand or by an old relay; Claude's deprecated EVP_BytesToKey values also land
here and are not decrypted). Where upstream would silently return a value it cannot decrypt,
relaystore raises DataError naming the key and field, never the value: a wrong ENCRYPTION_KEY
must be loud. Like upstream's `split(':')`, only the first two `:` parts are used.

scrypt takes tens of milliseconds on purpose, so each (ENCRYPTION_KEY, salt) key is derived once
per process and cached, as upstream caches it per service.
"""
from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .errors import DataError, InvalidInput
from .jsnum import js_json

SCRYPT_N, SCRYPT_R, SCRYPT_P, KEY_BYTES = 16384, 8, 1, 32
# N=16384, r=8 needs 16 MiB; hashlib's default ceiling (32 MiB) is too close for OpenSSL's overhead.
SCRYPT_MAXMEM = 64 * 1024 * 1024
IV_BYTES = 16


@lru_cache(maxsize=64)
def scrypt_key(encryption_key: str, salt: str) -> bytes:
    """Node's `crypto.scryptSync(encryptionKey, salt, 32)`; cached because it is slow by design."""
    return hashlib.scrypt(encryption_key.encode("utf-8"), salt=salt.encode("utf-8"), n=SCRYPT_N,
                          r=SCRYPT_R, p=SCRYPT_P, dklen=KEY_BYTES, maxmem=SCRYPT_MAXMEM)


def sha256_key(encryption_key: str) -> bytes:
    """Bedrock's key: `crypto.createHash('sha256').update(encryptionKey).digest()`."""
    return hashlib.sha256(encryption_key.encode("utf-8")).digest()


def _encrypt(key: bytes, plaintext: bytes, iv: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def _decrypt(key: bytes, iv_hex: str, ct_hex: str, where: str, field: str) -> str:
    """AES-256-CBC decrypt of hex parts; DataError (naming where/field, never the value) if bad."""
    try:
        iv = bytes.fromhex(iv_hex)
        ciphertext = bytes.fromhex(ct_hex)
        if len(iv) != IV_BYTES or not ciphertext or len(ciphertext) % 16:
            raise ValueError("bad lengths")
        decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")
    except ValueError:
        raise DataError(f"{where}: field {field} cannot be decrypted (malformed ciphertext or a "
                        "different ENCRYPTION_KEY)") from None


def encrypt_text(key: bytes, plaintext: str, *, iv: bytes | None = None) -> str:
    """Upstream's generic stored form `hex(iv):hex(ciphertext)`; "" for an empty plaintext."""
    if plaintext == "":
        return ""
    iv = os.urandom(IV_BYTES) if iv is None else iv
    return iv.hex() + ":" + _encrypt(key, plaintext.encode("utf-8"), iv).hex()


def decrypt_text(key: bytes, stored: str, where: str, field: str) -> str:
    """Inverse of encrypt_text; a value without ":" is returned as is (plaintext/legacy)."""
    if stored == "" or ":" not in stored:
        return stored
    parts = stored.split(":")
    return _decrypt(key, parts[0], parts[1], where, field)


def encrypt_envelope(key: bytes, plaintext: str, *, iv: bytes | None = None) -> dict[str, str]:
    """Bedrock's stored form `{"encrypted": hex(ciphertext), "iv": hex(iv)}`."""
    iv = os.urandom(IV_BYTES) if iv is None else iv
    return {"encrypted": _encrypt(key, plaintext.encode("utf-8"), iv).hex(), "iv": iv.hex()}


def decrypt_envelope(key: bytes, envelope: Any, where: str, field: str) -> str:
    """Inverse of encrypt_envelope: the plaintext JSON text."""
    if (not isinstance(envelope, dict) or not isinstance(envelope.get("encrypted"), str)
            or not isinstance(envelope.get("iv"), str)):
        raise DataError(f"{where}: field {field} is not an {{encrypted, iv}} object")
    return _decrypt(key, envelope["iv"], envelope["encrypted"], where, field)


class AccountCipher:
    """Encrypts and decrypts one platform family's secret fields with upstream's key and format."""

    def __init__(self, encryption_key: str, *, salt: str | None) -> None:
        """`salt=None` selects Bedrock's SHA-256 key and {encrypted, iv} objects."""
        self._encryption_key = encryption_key
        self._salt = salt

    def __repr__(self) -> str:  # never show the key
        return f"AccountCipher(salt={self._salt!r})"

    @property
    def key(self) -> bytes:
        if self._salt is None:
            return sha256_key(self._encryption_key)
        return scrypt_key(self._encryption_key, self._salt)

    def encrypt(self, field: str, value: Any) -> Any:
        """The stored form of a plaintext secret (already normalised by account_rules)."""
        if self._salt is not None:
            return encrypt_text(self.key, value)
        if field == "bearerToken":  # upstream wraps the token: encrypt(JSON.stringify({token}))
            return encrypt_envelope(self.key, js_json({"token": value}))
        return encrypt_envelope(self.key, js_json(value))

    def decrypt(self, field: str, stored: Any, where: str) -> Any:
        """The plaintext of a stored secret; DataError names `where` and `field`, never the value."""
        if self._salt is not None:
            if not isinstance(stored, str):
                raise DataError(f"{where}: field {field} is not a string")
            return decrypt_text(self.key, stored, where, field)
        if isinstance(stored, dict) and "encrypted" not in stored and "accessKeyId" in stored:
            return stored  # plaintext credentials of an old relay, as upstream accepts them
        text = decrypt_envelope(self.key, stored, where, field)
        try:
            value = json.loads(text)
        except ValueError:
            raise DataError(f"{where}: field {field} decrypts to invalid JSON") from None
        if field == "bearerToken":
            if not isinstance(value, dict) or not isinstance(value.get("token"), str):
                raise DataError(f"{where}: field {field} decrypts to no token")
            return value["token"]
        return value


def check_encodable(name: str, value: str) -> None:
    """Refuse a secret that cannot be UTF-8 encoded (lone surrogates), naming the field only."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{name} is not valid Unicode text") from None
