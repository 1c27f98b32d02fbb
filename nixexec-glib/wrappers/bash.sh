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
#
# With the argument --nixexec-worker the wrapper is a warm worker instead:
# the stage's top-level code runs once, then each request frame on stdin
# ("<length>\n" then the input JSON, length in bytes) gets one response
# frame on stdout ("<length>\n" then {"ok": value} or a report object).
# execute runs in a subshell per call, so no state is kept between calls; a
# call whose execute fails (set -e, exit n) ends the worker with that status,
# as it ends the script in one-shot mode. End of file on stdin ends the
# worker with status 0. See docs/protocol.md.

set -euo pipefail

# Before anything of the stage's can run: the executor's sign that the
# sandbox let the stage start. It removes the line from the logs.
printf 'nixexec:started\n' >&2

__nixexec_input=''
__nixexec_worker=''
if [[ ${1:-} == --nixexec-worker ]]; then
  __nixexec_worker=1
  set --
  # The requests get a descriptor of their own; the stage sees an empty
  # stdin, as in one-shot mode.
  exec {__nixexec_request_fd}<&0 </dev/null
else
  IFS= read -r -d '' __nixexec_input || true
fi

# Reads one request frame into __nixexec_input; fails at end of file.
# Lengths are in bytes: the C locale makes read -N count bytes.
__nixexec_read_frame() {
  local LC_ALL=C len
  IFS= read -r len <&"$__nixexec_request_fd" || return 1
  [[ $len =~ ^[0-9]+$ ]] || return 1
  __nixexec_input=''
  if (( len > 0 )); then
    IFS= read -r -N "$len" __nixexec_input <&"$__nixexec_request_fd" || return 1
    (( ${#__nixexec_input} == len )) || return 1
  fi
}

# Writes $1 as one response frame on the result channel.
__nixexec_write_frame() {
  local LC_ALL=C
  printf '%d\n%s' "${#1}" "$1" >&"${__nixexec_result_fd:-1}"
}

# Ends the worker as execute's subshell ended, status $1: a status of
# 128 + N from a signal whose default is to terminate (SIGSEGV, SIGKILL, …)
# is passed on as death by that signal, so that a reused worker's crash is
# reported as a one-shot run's is. (A subshell that exits with such a status
# on purpose is reported the same way, as a sandboxed one-shot run is.)
__nixexec_exit_like() {
  local sig=$(( $1 - 128 ))
  case $sig in
    [1-9]|1[0-6]|2[4-7]|29|3[01])
      trap - "$sig"
      kill -s "$sig" "$BASHPID" 2>/dev/null || true
      ;;
  esac
  exit "$1"
}

# Worker mode: answers every request with $1, or by calling execute when $1
# is empty, until end of file on stdin; then exits with status 0.
__nixexec_serve() {
  local out status
  while __nixexec_read_frame; do
    if [[ -n $1 ]]; then
      __nixexec_write_frame "$1"
      continue
    fi
    set +e
    # The protocol's descriptors are closed for execute: nothing it starts
    # can read the next requests or write a response.
    out=$(exec {__nixexec_request_fd}<&- {__nixexec_result_fd}>&-
          set -e; execute "$__nixexec_input")
    status=$?
    set -e
    if (( status != 0 )); then
      __nixexec_exit_like "$status"
    fi
    __nixexec_write_frame "{\"ok\":$out}"
  done
  exit 0
}

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
# In worker mode, every request is answered with the report instead.
__nixexec_report() {
  local report
  printf '%s\n' "$2" >&2
  __nixexec_json_string "$2"
  printf -v report '{"kind":"%s","message":%s}' "$1" "$__nixexec_json"
  if [[ -n $__nixexec_worker ]]; then
    __nixexec_serve "$report"
  fi
  printf '%s' "$report" >&"${__nixexec_result_fd:-1}"
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
if [[ -n $__nixexec_worker ]]; then
  __nixexec_serve ''
fi
execute "$__nixexec_input" >&"$__nixexec_result_fd"
