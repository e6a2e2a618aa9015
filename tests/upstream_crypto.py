"""An independent implementation of upstream's account-secret scheme, written from the spec (§7.3).

Tests use it to produce ciphertexts relaystore must read and to open the ones relaystore writes;
it shares no code with relaystore.account_crypto, so a mistake there cannot hide here.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# spec/redis-layout.md §7.3, one salt per platform family (Bedrock: SHA-256 key, no salt).
SALTS = {
    "claude": "salt",
    "claude-console": "claude-console-salt",
    "openai": "openai-account-salt",
    "openai-responses": "openai-responses-salt",
    "azure-openai": "azure-openai-account-default-salt",
    "gemini": "gemini-account-salt",
    "gemini-api": "gemini-api-salt",
    "droid": "droid-account-salt",
    "ccr": "ccr-account-salt",
}
FIXED_IV = bytes(range(16))


def scrypt_key(encryption_key: str, salt: str) -> bytes:
    """Node's scryptSync(password, salt, 32) with its defaults N=16384, r=8, p=1."""
    return hashlib.scrypt(encryption_key.encode(), salt=salt.encode(), n=16384, r=8, p=1, dklen=32,
                          maxmem=64 * 1024 * 1024)


def bedrock_key(encryption_key: str) -> bytes:
    return hashlib.sha256(encryption_key.encode()).digest()


def _pkcs7(data: bytes) -> bytes:
    n = 16 - len(data) % 16
    return data + bytes([n]) * n


def _unpkcs7(data: bytes) -> bytes:
    n = data[-1]
    assert 1 <= n <= 16 and data[-n:] == bytes([n]) * n, "bad PKCS#7 padding"
    return data[:-n]


def aes_cbc_encrypt(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(_pkcs7(plaintext)) + enc.finalize()


def aes_cbc_decrypt(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return _unpkcs7(dec.update(ciphertext) + dec.finalize())


def encrypt(encryption_key: str, platform: str, plaintext: str, iv: bytes = FIXED_IV) -> str:
    """Upstream's stored text: hex(iv) + ":" + hex(AES-256-CBC(plaintext)); "" stays ""."""
    if plaintext == "":
        return ""
    key = scrypt_key(encryption_key, SALTS[platform])
    return iv.hex() + ":" + aes_cbc_encrypt(key, iv, plaintext.encode()).hex()


def decrypt(encryption_key: str, platform: str, stored: str) -> str:
    iv_hex, ct_hex = stored.split(":")
    key = scrypt_key(encryption_key, SALTS[platform])
    return aes_cbc_decrypt(key, bytes.fromhex(iv_hex), bytes.fromhex(ct_hex)).decode()


def bedrock_encrypt(encryption_key: str, value: Any, iv: bytes = FIXED_IV) -> dict[str, str]:
    """Bedrock's {encrypted, iv} object of JSON.stringify(value)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return {"encrypted": aes_cbc_encrypt(bedrock_key(encryption_key), iv, text.encode()).hex(), "iv": iv.hex()}


def bedrock_decrypt(encryption_key: str, envelope: dict[str, str]) -> Any:
    text = aes_cbc_decrypt(bedrock_key(encryption_key), bytes.fromhex(envelope["iv"]),
                           bytes.fromhex(envelope["encrypted"])).decode()
    return json.loads(text)
