"""Helpers for the chart tests: run helm, read what it rendered, compare RBAC with
``foundry_operator.permissions``, and give a process exactly a ServiceAccount's rights."""

from __future__ import annotations

import copy
import os
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from foundry_devtools.devcluster import versions
from foundry_operator.permissions import Grant

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "foundry-agent-operator"
CRDS = REPO / "crds"
CRD_FILE = CRDS / "hostedagents.foundry.agents.dev.yaml"
CRD_NAME = "hostedagents.foundry.agents.dev"
TOOLBOX_CRD_NAME = "foundrytoolboxes.foundry.agents.dev"
PROJECT_CRD_NAME = "foundryprojects.foundry.agents.dev"
CLUSTER_PROJECT_CRD_NAME = "clusterfoundryprojects.foundry.agents.dev"
CI_VALUES = sorted(CHART.glob("ci/*-values.yaml"))

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Helm:
    """The devcluster's helm, optionally pointed at a cluster (``env`` with KUBECONFIG)."""

    binary: Path
    env: Mapping[str, str] | None = None

    def run(
        self, *args: str, check: bool = True, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(self.binary), *args],
            capture_output=True,
            text=True,
            env=dict(self.env) if self.env is not None else None,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"helm {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}"
            )
        return proc

    def template(
        self,
        *,
        values: Sequence[Path] = (),
        sets: Mapping[str, str] | None = None,
        release: str = "rel",
        namespace: str = "ops",
        chart: Path = CHART,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        args = ["template", release, str(chart), "-n", namespace]
        # A helm built without version ldflags assumes Kubernetes 1.20, below the chart's
        # kubeVersion; render for the devcluster's version instead.
        args += ["--kube-version", versions.KUBERNETES_VERSION]
        args += value_args(values, sets)
        return self.run(*args, check=check)


def value_args(values: Sequence[Path] = (), sets: Mapping[str, str] | None = None) -> list[str]:
    args: list[str] = []
    for path in values:
        args += ["-f", str(path)]
    for key, value in (sets or {}).items():
        args += ["--set", f"{key}={value}"]
    return args


def documents(text: str) -> list[Manifest]:
    return [d for d in yaml.safe_load_all(text) if d]


def find(docs: Iterable[Manifest], kind: str, name: str | None = None) -> list[Manifest]:
    return [
        d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]


def one(docs: Iterable[Manifest], kind: str, name: str | None = None) -> Manifest:
    found = find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def merged_values(values: Sequence[Path] = ()) -> dict[str, Any]:
    """The chart's defaults with ``values`` files merged over them, as helm merges maps."""

    def merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(base)
        for key, value in over.items():
            if isinstance(value, Mapping) and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
        return out

    result: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    for path in values:
        result = merge(result, yaml.safe_load(path.read_text()) or {})
    return result


def rule_grants(rules: Iterable[Mapping[str, Any]]) -> frozenset[Grant]:
    """RBAC rules flattened to one (group, resource, verb, names) per grant; wildcards fail."""
    out: set[Grant] = set()
    for rule in rules:
        assert not rule.get("nonResourceURLs"), rule
        names = tuple(sorted(rule.get("resourceNames") or ()))
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    assert "*" not in (group, resource, verb), f"wildcard in {rule}"
                    out.add(Grant(group, resource, verb, names))
    return frozenset(out)


def crd_spec_matches_repo(served: Manifest) -> list[str]:
    """Differences between a served CRD's spec and crds/ (keys the file sets; the API
    server adds defaults such as ``conversion``)."""
    wanted = yaml.safe_load(CRD_FILE.read_text())["spec"]
    return [key for key, value in wanted.items() if served["spec"].get(key) != value]


def pod_from_deployment(deployment: Manifest, name: str, namespace: str) -> Manifest:
    """A Pod built from a Deployment's pod template, as the ReplicaSet controller would."""
    template = deployment["spec"]["template"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": template["metadata"].get("labels", {}),
            "annotations": template["metadata"].get("annotations", {}),
        },
        "spec": copy.deepcopy(template["spec"]),
    }


def container(deployment: Manifest) -> Manifest:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(only)


def literal_env(deployment: Manifest) -> dict[str, str]:
    """The container's environment variables that have literal values."""
    return {e["name"]: e["value"] for e in container(deployment).get("env", []) if "value" in e}


def serviceaccount_kubeconfig(
    admin_kubeconfig: Path, token: str, namespace: str, out: Path
) -> Path:
    """A kubeconfig for the same API server that authenticates with ``token`` only."""
    admin = yaml.safe_load(admin_kubeconfig.read_text())
    current = admin.get("current-context")
    context = next(c for c in admin["contexts"] if c["name"] == current)["context"]
    cluster = next(c for c in admin["clusters"] if c["name"] == context["cluster"])["cluster"]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "cluster", "cluster": cluster}],
        "users": [{"name": "operator", "user": {"token": token}}],
        "contexts": [
            {
                "name": "operator",
                "context": {"cluster": "cluster", "user": "operator", "namespace": namespace},
            }
        ],
        "current-context": "operator",
    }
    out.write_text(yaml.safe_dump(config))
    os.chmod(out, 0o600)
    return out
