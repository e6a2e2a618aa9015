"""Account-secret encryption is upstream's, byte for byte, in both directions (spec §7.3)."""
from __future__ import annotations

import re

import pytest

from relaystore import DataError
from relaystore import account_crypto as ac
from relaystore.account_rules import PLATFORMS, make_ciphers
from tests import upstream_crypto as up
from tests.conftest import TEST_ENCRYPTION_KEY, base_settings

STORED = re.compile(r"^[0-9a-f]{32}:(?:[0-9a-f]{32})+$")

# Known answers produced once with the upstream runtime itself (Node 20: crypto.scryptSync(KEY, salt, 32),
# createCipheriv('aes-256-cbc', key, iv) with iv = 00 01 .. 0f, update(text, 'utf8', 'hex') + final('hex'))
# for KEY = TEST_ENCRYPTION_KEY. (salt, plaintext, stored text, derived key hex)
NODE_VECTORS = [
    ("salt", "sk-ant-oat01-secret",
     "000102030405060708090a0b0c0d0e0f:929591520d306bc0299b14d6f6ea8a0a2966dbd335cf71cfea4c0b9c51f8e33f",
     "df01e2aa13decc2c7590b6e25d1d033b1d17fe94872dfc98cbf8cd307648e510"),
    ("claude-console-salt", "sk-console-🔑-密钥",
     "000102030405060708090a0b0c0d0e0f:4e0c7659844449101fd7d949706bbe0d335a0d1917bf561b34bf8f9d8b30e716",
     "38bfbba5dcc6c588f769fd7a1310c9eb9d3a5ca6a1fa960562d3cfcc7143fe93"),
    ("azure-openai-account-default-salt", "azure-key",
     "000102030405060708090a0b0c0d0e0f:e3d131ddfec030438ee7eb7134604e70",
     "a3153ce0a316041f2301d3558bc1b2964357332a12fbf2c2f1d4b4f9bea53cff"),
]
# Bedrock, same runtime: key = sha256(KEY), plaintext = JSON.stringify(credentials).
NODE_BEDROCK = {
    "encrypted": "260e8b69ff9bc93feb8cbd425951b4ff2696280a4ffc77691c3b00403a8dcef0c03e3e1f248d649db2915a293c51d6db"
                 "c2d4e5393d28cb158e61d7d7516af3ccf7f05ffe29ef5c1f22bc73b55f14cb5ca0970eee1478095cc1d3dfcad589a124",
    "iv": "000102030405060708090a0b0c0d0e0f",
}
NODE_BEDROCK_CREDENTIALS = {"accessKeyId": "AKIAEXAMPLE", "secretAccessKey": "wJalr/secret", "sessionToken": ""}


@pytest.mark.parametrize("salt, plaintext, stored, key_hex", NODE_VECTORS)
def test_node_vectors_decrypt_and_reencrypt_identically(salt, plaintext, stored, key_hex):
    key = ac.scrypt_key(TEST_ENCRYPTION_KEY, salt)
    assert key.hex() == key_hex
    assert ac.decrypt_text(key, stored, "k", "f") == plaintext
    assert ac.encrypt_text(key, plaintext, iv=up.FIXED_IV) == stored


def test_node_bedrock_vector_decrypts():
    cipher = make_ciphers(base_settings())["bedrock"]
    assert cipher.decrypt("awsCredentials", NODE_BEDROCK, "k") == NODE_BEDROCK_CREDENTIALS
    assert ac.encrypt_envelope(ac.sha256_key(TEST_ENCRYPTION_KEY),
                               '{"accessKeyId":"AKIAEXAMPLE","secretAccessKey":"wJalr/secret","sessionToken":""}',
                               iv=up.FIXED_IV) == NODE_BEDROCK


@pytest.mark.parametrize("platform", sorted(up.SALTS))
def test_spec_vectors_decrypt_for_every_platform(platform):
    plaintext = f"{platform}-secret-value ünïcode ✓ " * 3
    stored = up.encrypt(TEST_ENCRYPTION_KEY, platform, plaintext)
    field = sorted(PLATFORMS[platform].secret_fields)[0]
    assert make_ciphers(base_settings())[platform].decrypt(field, stored, "k") == plaintext


@pytest.mark.parametrize("platform", sorted(up.SALTS))
def test_relaystore_ciphertexts_decrypt_with_the_spec_algorithm(platform):
    cipher = make_ciphers(base_settings())[platform]
    field = sorted(PLATFORMS[platform].secret_fields)[0]
    first, second = cipher.encrypt(field, "sk-live-123"), cipher.encrypt(field, "sk-live-123")
    assert STORED.match(first) and first != second  # a fresh random IV per value
    assert up.decrypt(TEST_ENCRYPTION_KEY, platform, first) == "sk-live-123"
    assert up.decrypt(TEST_ENCRYPTION_KEY, platform, second) == "sk-live-123"


def test_bedrock_both_directions_with_the_spec_algorithm():
    cipher = make_ciphers(base_settings())["bedrock"]
    creds = {"accessKeyId": "AKIA1", "secretAccessKey": "s/k+", "sessionToken": "tok"}
    stored = cipher.encrypt("awsCredentials", creds)
    assert set(stored) == {"encrypted", "iv"} and len(bytes.fromhex(stored["iv"])) == 16
    assert up.bedrock_decrypt(TEST_ENCRYPTION_KEY, stored) == creds
    assert cipher.decrypt("awsCredentials", up.bedrock_encrypt(TEST_ENCRYPTION_KEY, creds), "k") == creds
    # Upstream wraps a bearer token as {"token": ...} before encrypting it.
    token = cipher.encrypt("bearerToken", "bedrock-api-key")
    assert up.bedrock_decrypt(TEST_ENCRYPTION_KEY, token) == {"token": "bedrock-api-key"}
    assert cipher.decrypt("bearerToken", up.bedrock_encrypt(TEST_ENCRYPTION_KEY, {"token": "t2"}), "k") == "t2"


def test_bedrock_plaintext_legacy_credentials_are_returned_as_is():
    cipher = make_ciphers(base_settings())["bedrock"]
    legacy = {"accessKeyId": "AKIA", "secretAccessKey": "plain"}
    assert cipher.decrypt("awsCredentials", legacy, "k") == legacy


def test_azure_salt_follows_the_setting():
    settings = base_settings(azure_openai_salt="custom-azure-salt")
    stored = make_ciphers(settings)["azure-openai"].encrypt("apiKey", "az")
    key = up.scrypt_key(TEST_ENCRYPTION_KEY, "custom-azure-salt")
    iv, ct = stored.split(":")
    assert up.aes_cbc_decrypt(key, bytes.fromhex(iv), bytes.fromhex(ct)) == b"az"


def test_empty_plaintext_is_stored_empty_and_plain_values_pass_through():
    cipher = make_ciphers(base_settings())["claude"]
    assert cipher.encrypt("accessToken", "") == ""
    assert cipher.decrypt("accessToken", "", "k") == ""
    assert cipher.decrypt("accessToken", "legacy-plaintext-no-colon", "k") == "legacy-plaintext-no-colon"


@pytest.mark.parametrize("stored", [
    "zz0102030405060708090a0b0c0d0e0f:929591520d306bc0299b14d6f6ea8a0a",     # not hex
    "0001:929591520d306bc0299b14d6f6ea8a0a",                                 # short IV
    "000102030405060708090a0b0c0d0e0f:9295915",                              # not whole blocks
    "000102030405060708090a0b0c0d0e0f:",                                     # no ciphertext
    "000102030405060708090a0b0c0d0e0f:00112233445566778899aabbccddeeff",     # bad padding
])
def test_malformed_ciphertext_raises_data_error_naming_key_and_field_not_value(stored):
    cipher = make_ciphers(base_settings())["claude"]
    with pytest.raises(DataError) as info:
        cipher.decrypt("refreshToken", stored, "claude:account:abc")
    message = str(info.value)
    assert "claude:account:abc" in message and "refreshToken" in message
    assert all(part not in message for part in stored.split(":") if part)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_a_different_encryption_key_is_reported_not_returned_as_garbage():
    stored = up.encrypt("the-relays-real-key", "claude-console", "sk-secret-" * 4)
    cipher = make_ciphers(base_settings())["claude-console"]
    with pytest.raises(DataError, match="apiKey"):
        cipher.decrypt("apiKey", stored, "claude_console_account:x")


def test_scrypt_key_is_derived_once_per_salt():
    ac.scrypt_key.cache_clear()
    for _ in range(5):
        make_ciphers(base_settings())["gemini"].encrypt("accessToken", "x")
    info = ac.scrypt_key.cache_info()
    assert info.misses == 1 and info.hits >= 4


def test_cipher_repr_shows_no_key():
    cipher = make_ciphers(base_settings())["ccr"]
    assert TEST_ENCRYPTION_KEY not in repr(cipher)
