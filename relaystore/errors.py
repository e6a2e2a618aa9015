"""The one exception hierarchy of relaystore; callers never import pymysql or redis to catch."""
from __future__ import annotations


class RelayStoreError(Exception):
    """Root of every error relaystore raises; `except RelayStoreError` catches them all."""


class ConfigError(RelayStoreError):
    """A setting is missing or malformed; the message names the variable."""


class NotFound(RelayStoreError):
    """update()/delete()/restore() named a record that does not exist (get() returns None)."""


class Conflict(RelayStoreError):
    """The write contradicts stored state (FK violation, wrong state for the operation, retries exhausted)."""


class AlreadyExists(Conflict):
    """A unique key is taken: MySQL DUP_ENTRY, or a Redis NX write refused."""


class BackendUnavailable(RelayStoreError):
    """The server is down or the connection was lost after the allowed retries."""


class BackendError(RelayStoreError):
    """Any other failure reported by a driver (syntax, bad column, server-side error)."""


class DataError(RelayStoreError):
    """A stored value cannot be decoded; the message names the Redis key or MySQL row."""


class NotSupported(RelayStoreError):
    """The selected backend cannot answer this call cheaply; the message says which to use."""


class InvalidInput(RelayStoreError, ValueError):
    """A caller passed a value relaystore refuses (unknown field, wrong type); the message names it."""
