{{/* Names, labels and the container's environment. Helpers are prefixed with the chart name. */}}

{{- define "vl2ingest.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "vl2ingest.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The workload of one pool: "<fullname>-<pool>" (pool names are short: see the schema). */}}
{{- define "vl2ingest.poolName" -}}
{{- printf "%s-%s" (include "vl2ingest.fullname" .root) .pool.name | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{- define "vl2ingest.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vl2ingest.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "vl2ingest.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "vl2ingest.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: extractor
{{- end -}}

{{- define "vl2ingest.poolSelectorLabels" -}}
{{ include "vl2ingest.selectorLabels" .root }}
vl2ingest.io/pool: {{ .pool.name }}
{{- end -}}

{{- define "vl2ingest.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "vl2ingest.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "vl2ingest.image" -}}
{{- $image := ternary .Values.image.gpu .Values.image.cpu (eq .Values.engine "lmdeploy") -}}
{{- printf "%s:%s" $image.repository (default .Chart.AppVersion $image.tag) -}}
{{- end -}}

{{- define "vl2ingest.gracePeriod" -}}
{{- add (int .Values.pipeline.drainTimeoutSeconds) (int .Values.pipeline.terminationMarginSeconds) -}}
{{- end -}}

{{- define "vl2ingest.tlsDir" -}}/etc/vl2ingest/kafka-tls{{- end -}}

{{/*
The service's settings (VL2INGEST_*), rendered into the ConfigMap. Secrets are not here: they
come by reference (vl2ingest.secretEnv). The chart's tests check every name is a real setting.
*/}}
{{- define "vl2ingest.settings" -}}
{{- $preset := include "vl2ingest.preset" . | fromYaml -}}
VL2INGEST_KAFKA__BOOTSTRAP_SERVERS: {{ .Values.kafka.bootstrapServers | quote }}
VL2INGEST_KAFKA__REQUESTS_TOPIC: {{ .Values.kafka.topics.requests | quote }}
VL2INGEST_KAFKA__RESULTS_TOPIC: {{ .Values.kafka.topics.results | quote }}
VL2INGEST_KAFKA__DLQ_TOPIC: {{ .Values.kafka.topics.dlq | quote }}
VL2INGEST_KAFKA__GROUP_ID: {{ .Values.kafka.groupId | quote }}
VL2INGEST_KAFKA__SESSION_TIMEOUT_MS: {{ .Values.kafka.sessionTimeoutMs | quote }}
VL2INGEST_KAFKA__COMPRESSION_TYPE: {{ .Values.kafka.compressionType | quote }}
VL2INGEST_KAFKA__SECURITY_PROTOCOL: {{ .Values.kafka.securityProtocol | quote }}
{{- if .Values.kafka.saslMechanism }}
VL2INGEST_KAFKA__SASL_MECHANISM: {{ .Values.kafka.saslMechanism | quote }}
{{- end }}
{{- if .Values.kafka.tls.existingSecret }}
VL2INGEST_KAFKA__SSL_CAFILE: {{ printf "%s/%s" (include "vl2ingest.tlsDir" .) .Values.kafka.tls.caKey | quote }}
{{- if .Values.kafka.tls.certKey }}
VL2INGEST_KAFKA__SSL_CERTFILE: {{ printf "%s/%s" (include "vl2ingest.tlsDir" .) .Values.kafka.tls.certKey | quote }}
VL2INGEST_KAFKA__SSL_KEYFILE: {{ printf "%s/%s" (include "vl2ingest.tlsDir" .) .Values.kafka.tls.keyKey | quote }}
{{- end }}
{{- end }}
VL2INGEST_DELIVERY: {{ .Values.kafka.delivery | quote }}
{{- if .Values.s3.endpointUrl }}
VL2INGEST_S3__ENDPOINT_URL: {{ .Values.s3.endpointUrl | quote }}
{{- end }}
VL2INGEST_S3__REGION: {{ .Values.s3.region | quote }}
VL2INGEST_S3__ADDRESSING_STYLE: {{ .Values.s3.addressingStyle | quote }}
VL2INGEST_S3__ALLOWED_BUCKETS: {{ join "," .Values.s3.allowedBuckets | quote }}
VL2INGEST_ENGINE__NAME: {{ .Values.engine | quote }}
{{- if eq .Values.engine "lmdeploy" }}
VL2INGEST_ENGINE__MODEL_PATH: {{ .Values.model.mountPath | quote }}
VL2INGEST_ENGINE__MODEL_NAME: {{ $preset.modelName | quote }}
VL2INGEST_ENGINE__BACKEND: "pytorch"
{{- end }}
VL2INGEST_PIPELINE__DRAIN_TIMEOUT_S: {{ .Values.pipeline.drainTimeoutSeconds | quote }}
VL2INGEST_PIPELINE__MAX_BATCH_IMAGES: {{ .Values.pipeline.maxBatchImages | quote }}
VL2INGEST_PIPELINE__DEFAULT_TASK: {{ .Values.pipeline.defaultTask | quote }}
VL2INGEST_HEALTH__HOST: "0.0.0.0"
VL2INGEST_HEALTH__PORT: {{ .Values.metrics.port | quote }}
VL2INGEST_LOG__LEVEL: {{ .Values.logLevel | quote }}
VL2INGEST_LOG__FORMAT: "json"
{{- range $name, $value := .Values.extraSettings }}
{{ $name }}: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* Environment from existing Secrets and the pod itself (never values in this chart). */}}
{{- define "vl2ingest.secretEnv" -}}
{{- if .Values.kafka.sasl.existingSecret }}
- name: VL2INGEST_KAFKA__SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.sasl.existingSecret }}
      key: {{ .Values.kafka.sasl.usernameKey }}
- name: VL2INGEST_KAFKA__SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.sasl.existingSecret }}
      key: {{ .Values.kafka.sasl.passwordKey }}
{{- end }}
{{- if .Values.s3.existingSecret }}
- name: VL2INGEST_S3__ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ .Values.s3.existingSecret }}
      key: {{ .Values.s3.accessKeyIdKey }}
- name: VL2INGEST_S3__SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.s3.existingSecret }}
      key: {{ .Values.s3.secretAccessKeyKey }}
{{- end }}
{{- if .Values.kafka.staticMembership }}
- name: VL2INGEST_KAFKA__GROUP_INSTANCE_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- end }}
{{- if .Values.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .Values.otel.endpoint | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ include "vl2ingest.fullname" . | quote }}
{{- end }}
{{- end -}}

{{/* The pools with every field filled in: a pool lists only what differs from these. */}}
{{- define "vl2ingest.pools" -}}
{{- $defaults := dict
  "gpu" (dict "resource" "nvidia.com/gpu" "count" 1 "product" "")
  "nodeSelector" (dict) "affinity" (dict) "tolerations" (list)
  "runtimeClassName" "" "priorityClassName" ""
  "resources" (dict "requests" (dict "cpu" "4" "memory" "24Gi") "limits" (dict "memory" "48Gi"))
  "lagThreshold" 200 "activationLagThreshold" 10
-}}
{{- $pools := list -}}
{{- range .Values.pools -}}
{{- $pools = append $pools (mergeOverwrite (deepCopy $defaults) (deepCopy .)) -}}
{{- end -}}
{{- toYaml $pools -}}
{{- end -}}
