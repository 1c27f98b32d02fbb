// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The JavaScript stage wrapper of nixexec-glib.
//
// The library puts the stage's code, base64-encoded, in place of the marker
// in STAGE_CODE below and runs this file as `node FILE` (a CommonJS script)
// with the input JSON on stdin. Supported: Node 18 and later.
//
// Protocol:
// - success: one JSON value on stdout, exit status 0;
// - a failure the wrapper understands: one report object
//   {"kind", "message", "type"?, "traceback"?} on stdout and exit status 97,
//   kind being "exception", "no-execute", "syntax" or "bad-result";
// - process.exit(n) in the stage: a plain exit with status n, no report.
// console.* and process.stdout.write() from the stage go to stderr. Node has
// no dup2(), so a subprocess the stage starts with stdio "inherit" still
// writes to the real stdout.
//
// With the argument --nixexec-worker the wrapper is a warm worker instead:
// the stage is loaded once, then each request frame on stdin ("<length>\n"
// then the input JSON, length in bytes) gets one response frame on stdout
// ("<length>\n" then {"ok": value} or a report object). End of file on
// stdin ends the worker. See docs/protocol.md.

'use strict';

(function nixexecWrapper() {
  const fs = require('fs');
  // Before anything of the stage's can run: the executor's sign that the
  // sandbox let the stage start. It removes the line from the logs.
  fs.writeSync(2, 'nixexec:started\n');
  const util = require('util');
  const vm = require('vm');

  const STAGE_CODE = Buffer.from('@NIXEXEC_STAGE_CODE_BASE64@', 'base64').toString('utf8');
  const STAGE_FILENAME = '<stage>';
  const REPORT_STATUS = 97;

  // Take the real stdout for the result before the stage can touch it; what
  // the stage writes there goes to stderr instead. Node writes to pipes and
  // files synchronously on Linux, so the two streams keep their order.
  const stdout = process.stdout;
  const writeStdout = stdout.write.bind(stdout);
  let writingResult = false;
  const writeResult = (...args) => {
    writingResult = true;
    try {
      return writeStdout(...args);
    } finally {
      writingResult = false;
    }
  };
  stdout.write = function write(chunk, encoding, callback) {
    return process.stderr.write(chunk, encoding, callback);
  };
  // Loggers that bypass process.stdout write to descriptor 1 directly: send
  // those to stderr too (a stdout that is a file writes through here).
  for (const name of ['writeSync', 'write']) {
    const original = fs[name];
    fs[name] = function redirected(fd, ...rest) {
      return original.call(this, fd === 1 && !writingResult ? 2 : fd, ...rest);
    };
  }

  const workerMode = process.argv[2] === '--nixexec-worker';
  // In worker mode: no call is in flight between calls, and each call has a
  // generation so that a promise of an earlier call cannot answer a later one.
  let finished = workerMode;
  let generation = 0;

  function finish(payload, status) {
    if (finished)
      return;
    finished = true;
    if (workerMode) {
      const body = status === 0 ? `{"ok":${payload}}` : payload;
      writeResult(`${Buffer.byteLength(body, 'utf8')}\n${body}`);
      process.nextTick(nextRequest);
      return;
    }
    process.exitCode = status;
    // Exit explicitly once the result is out: timers or sockets the stage
    // left behind must not keep the process alive.
    const exit = () => process.exit(status);
    stdout.once('error', exit);
    writeResult(payload, exit);
  }

  function report(kind, message, type, traceback) {
    const object = { kind, message: String(message) };
    if (type !== undefined)
      object.type = type;
    if (traceback !== undefined)
      object.traceback = traceback;
    if (traceback === undefined)
      process.stderr.write(`${object.message}\n`);
    finish(JSON.stringify(object), REPORT_STATUS);
  }

  function isErrorLike(value) {
    if (util.types.isNativeError(value) || value instanceof Error)
      return true;
    return value !== null && typeof value === 'object' &&
      typeof value.name === 'string' && typeof value.message === 'string';
  }

  function errorType(err) {
    const name = String(err.name);
    // A subclass that does not set .name still says what it is.
    const ctor = err.constructor && err.constructor.name;
    if (name === 'Error' && typeof ctor === 'string' && ctor !== '' && ctor !== 'Error')
      return ctor;
    return name;
  }

  // Drop the frames of this wrapper and of Node's module loader.
  function stageStack(stack) {
    return String(stack).split('\n').filter(line => {
      if (!/^\s+at /.test(line))
        return true;
      return !line.includes(__filename) && !line.includes('node:internal/');
    }).join('\n');
  }

  function describe(value) {
    try {
      if (isErrorLike(value)) {
        const stack = typeof value.stack === 'string' ?
          stageStack(value.stack) : `${value.name}: ${value.message}`;
        return { type: errorType(value), message: String(value.message), traceback: stack };
      }
      return { type: undefined, message: typeof value === 'string' ? value : util.inspect(value), traceback: undefined };
    } catch (e) {
      return { type: undefined, message: '<unprintable thrown value>', traceback: undefined };
    }
  }

  function reportException(value) {
    const { type, message, traceback } = describe(value);
    if (traceback !== undefined)
      process.stderr.write(`${traceback}\n`);
    report('exception', message, type, traceback);
  }

  function logLate(what, value) {
    const { message, traceback } = describe(value);
    process.stderr.write(`${what} after the result: ${traceback !== undefined ? traceback : message}\n`);
  }

  process.on('uncaughtException', err => {
    if (finished)
      logLate('Uncaught exception', err);
    else
      reportException(err);
  });
  process.on('unhandledRejection', reason => {
    if (finished)
      logLate('Unhandled rejection', reason);
    else
      reportException(reason);
  });
  process.on('beforeExit', () => {
    if (!finished && !workerMode)
      report('bad-result', 'The promise returned by execute never settled');
  });

  function readInput() {
    const chunks = [];
    const buffer = Buffer.allocUnsafe(65536);
    for (;;) {
      let n;
      try {
        n = fs.readSync(0, buffer, 0, buffer.length, null);
      } catch (e) {
        if (e.code === 'EAGAIN') {
          // A non-blocking stdin: wait a little, synchronously.
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
          continue;
        }
        if (e.code === 'EOF' || e.code === 'EBADF')
          break;
        throw e;
      }
      if (n === 0)
        break;
      chunks.push(Buffer.from(buffer.subarray(0, n)));
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  function writeValue(value) {
    if (finished)
      return;
    let text;
    try {
      text = value === undefined ? 'null' : JSON.stringify(value);
    } catch (err) {
      const { type, message } = describe(err);
      report('bad-result', `The result of execute cannot be written as JSON: ${message}`, type);
      return;
    }
    if (text === undefined) {
      report('bad-result', `The result of execute is a ${typeof value}, which has no JSON form`);
      return;
    }
    finish(text, 0);
  }

  // Compiles the stage and runs its top-level code. Returns its execute, or
  // a function that reports why there is none.
  function load() {
    // The stage is compiled as a function of its own: its names cannot clash
    // with the wrapper's and a syntax error is an exception caught here. The
    // trailing line hands back whatever `execute` the stage declared.
    let stage;
    try {
      const options = { filename: STAGE_FILENAME };
      if (vm.constants && vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER)
        options.importModuleDynamically = vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER;
      stage = vm.compileFunction(
        `${STAGE_CODE}\n;return typeof execute === 'undefined' ? undefined : execute;\n`,
        ['require', 'module', 'exports', '__filename', '__dirname'],
        options);
    } catch (err) {
      const { type, message, traceback } = describe(err);
      return { failure: () => {
        if (traceback !== undefined)
          process.stderr.write(`${traceback}\n`);
        report('syntax', message, type, traceback);
      } };
    }

    let execute;
    try {
      execute = stage.call(module.exports, require, module, module.exports, __filename, __dirname);
      if (execute === undefined && module.exports !== null &&
          (typeof module.exports === 'object' || typeof module.exports === 'function'))
        execute = module.exports.execute;
    } catch (err) {
      return { failure: () => reportException(err) };
    }

    if (execute === undefined) {
      return { failure: () => report('no-execute',
        'The stage defines no top-level function `execute`: define `function execute(input)` returning the result') };
    }
    if (typeof execute !== 'function') {
      const what = typeof execute;
      return { failure: () => report('no-execute', `The stage's top-level \`execute\` is a ${what}, not a function`) };
    }
    return { execute };
  }

  function parseInput(text) {
    // Parsed once: a JSON string stays a string even when its text is JSON.
    return text.trim() === '' ? null : JSON.parse(text);
  }

  function call(loaded, input) {
    if (loaded.failure !== undefined) {
      loaded.failure();
      return;
    }

    // Called as a plain function, as in one-shot mode: `this` is undefined
    // and stack traces say `at execute`.
    const execute = loaded.execute;
    let result;
    let thenable = false;
    try {
      result = execute(input);
      thenable = result !== null &&
        (typeof result === 'object' || typeof result === 'function') &&
        typeof result.then === 'function';
    } catch (err) {
      reportException(err);
      return;
    }

    if (thenable) {
      const current = generation;
      Promise.resolve(result).then(value => {
        if (current === generation)
          writeValue(value);
      }, err => {
        if (current === generation)
          reportException(err);
      });
    } else {
      writeValue(result);
    }
  }

  function main() {
    let input;
    try {
      input = parseInput(readInput());
    } catch (err) {
      report('exception', `The input is not valid JSON: ${err.message}`, err.name);
      return;
    }
    call(load(), input);
  }

  // Worker mode.
  const requests = [];
  let stdinEnded = false;
  let loaded;

  function nextRequest() {
    if (!finished)
      return;
    if (requests.length === 0) {
      if (stdinEnded)
        process.exit(0);
      return;
    }
    const text = requests.shift();
    finished = false;
    generation++;
    let input;
    try {
      input = parseInput(text);
    } catch (err) {
      report('exception', `The input is not valid JSON: ${err.message}`, err.name);
      return;
    }
    call(loaded, input);
  }

  function worker() {
    // Nobody reads the results any more: the caller is gone.
    stdout.on('error', () => process.exit(0));
    loaded = load();

    let buffer = Buffer.alloc(0);
    process.stdin.on('data', chunk => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      for (;;) {
        const newline = buffer.indexOf(10);
        if (newline < 0)
          break;
        const length = Number(buffer.subarray(0, newline).toString('latin1'));
        if (!Number.isSafeInteger(length) || length < 0)
          process.exit(0);  // out of step with the caller: give up
        if (buffer.length < newline + 1 + length)
          break;
        requests.push(buffer.subarray(newline + 1, newline + 1 + length).toString('utf8'));
        buffer = buffer.subarray(newline + 1 + length);
      }
      nextRequest();
    });
    process.stdin.on('end', () => {
      stdinEnded = true;
      nextRequest();
    });
  }

  if (workerMode)
    worker();
  else
    main();
})();
