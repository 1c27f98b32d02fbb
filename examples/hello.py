#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Runs one Python stage through nix and prints its result.
#
#   hello.py [NAME]
#
# NIXEXEC_FLAKE names the flake that provides the runtimes (default: nixpkgs).
# NIXEXEC_OFFLINE=1 keeps nix off the network and lets it build as root
# without a nix daemon. Run it with the distribution's Python, which has
# PyGObject, and with the NixExec typelib on GI_TYPELIB_PATH.

import os
import sys

import gi

gi.require_version('Json', '1.0')
gi.require_version('NixExec', '1.0')
from gi.repository import GLib, Json, NixExec  # noqa: E402

STAGE = '''def execute(input):
    return {'greeting': 'Hello, %s!' % input['name']}
'''


def config_from_environment():
    config = NixExec.Config()
    if os.environ.get('NIXEXEC_FLAKE'):
        config.props.flake_ref = os.environ['NIXEXEC_FLAKE']
    if os.environ.get('NIXEXEC_OFFLINE') == '1':
        config.props.offline = True
        config.props.nix_options = ['build-users-group=', 'sandbox=false']
        config.props.extra_ro_binds = ['/usr', '/bin', '/lib', '/lib64']
    return config


def main(argv):
    name = argv[1] if len(argv) > 1 else 'world'
    try:
        executor = NixExec.Executor.new(config_from_environment())
        executor.register_with_effects('hello', STAGE, 'python', NixExec.EffectSet.new_pure())
        builder = Json.Builder()
        builder.begin_object()
        builder.set_member_name('name')
        builder.add_string_value(name)
        builder.end_object()
        # The first run resolves the Python runtime with nix.
        result = executor.execute('hello', builder.get_root(), None)
    except GLib.Error as error:
        print(error.message, file=sys.stderr)
        return 1
    print(Json.to_string(result, False))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
