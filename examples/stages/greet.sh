# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A stage: Bash that defines a function execute, which gets the input JSON
# text as $1 and prints one JSON value. Run it with
#
#   nixexec run examples/stages/greet.sh --input '{"name": "world"}'
#
# Bash has no JSON parser: this finds the "name" string in the JSON text
# and copies it into the result as it is, escapes included, which keeps it
# valid JSON.

execute() {
  local pattern='"name"[[:space:]]*:[[:space:]]*"((\\.|[^"\\])*)"'

  if [[ ! $1 =~ $pattern ]]; then
    echo 'greet.sh: the input has no "name" string' >&2
    return 1
  fi
  printf '{"greeting": "Hello, %s!"}\n' "${BASH_REMATCH[1]}"
}
