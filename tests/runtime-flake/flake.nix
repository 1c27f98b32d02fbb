# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The runtimes the test suite runs stages on. There is no network in CI, so
# instead of nixpkgs this flake wraps the host's interpreters: each package
# is a store path whose bin/ links to the host's python3, node or bash.
# Real nix evaluates and builds it, and the executor runs the result exactly
# as it would run a nixpkgs runtime.
{
  description = "nixexec-glib test runtimes (host interpreters, offline)";

  outputs = { self }:
    let
      system = "x86_64-linux";
      wrap = name: bin: target: builtins.derivation {
        inherit name system;
        builder = "/bin/sh";
        args = [ "-c" "/bin/mkdir -p $out/bin && /bin/ln -s ${target} $out/bin/${bin}" ];
      };
    in {
      packages.${system} = {
        python3 = wrap "nixexec-test-python3" "python3" "/usr/bin/python3";
        nodejs = wrap "nixexec-test-nodejs" "node" "/usr/bin/node";
        bash = wrap "nixexec-test-bash" "bash" "/bin/bash";
      };
    };
}
