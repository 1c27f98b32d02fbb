# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The Python stage wrapper of nixexec-glib.
#
# The library puts the stage's code, base64-encoded, in place of the marker in
# _STAGE_CODE below and runs this file as `python3 FILE` with the input JSON on
# stdin. Supported: Python 3.8 and later, standard library only.
#
# Protocol:
# - success: one JSON value on the original stdout, exit status 0;
# - a failure the wrapper understands: one report object
#   {"kind", "message", "type"?, "traceback"?} on the original stdout and
#   exit status 97, kind being "exception", "no-execute", "syntax" or
#   "bad-result";
# - sys.exit(n) in the stage: a plain exit with status n, no report.
# With the argument --nixexec-worker the wrapper is a warm worker instead:
# see _worker() and docs/protocol.md.
# Everything the stage prints, including writes to fd 1 by C code and by
# subprocesses, goes to stderr: the original stdout carries the result only.

import os
import sys

# Before anything of the stage's can run: the executor's sign that the
# sandbox let the stage start. It removes the line from the logs.
os.write(2, b"nixexec:started\n")

_STAGE_CODE = "@NIXEXEC_STAGE_CODE_BASE64@"
_STAGE_FILENAME = "<stage>"
_STAGE_MODULE = "__nixexec_stage__"
_REPORT_STATUS = 97


class _Report(Exception):
    def __init__(self, kind, message, type_name=None, traceback_text=None):
        Exception.__init__(self, message)
        self.kind = kind
        self.message = message
        self.type_name = type_name
        self.traceback_text = traceback_text

    def to_bytes(self):
        import json

        report = {"kind": self.kind, "message": self.message}
        if self.type_name is not None:
            report["type"] = self.type_name
        if self.traceback_text is not None:
            report["traceback"] = self.traceback_text
        # ASCII escapes keep a message holding lone surrogates writable.
        return json.dumps(report, ensure_ascii=True).encode("ascii")


def _take_stdout():
    # os.dup() gives a non-inheritable descriptor (PEP 446), so nothing the
    # stage spawns can write to the result channel.
    result_fd = os.dup(1)
    try:
        os.dup2(2, 1)
    except OSError:
        null_fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null_fd, 1)
        os.close(null_fd)
    sys.stdout = sys.stderr
    return result_fd


def _flush_stdio():
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_input():
    import json

    stream = sys.stdin.buffer if sys.stdin is not None else None
    raw = stream.read() if stream is not None else b""
    if not raw.strip():
        return None
    try:
        # Decoded once: a JSON string stays a str even when its text is JSON.
        return json.loads(raw)
    except ValueError as e:
        raise _Report("exception", "The input is not valid JSON: %s" % e,
                      type(e).__name__)


def _compile(source):
    # `from __future__` imports are allowed anywhere at top level: they are
    # taken out of the tree and turned into compiler flags, which has the
    # effect of hoisting them while keeping every line number intact.
    import __future__
    import ast

    tree = ast.parse(source, _STAGE_FILENAME, "exec")
    flags = 0
    names = {}
    body = []
    for node in tree.body:
        if (isinstance(node, ast.ImportFrom) and node.module == "__future__"
                and not node.level):
            for alias in node.names:
                feature = getattr(__future__, alias.name, None)
                if not hasattr(feature, "compiler_flag"):
                    lines = source.splitlines()
                    text = lines[node.lineno - 1] if node.lineno <= len(lines) else None
                    raise SyntaxError("future feature %s is not defined" % alias.name,
                                      (_STAGE_FILENAME, node.lineno,
                                       node.col_offset + 1, text))
                flags |= feature.compiler_flag
                names[alias.asname or alias.name] = feature
        else:
            body.append(node)
    tree.body = body
    return compile(tree, _STAGE_FILENAME, "exec", flags, dont_inherit=True), names


def _stage_traceback(exc):
    # Start the traceback at the first frame of the stage: what comes before
    # it is this wrapper and asyncio.
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != _STAGE_FILENAME:
        tb = tb.tb_next
    return tb if tb is not None else exc.__traceback__


def _exception_report(exc):
    import traceback

    text = "".join(traceback.format_exception(type(exc), exc, _stage_traceback(exc)))
    sys.stderr.write(text)
    try:
        message = str(exc)
    except Exception:
        message = "<unprintable %s object>" % type(exc).__name__
    return _Report("exception", message, type(exc).__name__, text)


def _is_awaitable(value):
    if hasattr(type(value), "__await__"):
        return True
    import types

    if isinstance(value, types.GeneratorType):
        import inspect

        return inspect.isawaitable(value)
    return False


def _await(awaitable):
    import asyncio

    async def wait():
        return await awaitable

    return asyncio.run(wait())


def _load():
    # Compiles and runs the stage's top-level code; returns its execute.
    import base64
    import linecache
    import types

    try:
        source = base64.b64decode(_STAGE_CODE).decode("utf-8-sig")
    except ValueError as e:
        raise _Report("syntax", "The stage code is not valid UTF-8: %s" % e,
                      type(e).__name__)

    # Tracebacks show the stage's lines although there is no file to read.
    linecache.cache[_STAGE_FILENAME] = (len(source), None,
                                        source.splitlines(True), _STAGE_FILENAME)

    try:
        code, future_names = _compile(source)
    except Exception as e:
        import traceback

        text = "".join(traceback.format_exception_only(type(e), e))
        sys.stderr.write(text)
        raise _Report("syntax", str(e), type(e).__name__, text)

    # A module of its own, so that `if __name__ == "__main__":` blocks stay
    # quiet and the stage's names cannot clash with the wrapper's.
    module = types.ModuleType(_STAGE_MODULE)
    module.__file__ = os.path.abspath(__file__)
    module.__dict__.update(future_names)
    sys.modules[_STAGE_MODULE] = module

    try:
        exec(code, module.__dict__)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as e:
        raise _exception_report(e)

    execute = module.__dict__.get("execute")
    if execute is None:
        raise _Report("no-execute",
                      "The stage defines no top-level function `execute`: "
                      "define `def execute(input):` returning the result")
    if not callable(execute):
        raise _Report("no-execute",
                      "The stage's top-level `execute` is a %s, not a function"
                      % type(execute).__name__)
    return execute


def _call(execute, input_value):
    # Runs execute once; returns the result as JSON bytes.
    import json

    try:
        result = execute(input_value)
        if _is_awaitable(result):
            result = _await(result)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as e:
        raise _exception_report(e)

    try:
        text = json.dumps(result, ensure_ascii=False, allow_nan=False)
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            # Lone surrogates: escaped, they are still valid JSON.
            return json.dumps(result, ensure_ascii=True, allow_nan=False).encode("ascii")
    except Exception as e:
        raise _Report("bad-result",
                      "The result of execute cannot be written as JSON: %s" % e,
                      type(e).__name__)


def _run():
    input_value = _read_input()
    return _call(_load(), input_value)


def _parse_input(raw):
    import json

    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as e:
        raise _Report("exception", "The input is not valid JSON: %s" % e,
                      type(e).__name__)


def _read_exactly(stream, count):
    chunks = []
    while count > 0:
        chunk = stream.read(count)
        if not chunk:
            return None
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def _worker():
    # Warm worker mode: the stage is loaded once, then each request frame
    # ("<length>\n<input JSON>") on stdin gets one response frame
    # ("<length>\n" then {"ok": value} or a report) on the result channel.
    # End of file on stdin ends the worker with status 0.
    result_fd = _take_stdout()
    # The requests get a descriptor of their own; the stage sees an empty
    # stdin, as in one-shot mode, and cannot eat frames.
    request_fd = os.dup(0)
    null_fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null_fd, 0)
    os.close(null_fd)
    requests = os.fdopen(request_fd, "rb")

    try:
        execute = _load()
        load_report = None
    except _Report as report:
        execute = None
        load_report = report

    while True:
        header = requests.readline(32)
        if not header:
            break
        try:
            length = int(header)
        except ValueError:
            break
        raw = _read_exactly(requests, length)
        if raw is None:
            break
        try:
            if load_report is not None:
                raise load_report
            payload = b'{"ok":' + _call(execute, _parse_input(raw)) + b"}"
        except _Report as report:
            if report.traceback_text is None:
                sys.stderr.write("%s\n" % report.message)
            payload = report.to_bytes()
        _flush_stdio()
        _write_all(result_fd, b"%d\n" % len(payload) + payload)

    _flush_stdio()
    os._exit(0)


def _main():
    result_fd = _take_stdout()
    try:
        payload = _run()
        status = 0
    except _Report as report:
        if report.traceback_text is None:
            sys.stderr.write("%s\n" % report.message)
        payload = report.to_bytes()
        status = _REPORT_STATUS

    _flush_stdio()
    try:
        _write_all(result_fd, payload)
    except OSError:
        pass  # nobody is reading the result any more
    os.close(result_fd)

    # Exit without waiting for threads the stage left running: the result is
    # out, and a forgotten non-daemon thread must not hold the caller until
    # its timeout. atexit handlers still run.
    try:
        import atexit

        atexit._run_exitfuncs()
    except Exception:
        pass
    _flush_stdio()
    os._exit(status)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--nixexec-worker"]:
        _worker()
    else:
        _main()
