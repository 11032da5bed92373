{{/*
DeepSeek-VL2 variant presets (README "Which variant fits which GPU"): the model name the
service reports, the /dev/shm size LMDeploy's PyTorch engine needs, the GPU memory a pod expects
(bf16 weights plus KV cache), and the startup probe budget (loading weights, capturing CUDA
graphs, first Triton compilations), and the room a copied checkpoint takes (model.source s3
without a node cache). engine rapidocr needs none of it.
*/}}
{{- define "vl2ingest.preset" -}}
{{- $presets := dict
  "tiny" (dict "modelName" "deepseek-vl2-tiny" "shm" "8Gi" "gpuMemoryGiB" 16 "startupSeconds" 600 "weights" "10Gi")
  "small" (dict "modelName" "deepseek-vl2-small" "shm" "16Gi" "gpuMemoryGiB" 48 "startupSeconds" 1200 "weights" "40Gi")
  "base" (dict "modelName" "deepseek-vl2" "shm" "32Gi" "gpuMemoryGiB" 80 "startupSeconds" 1800 "weights" "64Gi")
-}}
{{- $preset := get $presets .Values.model.variant | default (get $presets "tiny") -}}
{{- if .Values.model.startupSeconds -}}
{{- $_ := set $preset "startupSeconds" (int .Values.model.startupSeconds) -}}
{{- end -}}
{{- if ne .Values.engine "lmdeploy" -}}
{{- $preset = dict "modelName" "rapidocr-ppocr" "shm" "1Gi" "gpuMemoryGiB" 0 "startupSeconds" 120 -}}
{{- end -}}
{{- toYaml $preset -}}
{{- end -}}
