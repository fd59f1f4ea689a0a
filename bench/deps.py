"""Everything the benchmark takes from the operator's repository, in one place.

The emulator, the devcluster and the local runner are moving to their own distribution;
when they do, only these imports change. Importing this module pulls in neither aiohttp nor
the Azure SDK, so a script can import it before the emulator's CA exists (aiohttp reads
``SSL_CERT_FILE`` once, at import).
"""

from __future__ import annotations

from foundry_operator.api.resource import GROUP, PLURAL, VERSION
from foundry_operator.devcluster.cluster import APISERVER, DevCluster
from foundry_operator.emulator.admin import AdminClient, Stats
from foundry_operator.emulator.process import EmulatorProcess
from foundry_operator.local import OperatorProcess, crds_dir

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
]
