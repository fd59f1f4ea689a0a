{{/*
Chart name, truncated to 63 characters (the DNS label limit of some name fields).
*/}}
{{- define "foundry-agent-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: release name plus chart name, unless the release name already contains it.
*/}}
{{- define "foundry-agent-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "foundry-agent-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object.
*/}}
{{- define "foundry-agent-operator.labels" -}}
helm.sh/chart: {{ include "foundry-agent-operator.chart" . }}
{{ include "foundry-agent-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: foundry-agent-operator
{{- end }}

{{/*
Selector labels: stable across upgrades (a Deployment's selector is immutable).
*/}}
{{- define "foundry-agent-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "foundry-agent-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "foundry-agent-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "foundry-agent-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image reference: registry/repository, then @digest or :tag (default: appVersion).
*/}}
{{- define "foundry-agent-operator.image" -}}
{{- $repo := .Values.image.repository }}
{{- if .Values.image.registry }}
{{- $repo = printf "%s/%s" (trimSuffix "/" .Values.image.registry) $repo }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
"true" when replicas elect a leader: asked for, or needed because several replicas run.
*/}}
{{- define "foundry-agent-operator.leaderElection" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicaCount) 1) }}true{{- end }}
{{- end }}

{{/*
The leader Lease's name. The operator has no setting for it yet (settings.py: lease_name),
so it is the operator's default; the RBAC rules name it.
*/}}
{{- define "foundry-agent-operator.leaseName" -}}
{{ include "foundry-agent-operator.fullname" . }}
{{- end }}

{{/*
The HostedAgent CRD: the copy of crds/ kept in files/, with the chart's labels and, unless
turned off, the annotation that makes `helm uninstall` leave it in place.
*/}}
{{- define "foundry-agent-operator.hostedAgentCRD" -}}
{{- $crd := .Files.Get "files/crds/hostedagents.foundry.agents.dev.yaml" | fromYaml }}
{{- if hasKey $crd "Error" }}
{{- fail (printf "files/crds/hostedagents.foundry.agents.dev.yaml does not parse: %s" $crd.Error) }}
{{- end }}
{{- $labels := merge (include "foundry-agent-operator.labels" . | fromYaml) ($crd.metadata.labels | default dict) }}
{{- $_ := set $crd.metadata "labels" $labels }}
{{- if .Values.crds.keep }}
{{- /* Argo CD ignores Helm's resource policy; its own sync options keep the CRD too. */}}
{{- $_ := set $crd.metadata "annotations" (dict "helm.sh/resource-policy" "keep" "argocd.argoproj.io/sync-options" "Delete=false,Prune=false") }}
{{- end }}
{{- toYaml $crd }}
{{- end }}

{{/*
Refuse combinations that cannot work, with the fix in the message.
*/}}
{{- define "foundry-agent-operator.foundryToolboxCRD" -}}
{{- $crd := .Files.Get "files/crds/foundrytoolboxes.foundry.agents.dev.yaml" | fromYaml }}
{{- if hasKey $crd "Error" }}
{{- fail (printf "files/crds/foundrytoolboxes.foundry.agents.dev.yaml does not parse: %s" $crd.Error) }}
{{- end }}
{{- $labels := merge (include "foundry-agent-operator.labels" . | fromYaml) ($crd.metadata.labels | default dict) }}
{{- $_ := set $crd.metadata "labels" $labels }}
{{- if .Values.crds.keep }}
{{- $_ := set $crd.metadata "annotations" (dict "helm.sh/resource-policy" "keep" "argocd.argoproj.io/sync-options" "Delete=false,Prune=false") }}
{{- end }}
{{- toYaml $crd }}
{{- end }}

{{- define "foundry-agent-operator.validate" -}}
{{- if and .Values.azure.workloadIdentity.enabled .Values.azure.credentialsSecret }}
{{- fail "azure.workloadIdentity.enabled and azure.credentialsSecret are both set: choose one (DefaultAzureCredential would use the Secret and ignore workload identity)" }}
{{- end }}
{{- if and .Values.azure.workloadIdentity.enabled (not .Values.azure.workloadIdentity.clientId) }}
{{- fail "azure.workloadIdentity.clientId is required when azure.workloadIdentity.enabled is true: set it to the managed identity's client id" }}
{{- end }}
{{- if ne (len .Values.watchNamespaces) (len (uniq .Values.watchNamespaces)) }}
{{- fail "watchNamespaces lists a namespace twice" }}
{{- end }}
{{- end }}

{{/*
The rules every scope needs, on HostedAgents, FoundryToolboxes, Events, Secrets and ConfigMaps (read for env,
written for spec.endpointConfigMap); the RBAC template adds the scope's own (CRD discovery
cluster-wide) and the leader Lease. hostedagents/finalizers: the endpoint ConfigMap's
ownerReference sets blockOwnerDeletion, which the OwnerReferencesPermissionEnforcement
admission plugin (where enabled) allows only with update there.
*/}}
{{- define "foundry-agent-operator.rules" -}}
- apiGroups: ["foundry.agents.dev"]
  resources: ["hostedagents"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["foundry.agents.dev"]
  resources: ["hostedagents/status"]
  verbs: ["patch"]
- apiGroups: ["foundry.agents.dev"]
  resources: ["hostedagents/finalizers"]
  verbs: ["update"]
- apiGroups: ["foundry.agents.dev"]
  resources: ["foundrytoolboxes"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["foundry.agents.dev"]
  resources: ["foundrytoolboxes/status"]
  verbs: ["patch"]
- apiGroups: ["foundry.agents.dev"]
  resources: ["foundryprojects"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["foundry.agents.dev"]
  resources: ["foundryprojects/status"]
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: [""]
  resources: ["secrets", "configmaps"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["create", "patch", "delete"]
{{- end }}

{{/*
A CRD of files/crds/ by file name, dressed as the two above: the chart's labels and the
keep annotations. Called with (dict "root" $ "file" "NAME.yaml").
*/}}
{{- define "foundry-agent-operator.crdFile" -}}
{{- $path := printf "files/crds/%s" .file }}
{{- $crd := .root.Files.Get $path | fromYaml }}
{{- if hasKey $crd "Error" }}
{{- fail (printf "%s does not parse: %s" $path $crd.Error) }}
{{- end }}
{{- $labels := merge (include "foundry-agent-operator.labels" .root | fromYaml) ($crd.metadata.labels | default dict) }}
{{- $_ := set $crd.metadata "labels" $labels }}
{{- if .root.Values.crds.keep }}
{{- $_ := set $crd.metadata "annotations" (dict "helm.sh/resource-policy" "keep" "argocd.argoproj.io/sync-options" "Delete=false,Prune=false") }}
{{- end }}
{{- toYaml $crd }}
{{- end }}
