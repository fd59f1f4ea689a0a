"""Everything the benchmark takes from this repository, in one place.

The emulator, the devcluster and the local runner live in the devtools distribution
(``foundry_devtools``); the rest comes from the operator. Importing this module pulls in
neither aiohttp nor the Azure SDK, so a script can import it before the emulator's CA
exists (aiohttp reads ``SSL_CERT_FILE`` once, at import).
"""

from __future__ import annotations

from foundry_devtools.devcluster.cluster import APISERVER, DevCluster
from foundry_devtools.emulator.admin import AdminClient, Stats
from foundry_devtools.emulator.process import EmulatorProcess
from foundry_devtools.kubewait import wait_established
from foundry_devtools.local import OperatorProcess, crds_dir
from foundry_operator.api.resource import GROUP, PLURAL, VERSION

__all__ = [
    "APISERVER",
    "GROUP",
    "PLURAL",
    "VERSION",
    "AdminClient",
    "DevCluster",
    "EmulatorProcess",
    "OperatorProcess",
    "Stats",
    "crds_dir",
    "wait_established",
]
