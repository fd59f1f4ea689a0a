"""The e2e tier's one node cluster, shared by the modules that need Pods.

Starting a node (controllers, kubelet, containerd) and loading the image into it is the
slowest setup of the suite; the app-of-apps test (which needs it empty, and runs first)
and the chart-on-a-node tests (test_node_chart.py, whose last test stops it) take turns.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from nodekit import NodeEnv, node_env


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeEnv]:
    yield from node_env(tmp_path_factory.mktemp("node"))
