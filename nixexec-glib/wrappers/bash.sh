# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The Bash stage wrapper of nixexec-glib.
#
# The library pastes the stage's code, as it is, in place of the marker line
# near the end of this file and runs it as `bash FILE` with the input JSON on
# stdin. Only builtins are used here: bash is the whole runtime. The wrapper's
# own names start with __nixexec_.
#
# Protocol:
# - the stage defines execute(); it is called with the input JSON text as $1
#   and what it prints on stdout is the result;
# - a failing command (set -e) or `exit n` ends the script with that status;
# - a syntax error or a missing execute: one report object
#   {"kind": "syntax" | "no-execute", "message"} on stdout, exit status 97.
# What the stage's top-level code prints goes to stderr.

set -euo pipefail

__nixexec_input=''
IFS= read -r -d '' __nixexec_input || true

# Sets __nixexec_json to $1 as a JSON string literal.
__nixexec_json_string() {
  local s=$1 bs='\' q='"'
  s=${s//"$bs"/"$bs$bs"}
  s=${s//"$q"/"$bs$q"}
  s=${s//$'\n'/"${bs}n"}
  s=${s//$'\r'/"${bs}r"}
  s=${s//$'\t'/"${bs}t"}
  s=${s//[$'\x01'-$'\x1f']/"?"}
  __nixexec_json="\"$s\""
}

# $1: kind, $2: message. Writes the report to the result channel and exits.
__nixexec_report() {
  printf '%s\n' "$2" >&2
  __nixexec_json_string "$2"
  printf '{"kind":"%s","message":%s}' "$1" "$__nixexec_json" >&"${__nixexec_result_fd:-1}"
  exit 97
}

# $1: the line of this file where the stage's code starts. Bash runs a script
# as it parses it, so a syntax error would only show after the lines before
# it had run: parse the whole file first. extglob is on for the check because
# the stage may turn it on before using such patterns.
__nixexec_check_syntax() {
  local out status=0 line rest number message=''
  [[ -n ${BASH:-} && -f $0 ]] || return 0
  out=$("$BASH" -O extglob -n "$0" 2>&1) || status=$?
  # A here-document left open would swallow the rest of this wrapper.
  if (( status == 0 )) && [[ $out != *'delimited by end-of-file'* ]]; then
    return 0
  fi
  while [[ -n $out ]]; do
    line=${out%%$'\n'*}
    if [[ $out == *$'\n'* ]]; then out=${out#*$'\n'}; else out=''; fi
    if [[ $line == "$0: line "* ]]; then
      rest=${line#"$0: line "}
      number=${rest%%:*}
      if [[ $number =~ ^[0-9]+$ ]] && (( number >= $1 )); then
        line="<stage>: line $(( number - $1 + 1 )):${rest#*:}"
      fi
    fi
    if [[ $line =~ ^(.*here-document at line )([0-9]+)(.*)$ ]] &&
       (( BASH_REMATCH[2] >= $1 )); then
      line=${BASH_REMATCH[1]}$(( BASH_REMATCH[2] - $1 + 1 ))${BASH_REMATCH[3]}
    fi
    message+=${message:+$'\n'}$line
  done
  __nixexec_report syntax "${message:-bash could not parse the stage}"
}

__nixexec_check_syntax $(( LINENO + 4 ))
# From here on stdout is stderr; the saved descriptor keeps the real stdout
# for the result of execute.
exec {__nixexec_result_fd}>&1 1>&2
@NIXEXEC_STAGE_CODE@

if ! builtin declare -F execute >/dev/null; then
  __nixexec_report no-execute "The stage defines no function \`execute': define \`execute() { ...; }' printing the result on stdout"
fi
execute "$__nixexec_input" >&"$__nixexec_result_fd"
