{{/*
Checks the schema cannot express. Each failure names the value to change and how.
*/}}
{{- define "vl2ingest.validateValues" -}}
{{- $errors := list -}}
{{- if not .Values.kafka.bootstrapServers -}}
{{- $errors = append $errors "kafka.bootstrapServers is empty: set it to the brokers, e.g. --set kafka.bootstrapServers=kafka-bootstrap:9092" -}}
{{- end -}}
{{- if not .Values.s3.allowedBuckets -}}
{{- $errors = append $errors "s3.allowedBuckets is empty: list the buckets the service may read, e.g. --set 's3.allowedBuckets={scans}'" -}}
{{- end -}}
{{- $total := 0 -}}
{{- $names := dict -}}
{{- range .Values.pools -}}
{{- $total = add $total (int .maxReplicas) -}}
{{- if hasKey $names .name -}}
{{- $errors = append $errors (printf "pools: the name %q is used twice: give each pool its own name" .name) -}}
{{- end -}}
{{- $_ := set $names .name true -}}
{{- if gt (int .minReplicas) (int .maxReplicas) -}}
{{- $errors = append $errors (printf "pools[%s]: minReplicas (%d) > maxReplicas (%d): lower minReplicas or raise maxReplicas" .name (int .minReplicas) (int .maxReplicas)) -}}
{{- end -}}
{{- if and (hasKey . "variant") (ne .variant $.Values.model.variant) -}}
{{- $errors = append $errors (printf "pools[%s].variant is %s but model.variant is %s: all pools of a release share one model variant and consumer group; drop the pool's variant, or install a second release (its own kafka.groupId) for another variant" .name .variant $.Values.model.variant) -}}
{{- end -}}
{{- end -}}
{{- if gt $total (int .Values.kafka.requestsPartitions) -}}
{{- $errors = append $errors (printf "pools: maxReplicas add up to %d, above the %d partitions of the requests topic (kafka.requestsPartitions): extra consumers would sit idle; lower the pools' maxReplicas or add partitions" $total (int .Values.kafka.requestsPartitions)) -}}
{{- end -}}
{{- if and (hasPrefix "SASL" .Values.kafka.securityProtocol) (not .Values.kafka.saslMechanism) -}}
{{- $errors = append $errors (printf "kafka.saslMechanism is empty with kafka.securityProtocol=%s: set PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512" .Values.kafka.securityProtocol) -}}
{{- end -}}
{{- if and (hasPrefix "SASL" .Values.kafka.securityProtocol) (not .Values.kafka.sasl.existingSecret) -}}
{{- $errors = append $errors "kafka.sasl.existingSecret is empty with a SASL protocol: name an existing Secret holding the username and password" -}}
{{- end -}}
{{- if and .Values.kafka.tls.certKey (not .Values.kafka.tls.keyKey) -}}
{{- $errors = append $errors "kafka.tls.certKey is set without kafka.tls.keyKey: a client certificate needs its key" -}}
{{- end -}}
{{- if and (eq .Values.engine "lmdeploy") (eq .Values.model.source.type "pvc") (not .Values.model.source.pvc.claimName) -}}
{{- $errors = append $errors "model.source.pvc.claimName is empty: name the PersistentVolumeClaim holding the checkpoint, or use model.source.type=hostPath" -}}
{{- end -}}
{{- if and (eq .Values.engine "lmdeploy") (eq .Values.model.source.type "hostPath") (not .Values.model.source.hostPath.path) -}}
{{- $errors = append $errors "model.source.hostPath.path is empty: give the checkpoint's directory on the nodes" -}}
{{- end -}}
{{- if and (eq .Values.engine "lmdeploy") (eq .Values.model.source.type "s3") (not (hasPrefix "s3://" .Values.model.source.s3.uri)) -}}
{{- $errors = append $errors "model.source.s3.uri must be s3://bucket/prefix of a checkpoint with a SHA256SUMS manifest (the init container verifies every file against it)" -}}
{{- end -}}
{{- if and .Values.autoscaling.keda.prometheus.enabled (not .Values.autoscaling.keda.prometheus.serverAddress) -}}
{{- $errors = append $errors "autoscaling.keda.prometheus.serverAddress is empty: give the Prometheus URL the engine-saturation trigger queries" -}}
{{- end -}}
{{- if $errors -}}
{{- fail (printf "\nvalues check failed:\n- %s" (join "\n- " $errors)) -}}
{{- end -}}
{{- end -}}
