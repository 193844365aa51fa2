{{/*
Helpers for the Kubernetes objects of an experiment (iter8 k launch). The
release is named after the experiment group.
*/}}

{{/* iter8.validateRunner fails on a runner iter8 does not know. */}}
{{- define "iter8.validateRunner" -}}
{{- if not (has .Values.runner (list "none" "job" "cronjob")) }}
{{- fail (printf "runner must be none, job or cronjob; got %q" (toString .Values.runner)) }}
{{- end }}
{{- $pods := include "iter8.pods" . | atoi }}
{{- if and (gt $pods 1) (eq .Values.runner "none") }}
{{- fail (printf "http.replicas and grpc.replicas above 1 need runner=job or runner=cronjob: the %d load generator pods run as one Indexed Job (iter8 k run by hand is one pod)" $pods) }}
{{- end }}
{{- if and (eq .Values.runner "cronjob") (not .Values.cronjobSchedule) }}
{{- fail "cronjobSchedule is required when runner is cronjob: a cron schedule such as --set cronjobSchedule=\"*/5 * * * *\"" }}
{{- end }}
{{- end }}

{{/*
iter8.pods is the number of load generator pods of the experiment's Job:
the most replicas of its http and grpc tasks, 1 without any. With more
than one, the Job is an Indexed Job and each pod knows its index.
*/}}
{{- define "iter8.pods" -}}
{{- $n := 1 }}
{{- if kindIs "slice" .Values.tasks }}
{{- range $t := list "http" "grpc" }}
{{- $in := index $.Values $t }}
{{- if and (has $t $.Values.tasks) (kindIs "map" $in) }}
{{- $r := int ($in.replicas | default 1) }}
{{- if gt $r $n }}{{ $n = $r }}{{ end }}
{{- end }}
{{- end }}
{{- end }}
{{- $n }}
{{- end }}

{{/* iter8.serviceAccountName is the pods' ServiceAccount. */}}
{{- define "iter8.serviceAccountName" -}}
{{- default (printf "%s-iter8-sa" .Release.Name) .Values.serviceAccountName }}
{{- end }}

{{/* iter8.labels are on every object of the experiment. */}}
{{- define "iter8.labels" -}}
iter8.tools/group: {{ .Release.Name | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
{{- end }}

{{/*
iter8.podTemplate is the pod that runs iter8 k run for one loop. It runs as
a non-root user with a read-only root filesystem (with a writable /tmp for
run tasks), no privilege escalation and no capabilities.
*/}}
{{- define "iter8.podTemplate" -}}
{{- $ := .ctx }}
metadata:
  labels:
    {{- include "iter8.labels" $ | nindent 4 }}
  annotations:
    sidecar.istio.io/inject: "false"
    iter8.tools/revision: {{ $.Release.Revision | quote }}
spec:
  serviceAccountName: {{ include "iter8.serviceAccountName" $ }}
  restartPolicy: Never
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    seccompProfile:
      type: RuntimeDefault
  containers:
  - name: iter8
    image: {{ $.Values.iter8Image | quote }}
    imagePullPolicy: {{ $.Values.imagePullPolicy | default "IfNotPresent" }}
    command: ["iter8"]
    args:
    - k
    - run
    - --namespace
    - {{ $.Release.Namespace | quote }}
    - --group
    - {{ $.Release.Name | quote }}
    - -l
    - {{ $.Values.logLevel | default "info" | quote }}
    {{- if .reuseResult }}
    - --reuseResult
    {{- end }}
    {{- if gt (.pods | default 1 | int) 1 }}
    - --pods
    - {{ .pods | quote }}
    - --index
    - $(JOB_COMPLETION_INDEX)
    - --job
    - $(ITER8_JOB)
    {{- end }}
    {{- with $.Values.resources }}
    resources:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      runAsNonRoot: true
      capabilities:
        drop: ["ALL"]
    {{- if gt (.pods | default 1 | int) 1 }}
    env:
    # the Job of this loop: a CronJob makes one per loop
    - name: ITER8_JOB
      valueFrom:
        fieldRef:
          fieldPath: metadata.labels['batch.kubernetes.io/job-name']
    {{- with $.Values.env }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- else }}
    {{- with $.Values.env }}
    env:
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- end }}
    volumeMounts:
    - name: tmp
      mountPath: /tmp
    {{- if $.Values.keptSecrets }}
    - name: kept-secrets
      mountPath: /var/run/secrets/iter8
      readOnly: true
    {{- end }}
    {{- with $.Values.volumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  volumes:
  - name: tmp
    emptyDir: {}
  {{- /* 0444: the pod runs as 65532 without fsGroup; its one container is iter8 */}}
  {{- with $.Values.keptSecrets }}
  - name: kept-secrets
    secret:
      secretName: {{ $.Release.Name }}
      defaultMode: 0444
      items:
      {{- range $k, $v := . }}
      - key: {{ $k }}
        path: {{ $k }}
      {{- end }}
  {{- end }}
  {{- with $.Values.volumes }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
