# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A stage: Python code that defines execute(input). Run it with
#
#   nixexec run examples/stages/greet.py --input '{"name": "world"}'


def execute(input):
    return {"greeting": "Hello, %s!" % input["name"]}
