# SPDX-License-Identifier: LGPL-2.1-or-later
"""The imports of the Python code on stdin, found by Python's own parser.

Prints what nix_exec_pydeps_scan_imports() should give for the same code,
one module a line, so that test-pydeps can check the C scanner against the
ast module: absolute imports only, by first dotted component (two under a
namespace root), standard library and __main__ left out, in source order,
each once. Exits with status 2 when the code does not parse under this
interpreter.
"""
import ast
import sys

# As namespace_roots[] in nixexec-pydeps.c.
NAMESPACE_ROOTS = {
    "azure", "backports", "google", "jaraco", "opentelemetry", "ruamel",
    "sphinxcontrib", "zope",
}


def main():
    try:
        tree = ast.parse(sys.stdin.buffer.read())
    except SyntaxError:
        return 2

    nodes = [node for node in ast.walk(tree)
             if isinstance(node, (ast.Import, ast.ImportFrom))]
    nodes.sort(key=lambda node: (node.lineno, node.col_offset))

    found = []

    def add(dotted):
        parts = dotted.split(".")
        if parts[0] in sys.stdlib_module_names or parts[0] == "__main__":
            return
        if parts[0] in NAMESPACE_ROOTS and len(parts) > 1:
            name = ".".join(parts[:2])
        else:
            name = parts[0]
        if name not in found:
            found.append(name)

    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif node.level == 0 and node.module is not None:
            if node.module in NAMESPACE_ROOTS:
                for alias in node.names:
                    if alias.name != "*":
                        add(node.module + "." + alias.name)
            else:
                add(node.module)

    sys.stdout.buffer.write("".join(name + "\n" for name in found).encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
