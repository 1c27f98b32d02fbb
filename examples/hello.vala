/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Runs one JavaScript stage through nix, asynchronously, and prints its
 * result.
 *
 *   nixexec-example-vala [NAME]
 *
 * NIXEXEC_FLAKE names the flake that provides the runtimes (default:
 * nixpkgs). NIXEXEC_OFFLINE=1 keeps nix off the network and lets it build
 * as root without a nix daemon.
 */

const string STAGE = """function execute(input) {
  return { greeting: `Hello, ${input.name}!` };
}
""";

NixExec.Config config_from_environment () {
    var config = new NixExec.Config ();
    var flake = Environment.get_variable ("NIXEXEC_FLAKE");
    if (flake != null && flake != "")
        config.flake_ref = flake;
    if (Environment.get_variable ("NIXEXEC_OFFLINE") == "1") {
        config.offline = true;
        config.nix_options = { "build-users-group=", "sandbox=false" };
        config.extra_ro_binds = { "/usr", "/bin", "/lib", "/lib64" };
    }
    return config;
}

async void hello (string name) throws Error {
    var executor = new NixExec.Executor (config_from_environment ());
    executor.register_with_effects ("hello", STAGE, "javascript", new NixExec.EffectSet.pure ());

    var builder = new Json.Builder ();
    builder.begin_object ();
    builder.set_member_name ("name");
    builder.add_string_value (name);
    builder.end_object ();

    /* The first run resolves the Node.js runtime with nix. */
    var result = yield executor.execute_async ("hello", builder.get_root (), null);
    print ("%s\n", Json.to_string (result, false));
}

int main (string[] args) {
    var loop = new MainLoop ();
    var status = 0;
    hello.begin (args.length > 1 ? args[1] : "world", (object, result) => {
        try {
            hello.end (result);
        } catch (Error error) {
            printerr ("%s\n", error.message);
            status = 1;
        }
        loop.quit ();
    });
    loop.run ();
    return status;
}
