"""Names of the files the emulator keeps in its state directory.

A module of its own so that :mod:`process` can find them without importing the server
(and aiohttp): a client must be able to apply the env before aiohttp is first imported,
because aiohttp reads SSL_CERT_FILE once, at import.
"""

ENV_FILE = "env"
INFO_FILE = "emulator.json"
LOG_FILE = "emulator.log"
LOCK_FILE = "emulator.lock"
