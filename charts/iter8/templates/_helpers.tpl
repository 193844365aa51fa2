{{/*
iter8.toNumbers converts, in the dict .m, the values at .keys that are
numeric strings into numbers. Helm's --set leaves decimals such as 97.5 as
strings; tasks need numbers. Non-numeric strings, and decimals a float64
cannot hold, are left for the task to reject with a message naming the
field.
*/}}
{{- define "iter8.toNumbers" -}}
{{- $m := .m -}}
{{- range .keys -}}
{{- $v := get $m . -}}
{{- if kindIs "string" $v -}}
{{- if regexMatch "^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$" (trim $v) -}}
{{- $f := float64 (trim $v) -}}
{{- /* float64 gives 0 for what it cannot convert (1e400): keep such a string for the task to reject by name. */ -}}
{{- if or (ne $f 0.0) (regexMatch "^[-+]?(0+[.]?0*|[.]0+)([eE][-+]?[0-9]+)?$" (trim $v)) -}}
{{- $_ := set $m . $f -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* iter8.toNumberList converts numeric strings in the list at .m[.key]. */}}
{{- define "iter8.toNumberList" -}}
{{- $m := .m -}}
{{- $v := get $m .key -}}
{{- if kindIs "slice" $v -}}
{{- $out := list -}}
{{- range $v -}}
{{- $x := dict "v" . -}}
{{- include "iter8.toNumbers" (dict "m" $x "keys" (list "v")) -}}
{{- $out = append $out $x.v -}}
{{- end -}}
{{- $_ := set $m .key $out -}}
{{- end -}}
{{- end -}}

{{/* iter8.toStrings converts the values at .keys of .m to strings. */}}
{{- define "iter8.toStrings" -}}
{{- $m := .m -}}
{{- range .keys -}}
{{- if hasKey $m . -}}
{{- $v := get $m . -}}
{{- if and (not (kindIs "map" $v)) (not (kindIs "slice" $v)) (not (kindIs "invalid" $v)) -}}
{{- $_ := set $m . (toString $v) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* iter8.stringMap converts every value of the map at .m[.key] to a string. */}}
{{- define "iter8.stringMap" -}}
{{- $v := get .m .key -}}
{{- if kindIs "map" $v -}}
{{- range $k, $x := $v -}}
{{- if not (kindIs "map" $x) -}}
{{- $_ := set $v $k (toString $x) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* iter8.if renders a task's if: condition when the task's values set one. */}}
{{- define "iter8.if" -}}
{{- if not (kindIs "invalid" .) }}
  if: {{ toJson (toString .) }}
{{- end -}}
{{- end -}}
