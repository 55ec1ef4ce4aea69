{{/*
Named templates. The ones marked PUBLIC are meant to be included from your own charts to
add the sidecar to your pods (see README.md). They take a context with .Values (this
chart's values), .Release and .Capabilities; from a parent chart that has this chart as a
dependency:

  {{- $ra := dict "Values" (index .Values "rolesanywhere-sidecar") "Release" .Release "Capabilities" .Capabilities }}
  initContainers:
    {{- include "rolesanywhere-sidecar.initContainer" $ra | nindent 4 }}

They read nothing from .Chart, so the parent's chart metadata does not leak in.
*/}}

{{- define "rolesanywhere-sidecar.name" -}}
{{- default "rolesanywhere-sidecar" .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "rolesanywhere-sidecar.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "rolesanywhere-sidecar.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
"<fullname><suffix>" within the 63 characters of a DNS label: the fullname is cut before
the suffix is added, so the suffix (and the name's meaning) survives a long release name.
Called with a list: (list . "-metrics").
*/}}
{{- define "rolesanywhere-sidecar.suffixedName" -}}
{{- $ctx := index . 0 -}}
{{- $suffix := index . 1 -}}
{{- $base := include "rolesanywhere-sidecar.fullname" $ctx | trunc (int (sub 63 (len $suffix))) | trimSuffix "-" -}}
{{- printf "%s%s" $base $suffix -}}
{{- end -}}

{{/* Labels of the chart's own objects (these do read .Chart). */}}
{{- define "rolesanywhere-sidecar.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "rolesanywhere-sidecar.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "rolesanywhere-sidecar.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rolesanywhere-sidecar.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
The chart's labels merged with more label maps, later maps winning, as one YAML mapping: a
key given twice (a user label repeating a standard one) appears once. Called with a list:
(list . (dict "app.kubernetes.io/component" "metrics") .Values.metrics.serviceMonitor.labels).
*/}}
{{- define "rolesanywhere-sidecar.labelsWith" -}}
{{- $labels := fromYaml (include "rolesanywhere-sidecar.labels" (index . 0)) -}}
{{- range $more := rest . -}}
{{- $labels = mergeOverwrite $labels (default (dict) $more) -}}
{{- end -}}
{{- toYaml $labels -}}
{{- end -}}

{{/*
PUBLIC. Labels for the metadata.labels of every pod template that includes the sidecar. The
metrics Service selects pods by them (unless metrics.service.selector is set), in the demo
and in your own pods alike; the value names this release's sidecar, so two releases in one
namespace do not select each other's pods.
*/}}
{{- define "rolesanywhere-sidecar.podLabels" -}}
rolesanywhere-sidecar/instance: {{ include "rolesanywhere-sidecar.fullname" . }}
{{- end -}}

{{/*
"true" (non-empty) when the sidecar renders as a native sidecar: an init container with
restartPolicy: Always, which the API server accepts from Kubernetes 1.29 (the SidecarContainers
feature gate is on by default from 1.29; see the Kubernetes docs, "Sidecar Containers").
sidecar.native "auto" decides by .Capabilities.KubeVersion; true on an older cluster fails
here rather than at the API server. "-0" in the constraints admits vendor versions, which
semver calls pre-releases (v1.29.3-eks-...).
*/}}
{{- define "rolesanywhere-sidecar.native" -}}
{{- $mode := .Values.sidecar.native -}}
{{- if eq (toString $mode) "auto" -}}
{{- if not .Capabilities -}}
{{- fail "rolesanywhere-sidecar: sidecar.native is auto, which reads .Capabilities.KubeVersion: add \"Capabilities\" .Capabilities to the dict you give the named templates, or set sidecar.native to true or false" -}}
{{- end -}}
{{- if semverCompare ">=1.29.0-0" .Capabilities.KubeVersion.Version -}}
true
{{- end -}}
{{- else if $mode -}}
{{- if and .Capabilities (semverCompare "<1.29.0-0" .Capabilities.KubeVersion.Version) -}}
{{- fail (printf "rolesanywhere-sidecar: sidecar.native=true needs Kubernetes 1.29 or later, this cluster is %s: set sidecar.native to auto or false" .Capabilities.KubeVersion.Version) -}}
{{- end -}}
true
{{- end -}}
{{- end -}}

{{- define "rolesanywhere-sidecar.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository .Values.image.tag -}}
{{- end -}}
{{- end -}}

{{/* The kubernetes.io/tls Secret with tls.crt and tls.key. */}}
{{- define "rolesanywhere-sidecar.secretName" -}}
{{- default (include "rolesanywhere-sidecar.suffixedName" (list . "-tls")) .Values.certificate.secretName -}}
{{- end -}}

{{/* True (non-empty) when the token travels in the shared token file rather than a Secret. */}}
{{- define "rolesanywhere-sidecar.tokenFile" -}}
{{- if and .Values.containerEndpoint.enabled (not .Values.containerEndpoint.tokenSecret.name) -}}
true
{{- end -}}
{{- end -}}

{{/*
The sidecar's arguments. Credential listeners stay on 127.0.0.1 (every container of the
pod shares that loopback, nothing outside the pod reaches it); only the ops listener binds
the pod IP, because the kubelet probes it there, hence --ops-allow-non-loopback, which lifts
the loopback guard of that listener alone (README.md, "Exposure, browsers and DNS rebinding").
*/}}
{{- define "rolesanywhere-sidecar.args" -}}
- serve
- --certificate
- {{ printf "%s/tls.crt" .Values.certificate.mountPath | quote }}
- --private-key
- {{ printf "%s/tls.key" .Values.certificate.mountPath | quote }}
- --trust-anchor-arn
- {{ required "rolesanywhere-sidecar: set trustAnchorArn (arn:aws:rolesanywhere:<region>:<account>:trust-anchor/<id>)" .Values.trustAnchorArn | quote }}
- --profile-arn
- {{ required "rolesanywhere-sidecar: set profileArn (arn:aws:rolesanywhere:<region>:<account>:profile/<id>)" .Values.profileArn | quote }}
- --role-arn
- {{ required "rolesanywhere-sidecar: set roleArn (arn:aws:iam::<account>:role/<name>)" .Values.roleArn | quote }}
- --session-duration
- {{ .Values.sessionDuration | quote }}
{{- if .Values.region }}
- --region
- {{ .Values.region | quote }}
{{- end }}
{{- if .Values.roleSessionName }}
- --role-session-name
- {{ .Values.roleSessionName | quote }}
{{- end }}
{{- if .Values.endpoint }}
- --endpoint
- {{ .Values.endpoint | quote }}
{{- end }}
{{- if .Values.imds.enabled }}
- --address
- "127.0.0.1"
- --port
- {{ .Values.ports.imds | quote }}
{{- if .Values.imds.v1 }}
- --imdsv1
{{- end }}
{{- else }}
- --no-imds
{{- end }}
{{- if .Values.containerEndpoint.enabled }}
- --container-address
- "127.0.0.1"
- --container-port
- {{ .Values.ports.container | quote }}
- --container-path
- {{ .Values.containerEndpoint.path | quote }}
{{- if include "rolesanywhere-sidecar.tokenFile" . }}
- --container-token-file
- {{ printf "%s/token" .Values.containerEndpoint.tokenDir | quote }}
{{- end }}
{{- else }}
- --no-container
{{- end }}
- --ops-address
- {{ .Values.opsAddress | quote }}
- --ops-port
- {{ .Values.ports.ops | quote }}
{{- if not (has .Values.opsAddress (list "127.0.0.1" "::1" "localhost")) }}
- --ops-allow-non-loopback
{{- end }}
- --min-remaining
- {{ .Values.minRemaining | quote }}
- --identity-poll-interval
- {{ .Values.identityPollInterval | quote }}
- --log-level
- {{ .Values.logLevel | quote }}
- --log-format
- {{ .Values.logFormat | quote }}
{{- range .Values.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end -}}

{{/* The container spec shared by the native and the plain form (a mapping, no leading dash). */}}
{{- define "rolesanywhere-sidecar.containerSpec" -}}
name: {{ .Values.sidecar.name }}
image: {{ include "rolesanywhere-sidecar.image" . | quote }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
args:
  {{- include "rolesanywhere-sidecar.args" . | nindent 2 }}
{{- if or (and .Values.containerEndpoint.enabled .Values.containerEndpoint.tokenSecret.name) .Values.extraEnv }}
env:
{{- if and .Values.containerEndpoint.enabled .Values.containerEndpoint.tokenSecret.name }}
  - name: ROLESANYWHERE_CONTAINER_TOKEN
    valueFrom:
      secretKeyRef:
        name: {{ .Values.containerEndpoint.tokenSecret.name }}
        key: {{ .Values.containerEndpoint.tokenSecret.key }}
{{- end }}
{{- with .Values.extraEnv }}
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
ports:
  - name: ra-ops
    containerPort: {{ .Values.ports.ops }}
    protocol: TCP
startupProbe:
  httpGet:
    path: /readyz
    port: ra-ops
  periodSeconds: {{ .Values.probes.startup.periodSeconds }}
  failureThreshold: {{ .Values.probes.startup.failureThreshold }}
  timeoutSeconds: {{ .Values.probes.startup.timeoutSeconds }}
readinessProbe:
  httpGet:
    path: /readyz
    port: ra-ops
  periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
  failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
  timeoutSeconds: {{ .Values.probes.readiness.timeoutSeconds }}
livenessProbe:
  httpGet:
    path: /healthz
    port: ra-ops
  periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
  failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
  timeoutSeconds: {{ .Values.probes.liveness.timeoutSeconds }}
resources:
  {{- toYaml .Values.resources | nindent 2 }}
securityContext:
  runAsNonRoot: true
  runAsUser: {{ .Values.securityContext.runAsUser }}
  runAsGroup: {{ .Values.securityContext.runAsGroup }}
  readOnlyRootFilesystem: true
  allowPrivilegeEscalation: false
  capabilities:
    drop: ["ALL"]
  seccompProfile:
    type: RuntimeDefault
volumeMounts:
  - name: rolesanywhere-tls
    mountPath: {{ .Values.certificate.mountPath }}
    readOnly: true
{{- if include "rolesanywhere-sidecar.tokenFile" . }}
  - name: rolesanywhere-token
    mountPath: {{ .Values.containerEndpoint.tokenDir }}
{{- end }}
{{- end -}}

{{/*
PUBLIC. A list item for your pod's initContainers: the native sidecar (Kubernetes 1.29+).
Its startup probe waits for /readyz, so your containers start once credentials are
there. Renders nothing when the sidecar is a plain container (sidecar.native false, or auto
below 1.29), so include both this and "rolesanywhere-sidecar.container".
*/}}
{{- define "rolesanywhere-sidecar.initContainer" -}}
{{- if include "rolesanywhere-sidecar.native" . }}
- {{ include "rolesanywhere-sidecar.containerSpec" . | indent 2 | trim }}
  restartPolicy: Always
{{- end }}
{{- end -}}

{{/*
PUBLIC. A list item for your pod's containers: the plain-container form, rendered only when
the native one is not (sidecar.native false, or auto below Kubernetes 1.29).
*/}}
{{- define "rolesanywhere-sidecar.container" -}}
{{- if not (include "rolesanywhere-sidecar.native" .) }}
- {{ include "rolesanywhere-sidecar.containerSpec" . | indent 2 | trim }}
{{- end }}
{{- end -}}

{{/*
PUBLIC. env list items for every workload container that calls AWS. The endpoint URLs
are the ones every SDK accepts: 127.0.0.1 (not localhost) for the container endpoint, and
the IMDS endpoint with its trailing slash (AWS CLI v2 appends "latest/..." to it).
*/}}
{{- define "rolesanywhere-sidecar.workloadEnv" -}}
{{- if .Values.containerEndpoint.enabled }}
- name: AWS_CONTAINER_CREDENTIALS_FULL_URI
  value: {{ printf "http://127.0.0.1:%v%s" .Values.ports.container .Values.containerEndpoint.path | quote }}
{{- if .Values.containerEndpoint.tokenSecret.name }}
- name: AWS_CONTAINER_AUTHORIZATION_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ .Values.containerEndpoint.tokenSecret.name }}
      key: {{ .Values.containerEndpoint.tokenSecret.key }}
{{- else }}
- name: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
  value: {{ printf "%s/token" .Values.containerEndpoint.tokenDir | quote }}
{{- end }}
{{- end }}
{{- if .Values.imds.enabled }}
- name: AWS_EC2_METADATA_SERVICE_ENDPOINT
  value: {{ printf "http://127.0.0.1:%v/" .Values.ports.imds | quote }}
{{- end }}
{{- if .Values.region }}
- name: AWS_REGION
  value: {{ .Values.region | quote }}
- name: AWS_DEFAULT_REGION
  value: {{ .Values.region | quote }}
{{- end }}
- name: NO_PROXY
  value: {{ .Values.workloadNoProxy | quote }}
- name: no_proxy
  value: {{ .Values.workloadNoProxy | quote }}
{{- end -}}

{{/*
PUBLIC. volumeMounts list items for the workload containers: the token directory, read
only (nothing when the token comes from a Secret or the container endpoint is off).
*/}}
{{- define "rolesanywhere-sidecar.workloadVolumeMounts" -}}
{{- if include "rolesanywhere-sidecar.tokenFile" . }}
- name: rolesanywhere-token
  mountPath: {{ .Values.containerEndpoint.tokenDir }}
  readOnly: true
{{- end }}
{{- end -}}

{{/*
PUBLIC. volumes list items for the pod. The Secret is mounted whole (no subPath) so a
renewal reaches the files. Mode 0440: owner root, group the pod's fsGroup, which must be
the sidecar's group (securityContext.runAsGroup, 65532) so the non-root sidecar can read
the key; no other user can. Only the sidecar container mounts this volume.
*/}}
{{- define "rolesanywhere-sidecar.volumes" -}}
- name: rolesanywhere-tls
  secret:
    secretName: {{ include "rolesanywhere-sidecar.secretName" . }}
    defaultMode: 0440
{{- if include "rolesanywhere-sidecar.tokenFile" . }}
- name: rolesanywhere-token
  emptyDir:
    medium: Memory
    sizeLimit: 1Mi
{{- end }}
{{- end -}}
