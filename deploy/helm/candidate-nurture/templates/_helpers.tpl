{{/* Names, labels and the pieces every component's pod shares. */}}

{{- define "nurture.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "nurture.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A component's object name; the fullname is cut so that the suffix always fits. */}}
{{- define "nurture.componentName" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- printf "%s-%s" (include "nurture.fullname" $root | trunc (int (sub 62 (len $component)))) $component | trimSuffix "-" -}}
{{- end -}}

{{/* Kubernetes names allow no underscore: career_event_invite -> career-event-invite. */}}
{{- define "nurture.channelSlug" -}}
{{- . | replace "_" "-" -}}
{{- end -}}

{{- define "nurture.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "nurture.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "nurture.labels" -}}
{{- $root := index . 0 -}}
{{ include "nurture.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" $root.Chart.Name $root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/part-of: candidate-nurture
{{- end -}}

{{- define "nurture.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "nurture.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "nurture.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "nurture.secretName" -}}
{{- default (printf "%s-secrets" (include "nurture.fullname" .)) .Values.secrets.name -}}
{{- end -}}

{{- define "nurture.configName" -}}
{{- printf "%s-config" (include "nurture.fullname" .) -}}
{{- end -}}

{{- define "nurture.saslEnabled" -}}
{{- if hasPrefix "SASL_" .Values.kafka.security.protocol -}}true{{- end -}}
{{- end -}}

{{- define "nurture.tlsEnabled" -}}
{{- if has .Values.kafka.security.protocol (list "SSL" "SASL_SSL") -}}true{{- end -}}
{{- end -}}

{{/* The Secret of the Kafka TLS files, or nothing when the system CAs are trusted. */}}
{{- define "nurture.kafkaTlsSecret" -}}
{{- $tls := .Values.kafka.security.tls -}}
{{- if include "nurture.tlsEnabled" . -}}
{{- if $tls.existingSecret -}}
{{- $tls.existingSecret -}}
{{- else if $tls.create -}}
{{- printf "%s-kafka-tls" (include "nurture.fullname" .) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Where the Secret's files are mounted: the *_FILE settings point here. */}}
{{- define "nurture.secretsDir" -}}/etc/nurture/secrets{{- end -}}
{{- define "nurture.kafkaTlsDir" -}}/etc/nurture/kafka-tls{{- end -}}

{{/*
Checks that stop a render with a message saying what to change, instead of pods that crash
later. Included once, by the ConfigMap every component uses.
*/}}
{{- define "nurture.validate" -}}
{{- $partitions := int .Values.kafka.partitions -}}
{{- if gt (int .Values.worker.replicas) $partitions -}}
{{- fail (printf "worker.replicas (%d) is more than kafka.partitions (%d): a worker beyond the partition count of candidate.activity gets no partition and only slows every rebalance; lower worker.replicas or create the topics with more partitions" (int .Values.worker.replicas) $partitions) -}}
{{- end -}}
{{- if and (include "nurture.saslEnabled" .) (not .Values.kafka.security.sasl.username) -}}
{{- fail (printf "kafka.security.protocol is %s but kafka.security.sasl.username is empty: set the user (its password is the key sasl-password of the application Secret)" .Values.kafka.security.protocol) -}}
{{- end -}}
{{- $tls := .Values.kafka.security.tls -}}
{{- if and $tls.create (not $tls.caCrt) -}}
{{- fail "kafka.security.tls.create is true but kafka.security.tls.caCrt is empty: give the CA that signed the brokers' certificates (--set-file kafka.security.tls.caCrt=ca.pem)" -}}
{{- end -}}
{{- if and $tls.clientCertificate (not (include "nurture.kafkaTlsSecret" .)) -}}
{{- fail "kafka.security.tls.clientCertificate needs the TLS Secret (existingSecret or create) that holds tls.crt and tls.key, and a protocol with TLS (SSL or SASL_SSL)" -}}
{{- end -}}
{{- if and $tls.create $tls.clientCertificate (not (and $tls.tlsCrt $tls.tlsKey)) -}}
{{- fail "kafka.security.tls.clientCertificate with tls.create needs kafka.security.tls.tlsCrt and tlsKey" -}}
{{- end -}}
{{- if and $tls.create $tls.existingSecret -}}
{{- fail "set kafka.security.tls.existingSecret or kafka.security.tls.create, not both" -}}
{{- end -}}
{{- if ne (len .Values.delivery.channels) (len (uniq .Values.delivery.channels)) -}}
{{- fail "delivery.channels lists a channel twice: each channel has one consumer and one store" -}}
{{- end -}}
{{- end -}}

{{/* Environment every component shares: the ConfigMap, then the Kafka secrets. */}}
{{- define "nurture.kafkaEnv" -}}
{{- if include "nurture.saslEnabled" . }}
- name: NURTURE_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "nurture.secretName" . }}
      key: sasl-password
{{- end }}
{{- if .Values.kafka.security.tls.clientCertificate }}
- name: NURTURE_SSL_KEY_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "nurture.secretName" . }}
      key: ssl-key-password
      optional: true
{{- end }}
{{- end -}}

{{- define "nurture.envFrom" -}}
- configMapRef:
    name: {{ include "nurture.configName" . }}
{{- end -}}

{{/* Volumes every pod has: a writable /tmp (the root file system is read-only) and the TLS files. */}}
{{- define "nurture.commonVolumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- with include "nurture.kafkaTlsSecret" . }}
- name: kafka-tls
  secret:
    secretName: {{ . }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{- define "nurture.commonMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if include "nurture.kafkaTlsSecret" . }}
- name: kafka-tls
  mountPath: {{ include "nurture.kafkaTlsDir" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{/*
The application Secret's files a component may read, as a volume: only the keys listed, so a
worker never sees the KEK and the gateway never sees the webhook key.
*/}}
{{- define "nurture.secretVolume" -}}
{{- $root := index . 0 -}}
- name: secrets
  secret:
    secretName: {{ include "nurture.secretName" $root }}
    defaultMode: 0440
    items:
    {{- range (index . 1) }}
      - key: {{ . }}
        path: {{ . }}
    {{- end }}
{{- end -}}

{{- define "nurture.secretMount" -}}
- name: secrets
  mountPath: {{ include "nurture.secretsDir" . }}
  readOnly: true
{{- end -}}

{{/* Rolls the pods when the settings or a chart-made Secret change. */}}
{{- define "nurture.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if .Values.secrets.create }}
checksum/secrets: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}
{{- end -}}

{{- define "nurture.podSpecCommon" -}}
serviceAccountName: {{ include "nurture.serviceAccountName" . }}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end -}}

{{/* Extra environment from a map of name -> value. */}}
{{- define "nurture.extraEnv" -}}
{{- range $name, $value := . }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{- define "nurture.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Render the prometheus-operator objects? (monitoring.prometheusOperator: auto/true/false) */}}
{{- define "nurture.prometheusOperator" -}}
{{- $mode := .Values.monitoring.prometheusOperator | toString -}}
{{- if or (eq $mode "true") (and (eq $mode "auto") (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1")) -}}true{{- end -}}
{{- end -}}
