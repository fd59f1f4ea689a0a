"""Pinned versions of the control-plane and node binaries the devcluster builds.

Kubernetes 1.36 is the newest GA minor on the Go module proxy; etcd 3.6.8 is the exact
release kubernetes v1.36.3 pins in its go.mod, so the pair is one Kubernetes tests itself
with. Helm stays on the 3.x line, which is what platform teams run today.
"""

from __future__ import annotations

from dataclasses import dataclass

KUBERNETES_VERSION = "1.36.3"
ETCD_VERSION = "3.6.8"
HELM_VERSION = "3.22.0"
# Argo CD 3.2 is the newest line whose go.mod takes gitops-engine as the standalone
# github.com/argoproj/gitops-engine module. From 3.3 on the engine lives inside the argo-cd
# repository as a nested module that go.mod reaches by a local `replace`, which a wrapper
# module cannot follow, and the nested module is not served at the versions those go.mods
# name. 3.2.12, the last 3.2 tag, does not compile (controller/cache/info.go calls a
# settings.ValidateExternalURL its module lacks), so 3.2.11. docs/gitops.md says what that
# means for users of newer lines.
ARGOCD_VERSION = "3.2.11"


@dataclass(frozen=True)
class Component:
    """A binary the devcluster needs, and the version family it accepts."""

    binary: str
    version: str
    # A binary found on PATH / KUBEBUILDER_ASSETS is accepted when its version starts with
    # this prefix: the same minor is what matters for API behaviour.
    accept_prefix: str
    # Bumped when the build recipe changes, so a cached binary built the old way is rebuilt.
    recipe: int = 1


KUBE_APISERVER = Component(
    "kube-apiserver", KUBERNETES_VERSION, KUBERNETES_VERSION.rsplit(".", 1)[0] + "."
)
KUBECTL = Component("kubectl", KUBERNETES_VERSION, KUBERNETES_VERSION.rsplit(".", 1)[0] + ".")
ETCD = Component("etcd", ETCD_VERSION, ETCD_VERSION.rsplit(".", 1)[0] + ".")
HELM = Component("helm", HELM_VERSION, "3.", recipe=2)

# What `foundry-devcluster start --node` adds: the controllers (namespace deletion, garbage
# collection, ReplicaSets, ServiceAccounts), the scheduler and the kubelet. Built from the
# same k8s.io/kubernetes module as kube-apiserver, so the whole cluster is one release.
_K8S_MINOR = KUBERNETES_VERSION.rsplit(".", 1)[0] + "."
KUBE_CONTROLLER_MANAGER = Component("kube-controller-manager", KUBERNETES_VERSION, _K8S_MINOR)
KUBE_SCHEDULER = Component("kube-scheduler", KUBERNETES_VERSION, _K8S_MINOR)
KUBELET = Component("kubelet", KUBERNETES_VERSION, _K8S_MINOR)

# The GitOps tests' Argo CD: one binary that serves each component by the name it runs as.
ARGOCD = Component("argocd", ARGOCD_VERSION, ARGOCD_VERSION.rsplit(".", 1)[0] + ".")

# The control plane every test session needs; the node's binaries are built only on demand.
ALL = (ETCD, KUBE_APISERVER, KUBECTL, HELM)
NODE = (KUBE_CONTROLLER_MANAGER, KUBE_SCHEDULER, KUBELET)
