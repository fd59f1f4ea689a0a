"""FoundryProject and ClusterFoundryProject: a Foundry project endpoint and how to reach it.

A HostedAgent names one in ``spec.projectRef``; without it the operator's own endpoint and
identity are used. The credential is *referenced*: a Secret is named, never copied, and
nothing of its value reaches status, logs or Events. A namespaced FoundryProject serves only
HostedAgents of its own namespace; a ClusterFoundryProject serves the namespaces its
``namespaceSelector`` admits (the cluster admin's choice), like Crossplane's ProviderConfig
and ClusterProviderConfig.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Final
from urllib.parse import urlsplit

from pydantic import Field

from foundry_operator.api import patterns
from foundry_operator.api.rules import CrdModel, Rule, k8s_extra
from foundry_operator.api.status import Condition, LastError, Phase

_DNS_SUBDOMAIN_RE = patterns.matcher(patterns.DNS_SUBDOMAIN)
_DNS_LABEL = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
_DNS_LABEL_RE = patterns.matcher(_DNS_LABEL)
MAX_SELECTOR_TERMS: Final = 16
DEFAULT_SECRET_KEY: Final = "clientSecret"
DEFAULT_CERTIFICATE_KEY: Final = "clientCertificate"


def _is_https_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" and bool(parts.hostname)


ProjectName = Annotated[
    str,
    Field(min_length=1, max_length=253),
    Rule(
        f"self.matches('{patterns.DNS_SUBDOMAIN}')",
        "spec.projectRef.name must be a Kubernetes object name (lowercase DNS subdomain)",
        check=lambda v: _DNS_SUBDOMAIN_RE.fullmatch(v) is not None,
    ),
]

ProjectNamespace = Annotated[
    str,
    Field(min_length=1, max_length=63),
    Rule(
        f"self.matches('{_DNS_LABEL}')",
        "spec.projectRef.namespace must be a namespace name (lowercase DNS label)",
        check=lambda v: _DNS_LABEL_RE.fullmatch(v) is not None,
    ),
]

SecretName = Annotated[
    str,
    Field(min_length=1, max_length=253),
    Rule(
        f"self.matches('{patterns.DNS_SUBDOMAIN}')",
        "spec.credential.secretRef.name must be a Kubernetes object name (lowercase DNS subdomain)",
        check=lambda v: _DNS_SUBDOMAIN_RE.fullmatch(v) is not None,
    ),
]

SecretNamespace = Annotated[
    str,
    Field(min_length=1, max_length=63),
    Rule(
        f"self.matches('{_DNS_LABEL}')",
        "spec.credential.secretRef.namespace must be a namespace name (lowercase DNS label)",
        check=lambda v: _DNS_LABEL_RE.fullmatch(v) is not None,
    ),
]

Endpoint = Annotated[
    str,
    Field(min_length=9, max_length=2048),
    Rule(
        "self.startsWith('https://')", "spec.endpoint must be an https:// URL", check=_is_https_url
    ),
]

AuthorityHost = Annotated[
    str,
    Field(min_length=9, max_length=2048),
    Rule(
        "self.startsWith('https://')",
        "spec.credential.authorityHost must be an https:// URL",
        check=_is_https_url,
    ),
]

# Entra tenant and client IDs are GUIDs in Azure; the emulator takes any short id, so only
# the shape a person would mistype is refused.
IdText = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")]


class ProjectKind(StrEnum):
    FOUNDRY_PROJECT = "FoundryProject"
    CLUSTER_FOUNDRY_PROJECT = "ClusterFoundryProject"


class ProjectReference(CrdModel):
    """The Foundry project a HostedAgent lives in (HostedAgent.spec.projectRef)."""

    cel_rules: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "self.kind != 'ClusterFoundryProject' || !has(self.namespace)",
            "spec.projectRef.namespace is not allowed for a ClusterFoundryProject, which is "
            "cluster-scoped",
            check=lambda r: (
                r.kind is not ProjectKind.CLUSTER_FOUNDRY_PROJECT or r.namespace is None
            ),
            field_path=".namespace",
            reason="FieldValueForbidden",
        ),
        # The Foundry agent lives in the project it was created in: moving the reference
        # would leave it behind, unowned. (Adding or removing it is a rule on the root.)
        Rule(
            "self == oldSelf",
            "spec.projectRef is immutable; create a new HostedAgent for another project",
        ),
    )

    kind: ProjectKind = Field(
        default=ProjectKind.FOUNDRY_PROJECT,
        description="FoundryProject (default; same namespace only) or ClusterFoundryProject "
        "(any namespace its namespaceSelector admits).",
    )
    name: ProjectName = Field(description="metadata.name of the project object.")
    namespace: ProjectNamespace | None = Field(
        default=None,
        description="Namespace of a FoundryProject. It may only be the HostedAgent's own "
        "namespace (the default): a FoundryProject of another namespace is refused with "
        "reason ProjectNotAllowed. Share a project across namespaces with a "
        "ClusterFoundryProject instead.",
    )


class CredentialSource(StrEnum):
    OPERATOR = "Operator"
    WORKLOAD_IDENTITY = "WorkloadIdentity"
    CLIENT_SECRET = "ClientSecret"
    CLIENT_CERTIFICATE = "ClientCertificate"


class CredentialSecretRef(CrdModel):
    """The Secret holding a client secret or a certificate (read by the operator, never
    copied anywhere)."""

    name: SecretName = Field(description="Name of the Secret.")
    key: (
        Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")] | None
    ) = Field(
        default=None,
        description=f"Key of the Secret that holds the value. Default: {DEFAULT_SECRET_KEY} "
        f"for ClientSecret, {DEFAULT_CERTIFICATE_KEY} for ClientCertificate (a PEM file "
        "with the certificate and its unencrypted private key).",
    )
    namespace: SecretNamespace | None = Field(
        default=None,
        description="Namespace of the Secret: required on a ClusterFoundryProject, not "
        "allowed on a FoundryProject (whose Secret is always in its own namespace).",
    )


def _credential_rules() -> tuple[Rule, ...]:
    def fields(c: ProjectCredential) -> tuple[bool, bool, bool]:
        return (c.tenant_id is not None, c.client_id is not None, c.secret_ref is not None)

    return (
        Rule(
            "self.source != 'Operator' || (!has(self.tenantId) && !has(self.clientId) && "
            "!has(self.secretRef))",
            "spec.credential.tenantId, clientId and secretRef are not allowed when source is "
            "Operator (the operator's own identity)",
            check=lambda c: c.source is not CredentialSource.OPERATOR or not any(fields(c)),
            reason="FieldValueForbidden",
        ),
        Rule(
            "self.source != 'WorkloadIdentity' || (has(self.clientId) && !has(self.secretRef))",
            "spec.credential.clientId is required, and secretRef not allowed, when source is "
            "WorkloadIdentity",
            check=lambda c: (
                c.source is not CredentialSource.WORKLOAD_IDENTITY
                or (c.client_id is not None and c.secret_ref is None)
            ),
        ),
        Rule(
            "!(self.source in ['ClientSecret', 'ClientCertificate']) || (has(self.tenantId) && "
            "has(self.clientId) && has(self.secretRef))",
            "spec.credential.tenantId, clientId and secretRef are required when source is "
            "ClientSecret or ClientCertificate",
            check=lambda c: (
                c.source
                not in (CredentialSource.CLIENT_SECRET, CredentialSource.CLIENT_CERTIFICATE)
                or all(fields(c))
            ),
            reason="FieldValueRequired",
        ),
    )


class ProjectCredential(CrdModel):
    """How the operator authenticates to this project."""

    cel_rules: ClassVar[tuple[Rule, ...]] = ()

    source: CredentialSource = Field(
        default=CredentialSource.OPERATOR,
        description="Operator (default): the operator's own identity, as for HostedAgents "
        "without a projectRef. WorkloadIdentity: an Entra app or user-assigned identity "
        "(clientId) federated with the operator's ServiceAccount token "
        "(AZURE_FEDERATED_TOKEN_FILE, as AKS workload identity projects it). ClientSecret / "
        "ClientCertificate: a service principal (tenantId, clientId) whose secret or "
        "certificate is in the Secret secretRef names.",
    )
    tenant_id: IdText | None = Field(
        default=None,
        description="Entra tenant of the identity. WorkloadIdentity: default "
        "$AZURE_TENANT_ID of the operator.",
    )
    client_id: IdText | None = Field(
        default=None, description="Client (application) ID of the identity."
    )
    secret_ref: CredentialSecretRef | None = Field(
        default=None, description="ClientSecret / ClientCertificate: where the value is."
    )
    authority_host: AuthorityHost | None = Field(
        default=None,
        description="Entra authority host, for sovereign clouds (e.g. "
        "https://login.microsoftonline.us). Default: $AZURE_AUTHORITY_HOST of the operator, "
        "else the public cloud.",
    )


ProjectCredential.cel_rules = _credential_rules()


class SelectorOperator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class SelectorRequirement(CrdModel):
    """One requirement on a namespace's labels (metav1.LabelSelectorRequirement)."""

    cel_rules: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "(self.operator in ['In', 'NotIn']) == (has(self.values) && size(self.values) > 0)",
            "spec.namespaceSelector.matchExpressions[].values must be non-empty for In and "
            "NotIn, and absent for Exists and DoesNotExist",
            check=lambda r: (
                (r.operator in (SelectorOperator.IN, SelectorOperator.NOT_IN)) == bool(r.values)
            ),
        ),
    )

    key: Annotated[str, Field(min_length=1, max_length=317)] = Field(description="Label key.")
    operator: SelectorOperator = Field(description="In, NotIn, Exists or DoesNotExist.")
    values: list[Annotated[str, Field(max_length=63)]] | None = Field(
        default=None,
        max_length=MAX_SELECTOR_TERMS,
        description="Label values (In, NotIn).",
        json_schema_extra=k8s_extra(list_type="atomic"),
    )


class NamespaceSelector(CrdModel):
    """Which namespaces may use a ClusterFoundryProject, by their labels (a
    metav1.LabelSelector; {} admits every namespace)."""

    match_labels: dict[str, Annotated[str, Field(max_length=63)]] | None = Field(
        default=None,
        max_length=MAX_SELECTOR_TERMS,
        description="Labels a namespace must carry, with these values.",
    )
    match_expressions: list[SelectorRequirement] | None = Field(
        default=None,
        max_length=MAX_SELECTOR_TERMS,
        description="Requirements a namespace's labels must all meet.",
        json_schema_extra=k8s_extra(list_type="atomic"),
    )


class FoundryProjectSpec(CrdModel):
    """A Foundry project endpoint and the credential HostedAgents of this namespace use
    to reach it."""

    cel_rules: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "!has(self.credential) || !has(self.credential.secretRef) || "
            "!has(self.credential.secretRef.namespace)",
            "spec.credential.secretRef.namespace is not allowed on a FoundryProject: its Secret "
            "is in the project's own namespace",
            check=lambda s: (
                s.credential.secret_ref is None or s.credential.secret_ref.namespace is None
            ),
            field_path=".credential.secretRef.namespace",
            reason="FieldValueForbidden",
        ),
    )

    endpoint: Endpoint = Field(
        description="The Foundry project endpoint, "
        "https://<account>.services.ai.azure.com/api/projects/<project>."
    )
    credential: ProjectCredential = Field(
        default_factory=ProjectCredential,
        description="How the operator authenticates to the project. Default: its own identity.",
        # The apiserver fills in the Operator source when credential is absent, so that
        # what is in use shows in the object and in kubectl's Credential column.
        json_schema_extra={"default": {"source": "Operator"}},
    )
    max_concurrency: int | None = Field(
        default=None,
        ge=1,
        le=512,
        description="Cap on concurrent Foundry calls to this project, shared by every "
        "HostedAgent using it. Default: the operator's maxConcurrency.",
    )


class ClusterFoundryProjectSpec(FoundryProjectSpec):
    """A Foundry project endpoint and credential that HostedAgents of the namespaces
    namespaceSelector admits may use."""

    cel_rules: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "!has(self.credential) || !has(self.credential.secretRef) || "
            "has(self.credential.secretRef.namespace)",
            "spec.credential.secretRef.namespace is required on a ClusterFoundryProject",
            check=lambda s: (
                s.credential.secret_ref is None or s.credential.secret_ref.namespace is not None
            ),
            field_path=".credential.secretRef.namespace",
            reason="FieldValueRequired",
        ),
    )

    namespace_selector: NamespaceSelector = Field(
        description="Namespaces whose HostedAgents may use this project, by label ({} admits "
        "every namespace). A HostedAgent elsewhere is refused with reason ProjectNotAllowed."
    )


class FoundryProjectStatus(CrdModel):
    """Observed state of the project, written by the operator."""

    observed_generation: int | None = Field(
        default=None, ge=0, description="metadata.generation the operator last acted on."
    )
    phase: Phase | None = Field(
        default=None,
        description="Pending, Ready (a token was obtained and a read of the project "
        "succeeded) or Failed.",
    )
    endpoint: str | None = Field(
        default=None, max_length=2048, description="The endpoint last checked."
    )
    credential: str | None = Field(
        default=None,
        max_length=512,
        description="The credential in use, described (source, client ID, Secret name); "
        "never a secret value.",
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        max_length=16,
        description="Ready, Progressing and Degraded, following Kubernetes conventions.",
        json_schema_extra=k8s_extra(list_type="map", list_map_keys=["type"]),
    )
    last_error: LastError | None = Field(
        default=None, description="The most recent error, with a remediation."
    )
