#!/usr/bin/env -S gjs -m
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Runs one JavaScript stage through nix, asynchronously, and prints its
// result.
//
//   gjs -m hello.js [NAME]
//
// NIXEXEC_FLAKE names the flake that provides the runtimes (default:
// nixpkgs). NIXEXEC_OFFLINE=1 keeps nix off the network and lets it build as
// root without a nix daemon. The NixExec typelib must be on GI_TYPELIB_PATH.

import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import Json from 'gi://Json?version=1.0';
import NixExec from 'gi://NixExec?version=1.0';
import System from 'system';

Gio._promisify(NixExec.Executor.prototype, 'execute_async', 'execute_finish');

const STAGE = `function execute(input) {
  return { greeting: \`Hello, \${input.name}!\` };
}
`;

function configFromEnvironment() {
    const config = new NixExec.Config();
    const flake = GLib.getenv('NIXEXEC_FLAKE');
    if (flake)
        config.flake_ref = flake;
    if (GLib.getenv('NIXEXEC_OFFLINE') === '1') {
        config.offline = true;
        config.nix_options = ['build-users-group=', 'sandbox=false'];
        config.extra_ro_binds = ['/usr', '/bin', '/lib', '/lib64'];
    }
    return config;
}

async function main(name) {
    const executor = NixExec.Executor.new(configFromEnvironment());
    executor.register_with_effects('hello', STAGE, 'javascript', NixExec.EffectSet.new_pure());
    const input = Json.from_string(JSON.stringify({name}));
    // The first run resolves the Node.js runtime with nix.
    const result = await executor.execute_async('hello', input, null);
    print(Json.to_string(result, false));
}

const loop = new GLib.MainLoop(null, false);
let status = 0;
main(ARGV[0] ?? 'world').catch(error => {
    printerr(error instanceof GLib.Error ? error.message : error);
    status = 1;
}).finally(() => loop.quit());
loop.run();
System.exit(status);
