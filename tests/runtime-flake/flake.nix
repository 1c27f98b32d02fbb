# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The runtimes the test suite runs stages on. There is no network in CI, so
# instead of nixpkgs this flake wraps the host's interpreters: each package
# is a store path whose bin/ links to the host's python3, node or bash.
# Real nix evaluates and builds it, and the executor runs the result exactly
# as it would run a nixpkgs runtime.
#
# python3 also has the two parts of nixpkgs' interface that Python
# dependencies use: python3.pkgs, a set of (two tiny fake) packages, and
# python3.withPackages (ps: [ ps.a ps.b ]), an interpreter that can import
# them. The fake packages' attribute names are their import names, as for
# most of nixpkgs' python3Packages. nixexec_fake_beta has two more names:
# nixexec-fake-beta, hyphenated like most of nixpkgs' attributes, and
# "nixexec.fake.beta", which is no Nix identifier and has to be quoted, so
# that both forms of `ps.<attr>` are tried on real nix.
#
# Builders have no PATH: every command is named by its absolute path, and the
# files' contents come in through the environment.
{
  description = "nixexec-glib test runtimes (host interpreters, offline)";

  outputs = { self }:
    let
      system = "x86_64-linux";

      # meta.mainProgram, as in nixpkgs, lets `nix run .#python3` find
      # bin/python3 (the benchmark runs the reference strategy that way); it
      # is not part of the derivation, so store paths do not change.
      wrap = name: bin: target: builtins.derivation {
        inherit name system;
        builder = "/bin/sh";
        args = [ "-c" "/bin/mkdir -p $out/bin && /bin/ln -s ${target} $out/bin/${bin}" ];
      } // { meta.mainProgram = bin; };

      sitePackages = "lib/python3/site-packages";

      fakePythonPackage = module: value: builtins.derivation {
        name = "nixexec-test-python3-${module}";
        inherit system module;
        builder = "/bin/sh";
        init = ''
          VALUE = "${value}"
        '';
        args = [ "-c" ''
          /bin/mkdir -p "$out/${sitePackages}/$module" &&
          printf '%s' "$init" > "$out/${sitePackages}/$module/__init__.py"
        '' ];
      };

      pythonPackages = rec {
        nixexec_fake_alpha = fakePythonPackage "nixexec_fake_alpha" "alpha";
        nixexec_fake_beta = fakePythonPackage "nixexec_fake_beta" "beta";
        nixexec-fake-beta = nixexec_fake_beta;
        "nixexec.fake.beta" = nixexec_fake_beta;
      };

      # The host's python3 with the packages' site directories in front of
      # whatever PYTHONPATH the caller had.
      pythonWithPackages = f:
        let
          packages = f pythonPackages;
          path = builtins.concatStringsSep ":"
            (map (p: "${p}/${sitePackages}") packages);
        in builtins.derivation {
          name = "nixexec-test-python3-env";
          inherit system;
          builder = "/bin/sh";
          wrapper = ''
            #!/bin/sh
          '' + (if packages == [ ] then "" else ''
            export PYTHONPATH="${path}''${PYTHONPATH:+:$PYTHONPATH}"
          '') + ''
            exec /usr/bin/python3 "$@"
          '';
          args = [ "-c" ''
            /bin/mkdir -p "$out/bin" &&
            printf '%s' "$wrapper" > "$out/bin/python3" &&
            /bin/chmod 0555 "$out/bin/python3"
          '' ];
        };
    in {
      packages.${system} = {
        python3 = wrap "nixexec-test-python3" "python3" "/usr/bin/python3" // {
          pkgs = pythonPackages;
          withPackages = pythonWithPackages;
        };
        nodejs = wrap "nixexec-test-nodejs" "node" "/usr/bin/node";
        bash = wrap "nixexec-test-bash" "bash" "/bin/bash";
      };
    };
}
