#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The whole NixExec API from PyGObject, through the built typelib, on real nix
# and the bundled offline runtime flake (NIXEXEC_TEST_FLAKE). Prints TAP.

import gc
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Gio', '2.0')
gi.require_version('Json', '1.0')
gi.require_version('NixExec', '1.0')
from gi.repository import Gio, GLib, Json, NixExec  # noqa: E402

# ---------------------------------------------------------------------------
# A tiny TAP harness

CASES = []


def case(name):
    def register(fn):
        CASES.append((name, fn))
        return fn
    return register


class AssertionFailed(Exception):
    pass


def check(condition, message='assertion failed'):
    if not condition:
        raise AssertionFailed(message)


def check_equal(actual, expected, what='value'):
    if actual != expected:
        raise AssertionFailed(f'{what}: expected {expected!r}, got {actual!r}')


def describe_error(error):
    if isinstance(error, GLib.Error):
        return f'GLib.Error {error.domain} {error.code}: {error.message}'
    return f'{type(error).__name__}: {error}'


def check_gerror(error, domain, code, what):
    if not isinstance(error, GLib.Error) or not error.matches(domain, code):
        raise AssertionFailed(
            f'{what}: expected error code {int(code)}, got {describe_error(error)}')


class raises_gerror:
    """A context manager: the block must raise GLib.Error domain/code."""

    def __init__(self, domain, code, what='call'):
        self.domain = domain
        self.code = code
        self.what = what
        self.error = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None:
            raise AssertionFailed(f'{self.what}: expected an error, but it succeeded')
        if isinstance(exc, AssertionFailed):
            return False
        check_gerror(exc, self.domain, self.code, self.what)
        self.error = exc
        return True


def run_cases():
    print(f'1..{len(CASES)}', flush=True)
    failed = 0
    for number, (name, fn) in enumerate(CASES, start=1):
        try:
            fn()
            print(f'ok {number} - {name}', flush=True)
        except Exception as error:  # noqa: BLE001 -- any failure fails the case
            failed += 1
            print(f'not ok {number} - {name}')
            text = describe_error(error) + '\n' + traceback.format_exc()
            for line in text.rstrip().splitlines():
                print(f'# {line}')
            sys.stdout.flush()
    return failed


# ---------------------------------------------------------------------------
# Async helpers: each runs the main loop until the callbacks have fired.

def wait_async(count, start):
    """Calls start(callback) which starts @count operations; each callback
    receives (source, result) and returns a value or raises. Returns the list
    of outcomes in completion order: (value, None) or (None, GLib.Error)."""
    loop = GLib.MainLoop()
    outcomes = []

    def make_callback(finish):
        def callback(source, result, *user_data):
            try:
                outcomes.append((finish(source, result), None))
            except GLib.Error as error:
                outcomes.append((None, error))
            if len(outcomes) == count:
                loop.quit()
        return callback

    # A watchdog, so that a lost callback fails the case instead of hanging.
    timed_out = []

    def on_watchdog():
        timed_out.append(True)
        loop.quit()
        return GLib.SOURCE_REMOVE

    start(make_callback)
    watchdog = GLib.timeout_add_seconds(120, on_watchdog)
    loop.run()
    if not timed_out:
        GLib.source_remove(watchdog)
    check_equal(len(outcomes), count, 'completed async operations')
    return outcomes


def execute_async(executor, stage_id, node, cancellable=None):
    """Runs one stage asynchronously; returns the result or raises."""
    def start(make_callback):
        executor.execute_async(stage_id, node, cancellable,
                               make_callback(lambda src, res: src.execute_finish(res)))
    [(value, error)] = wait_async(1, start)
    if error is not None:
        raise error
    return value


def warmup(executor):
    def start(make_callback):
        executor.warmup_async(None, make_callback(lambda src, res: src.warmup_finish(res)))
    [(value, error)] = wait_async(1, start)
    if error is not None:
        raise error
    return value


# ---------------------------------------------------------------------------
# Fixtures

FLAKE = os.environ.get('NIXEXEC_TEST_FLAKE')
NIX_OPTIONS = ['build-users-group=', 'sandbox=false']
CACHE_DIR = tempfile.mkdtemp(prefix='nixexec-python-')

PY_SUM = '''def execute(input):
    return {'sum': sum(input['xs']), 'lang': 'python'}
'''
JS_SUM = '''function execute(input) {
  return { sum: input.xs.reduce((a, b) => a + b, 0), lang: 'javascript' };
}
'''
SH_WRAP = '''execute() {
  printf '{"wrapped":%s,"lang":"bash"}' "$1"
}
'''
PY_SLEEP = '''import time
def execute(input):
    time.sleep(60)
    return None
'''
PY_RAISE = '''def execute(input):
    raise ValueError('bad value %s' % input)
'''
JS_THROW = '''function execute(input) {
  throw new TypeError('nope ' + input);
}
'''
PY_FLOOD = '''def execute(input):
    return 'x' * 100000
'''

NETWORK_FS_READ = '{"effects":[{"effect":"Network"},{"effect":"FsRead","path":"/usr/share"}]}'


def make_config():
    config = NixExec.Config()
    config.props.flake_ref = FLAKE
    config.props.offline = True
    config.props.nix_options = NIX_OPTIONS
    config.props.extra_ro_binds = ['/usr', '/bin', '/lib', '/lib64']
    config.props.cache_dir = CACHE_DIR
    return config


def network_fs_read():
    effects = NixExec.EffectSet.new()
    effects.add(NixExec.EffectKind.NETWORK)
    effects.add_fs_read('/usr/share')
    return effects


def make_store():
    store = NixExec.MemoryStore.new()
    store.add(NixExec.Stage.new('py', PY_SUM, 'python', NixExec.EffectSet.new_pure()))
    store.add(NixExec.Stage.new('js', JS_SUM, 'javascript', network_fs_read()))
    store.add(NixExec.Stage.new('sh', SH_WRAP, 'bash', None))
    return store


def json(text):
    return Json.from_string(text)


class State:
    executor = None


# ---------------------------------------------------------------------------
# Effect sets

@case('effects: reference JSON form')
def _():
    pure = NixExec.EffectSet.new_pure()
    check(pure.is_pure(), 'new_pure() is pure')
    check_equal(pure.to_string(), '{"effects":[{"effect":"Pure"}]}', 'pure JSON')
    check_equal(NixExec.EffectSet.new().to_string(), '{"effects":[]}', 'empty JSON')
    check_equal(NixExec.EffectSet.new_unknown().to_string(),
                '{"effects":[{"effect":"Unknown"}]}', 'unknown JSON')

    effects = network_fs_read()
    text = effects.to_string()
    check_equal(text, NETWORK_FS_READ, 'network + fs-read JSON')
    check(effects.contains(NixExec.EffectKind.NETWORK), 'contains NETWORK')
    check(effects.contains(NixExec.EffectKind.FS_READ), 'contains FS_READ')
    check(not effects.contains(NixExec.EffectKind.PURE), 'does not contain PURE')
    check(not effects.is_pure(), 'not pure')
    check_equal(effects.get_read_paths(), ['/usr/share'], 'read paths')
    check_equal(effects.get_write_paths(), [], 'write paths')

    parsed = NixExec.EffectSet.new_from_string(text)
    check(parsed.equal(effects), 'new_from_string(to_string()) is equal')
    check_equal(parsed.to_string(), text, 'round trip')
    check(NixExec.EffectSet.new_from_json(effects.to_json()).equal(effects),
          'new_from_json(to_json()) is equal')

    copy = effects.copy()
    copy.add_cost(5)
    check_equal(copy.get_cost_cents(), 5, 'cost of the copy')
    check_equal(effects.get_cost_cents(), 0, 'cost of the original')


@case('effects: invalid JSON raises INVALID_EFFECTS')
def _():
    with raises_gerror(NixExec.error_quark(), NixExec.Error.INVALID_EFFECTS, 'unknown effect'):
        NixExec.EffectSet.new_from_string('{"effects":[{"effect":"Bogus"}]}')
    with raises_gerror(NixExec.error_quark(), NixExec.Error.INVALID_EFFECTS, 'not JSON') as r:
        NixExec.EffectSet.new_from_string('not json')
    check_equal(r.error.domain, 'nix-exec-error-quark', 'domain')
    check_equal(r.error.code, int(NixExec.Error.INVALID_EFFECTS), 'code')


# ---------------------------------------------------------------------------
# Config

@case('config: defaults')
def _():
    config = NixExec.Config()
    check_equal(config.props.timeout_secs, 30, 'timeout-secs')
    check_equal(config.props.max_output_bytes, 10 * 1024 * 1024, 'max-output-bytes')
    check_equal(config.props.max_stderr_bytes, 64 * 1024, 'max-stderr-bytes')
    check_equal(config.props.flake_ref, 'nixpkgs', 'flake-ref')
    check_equal(config.props.flake_ref, NixExec.DEFAULT_FLAKE_REF, 'DEFAULT_FLAKE_REF')
    check_equal(config.props.offline, False, 'offline')
    check_equal(list(config.props.nix_options or []), [], 'nix-options')
    check_equal(config.props.nix_path, None, 'nix-path')
    check(len(config.props.cache_dir) > 0, 'cache-dir has a default')


@case('config: properties and setters')
def _():
    config = NixExec.Config.new()
    notified = []
    config.connect('notify', lambda obj, pspec: notified.append(pspec.name))

    # Property syntax, read back through the getters.
    config.props.timeout_secs = 7
    config.props.max_output_bytes = 4096
    config.props.flake_ref = 'path:/somewhere'
    config.props.nix_options = ['a=b', 'c=']
    config.props.offline = True
    check_equal(config.get_timeout_secs(), 7, 'get_timeout_secs')
    check_equal(config.get_max_output_bytes(), 4096, 'get_max_output_bytes')
    check_equal(config.get_flake_ref(), 'path:/somewhere', 'get_flake_ref')
    check_equal(config.get_nix_options(), ['a=b', 'c='], 'get_nix_options')
    check_equal(config.get_offline(), True, 'get_offline')
    check_equal(notified,
                ['timeout-secs', 'max-output-bytes', 'flake-ref', 'nix-options', 'offline'],
                'notifications')

    # Setters, read back through the properties.
    del notified[:]
    config.set_timeout_secs(9)
    config.set_timeout_secs(9)
    config.set_max_output_bytes(8192)
    config.set_flake_ref('path:/elsewhere')
    config.set_nix_options(['x=y'])
    config.set_offline(False)
    check_equal(config.props.timeout_secs, 9, 'timeout_secs')
    check_equal(config.props.max_output_bytes, 8192, 'max_output_bytes')
    check_equal(config.props.flake_ref, 'path:/elsewhere', 'flake_ref')
    check_equal(list(config.props.nix_options), ['x=y'], 'nix_options')
    check_equal(config.props.offline, False, 'offline')
    check_equal(notified,
                ['timeout-secs', 'max-output-bytes', 'flake-ref', 'nix-options', 'offline'],
                'one notification per change')

    # The generic GObject API, and a 64-bit value.
    config.set_property('timeout-secs', 11)
    check_equal(config.get_property('timeout-secs'), 11, 'get_property')
    config.set_property('max-output-bytes', 2**40)
    check_equal(config.get_max_output_bytes(), 2**40, '64-bit max-output-bytes')

    # None restores the defaults.
    config.set_flake_ref(None)
    check_equal(config.props.flake_ref, 'nixpkgs', 'flake-ref reset')
    config.set_nix_options(None)
    check_equal(list(config.props.nix_options or []), [], 'nix-options cleared')

    copy = config.copy()
    copy.props.timeout_secs = 99
    check_equal(config.props.timeout_secs, 11, 'the copy is independent')
    check_equal(copy.props.max_output_bytes, 2**40, 'the copy has the settings')


# ---------------------------------------------------------------------------
# Stages and stores

@case('stage: properties')
def _():
    stage = NixExec.Stage.new('py', PY_SUM, 'python', NixExec.EffectSet.new_pure())
    check_equal(stage.props.id, 'py', 'id')
    check_equal(stage.get_code(), PY_SUM, 'code')
    check_equal(stage.props.language, 'python', 'language')
    check_equal(stage.props.effects.to_string(), '{"effects":[{"effect":"Pure"}]}', 'effects')
    check_equal(stage.props.name, None, 'name')
    stage.props.name = 'Sum'
    check_equal(stage.get_name(), 'Sum', 'get_name')
    stage.set_name(None)
    check_equal(stage.props.name, None, 'name cleared')

    undeclared = NixExec.Stage(id='x', code=PY_SUM, language='python')
    check_equal(undeclared.get_effects().to_string(), '{"effects":[{"effect":"Unknown"}]}',
                'no effects means Unknown')


@case('memory store: add, lookup, remove, GListModel')
def _():
    store = make_store()
    check_equal(store.get_n_items(), 3, 'n_items')
    check_equal(len(store), 3, 'len()')
    check_equal([stage.props.id for stage in store], ['py', 'js', 'sh'], 'iteration')
    check_equal(store[0].props.id, 'py', 'first item')
    check_equal(store.get_item_type(), NixExec.Stage.__gtype__, 'item type')
    check_equal(store.lookup('js').props.effects.to_string(), NETWORK_FS_READ, 'js effects')
    check_equal(store.lookup('missing'), None, 'lookup of a missing id')

    changed = []
    store.connect('items-changed', lambda model, pos, removed, added:
                  changed.append((pos, removed, added)))
    check(store.remove('js'), 'remove js')
    check(not store.remove('js'), 'remove js twice')
    check_equal(changed, [(1, 1, 0)], 'items-changed')
    check_equal(store.get_n_items(), 2, 'n_items after remove')


# ---------------------------------------------------------------------------
# Executor construction

@case('executor: new_from_store_with_config')
def _():
    executor = NixExec.Executor.new_from_store_with_config(make_store(), make_config())
    State.executor = executor
    check_equal(executor.list_stage_ids(), ['js', 'py', 'sh'], 'stage ids')
    check(executor.has_implementation('py'), 'has py')
    check(not executor.has_implementation('nope'), 'has no nope')
    check(os.path.isabs(executor.get_nix_path()), 'nix path is absolute')
    check_equal(executor.props.nix_path, executor.get_nix_path(), 'nix-path property')
    check(isinstance(NixExec.Executor.find_nix(), str), 'find_nix')


@case('executor: new(config) and register_with_effects')
def _():
    executor = NixExec.Executor.new(make_config())
    check_equal(executor.list_stage_ids(), [], 'no stages')
    check(executor.register_with_effects('py', PY_SUM, 'python3', NixExec.EffectSet.new_pure()),
          'register python')
    check(executor.register_with_effects('js', JS_SUM, 'js', network_fs_read()),
          'register javascript')
    check(executor.register_with_effects('sh', SH_WRAP, 'sh', None), 'register bash')
    check_equal(executor.list_stage_ids(), ['js', 'py', 'sh'], 'stage ids')

    result = executor.execute('js', json('{"xs": [4, 5]}'), None)
    check_equal(result.get_object().get_int_member('sum'), 9, 'sum')


@case('executor: made with the GObject constructor, without init')
def _():
    # How a Python user makes an object: set up without GInitable.init.
    executor = NixExec.Executor(config=make_config())
    check(os.path.isabs(executor.props.nix_path), 'nix path without init')
    check(executor.register_with_effects('py', PY_SUM, 'python', None), 'register')
    result = executor.execute('py', json('{"xs": [1, 2]}'), None)
    check_equal(result.get_object().get_int_member('sum'), 3, 'sum')

    config = make_config()
    config.props.nix_path = '/nonexistent/bin/nix'
    unusable = NixExec.Executor(config=config)
    check(unusable.register_with_effects('py', PY_SUM, 'python', None), 'register')
    with raises_gerror(NixExec.error_quark(), NixExec.Error.NIX_NOT_FOUND, 'execute'):
        unusable.execute('py', json('{"xs": [1]}'), None)

    executor.run_dispose()
    check_equal(executor.list_stage_ids(), [], 'no stages after dispose')
    with raises_gerror(Gio.io_error_quark(), Gio.IOErrorEnum.CLOSED, 'execute after dispose'):
        executor.execute('py', json('{"xs": [1]}'), None)


@case('executor: GInitable construction')
def _():
    executor = NixExec.Executor(config=make_config())
    check(executor.init(None), 'init')
    check(os.path.isabs(executor.props.nix_path), 'nix path after init')
    check_equal(executor.list_stage_ids(), [], 'no stages')


@case('executor: constructor errors are GLib.Error')
def _():
    config = make_config()
    config.props.nix_path = 'relative/nix'
    with raises_gerror(NixExec.error_quark(), NixExec.Error.NIX_NOT_FOUND, 'Executor.new'):
        NixExec.Executor.new(config)
    with raises_gerror(NixExec.error_quark(), NixExec.Error.NIX_NOT_FOUND,
                       'Executor.new_from_store_with_config'):
        NixExec.Executor.new_from_store_with_config(make_store(), config)


@case('executor: registration errors')
def _():
    executor = State.executor
    with raises_gerror(NixExec.error_quark(), NixExec.Error.INVALID_STAGE, 'ruby'):
        executor.register_with_effects('rb', 'def execute(i) i end', 'ruby', None)
    with raises_gerror(NixExec.error_quark(), NixExec.Error.INVALID_STAGE, 'blank code'):
        executor.register_with_effects('blank', ' \n', 'python', None)


# ---------------------------------------------------------------------------
# Running stages

@case('execute: synchronous, every language')
def _():
    executor = State.executor
    node = json('{"xs": [1, 2, 3]}')

    py = executor.execute('py', node, None)
    check_equal(py.get_object().get_int_member('sum'), 6, 'python sum')
    check_equal(py.get_object().get_string_member('lang'), 'python', 'python lang')

    js = executor.execute('js', node, None)
    check_equal(Json.to_string(js, False), '{"sum":6,"lang":"javascript"}', 'javascript')

    sh = executor.execute('sh', node, None)
    check_equal(Json.to_string(sh, False), '{"wrapped":{"xs":[1,2,3]},"lang":"bash"}', 'bash')


@case('execute: asynchronous, concurrently, on a GLib.MainLoop')
def _():
    executor = State.executor
    node = json('{"xs": [10, 20]}')

    def start(make_callback):
        for stage_id in ('py', 'js', 'sh'):
            executor.execute_async(stage_id, node, None,
                                   make_callback(lambda src, res: src.execute_finish(res)))

    outcomes = wait_async(3, start)
    errors = [error for _, error in outcomes if error is not None]
    check_equal(errors, [], 'errors')
    texts = sorted(Json.to_string(value, False) for value, _ in outcomes)
    check_equal(texts, ['{"sum":30,"lang":"javascript"}',
                        '{"sum":30,"lang":"python"}',
                        '{"wrapped":{"xs":[10,20]},"lang":"bash"}'], 'results')


@case('execute: user data reaches the callback')
def _():
    executor = State.executor
    loop = GLib.MainLoop()
    seen = []

    def callback(source, result, tag):
        seen.append((tag, source.execute_finish(result).get_object().get_int_member('sum')))
        loop.quit()

    executor.execute_async('py', json('{"xs": [1, 1]}'), None, callback, 'tag')
    loop.run()
    check_equal(seen, [('tag', 2)], 'callback arguments')


@case('execute: None input is JSON null')
def _():
    executor = State.executor
    executor.register_with_effects('is-null', 'def execute(input):\n    return input is None\n',
                                   'python', NixExec.EffectSet.new_pure())
    check_equal(executor.execute('is-null', None, None).get_boolean(), True, 'sync')
    check_equal(execute_async(executor, 'is-null', None).get_boolean(), True, 'async')


@case('warmup_async')
def _():
    fresh = State.executor.rebuild_with_config(make_config())
    check_equal(warmup(fresh), True, 'warmup result')
    result = execute_async(fresh, 'py', json('{"xs": [2]}'))
    check_equal(result.get_object().get_int_member('sum'), 2, 'after warmup')


# ---------------------------------------------------------------------------
# Errors

@case('errors: STAGE_NOT_FOUND')
def _():
    executor = State.executor
    with raises_gerror(NixExec.error_quark(), NixExec.Error.STAGE_NOT_FOUND, 'sync') as r:
        executor.execute('missing', json('1'), None)
    check('missing' in r.error.message, f'message names the stage: {r.error.message}')
    check_equal(r.error.domain, GLib.quark_to_string(NixExec.error_quark()), 'domain')
    check_equal(r.error.code, NixExec.Error.STAGE_NOT_FOUND, 'code')
    with raises_gerror(NixExec.error_quark(), NixExec.Error.STAGE_NOT_FOUND, 'async'):
        execute_async(executor, 'missing', json('1'))


@case('errors: STAGE_FAILED (raise, throw)')
def _():
    executor = State.executor
    executor.register_with_effects('raise', PY_RAISE, 'python', None)
    executor.register_with_effects('throw', JS_THROW, 'javascript', None)

    with raises_gerror(NixExec.error_quark(), NixExec.Error.STAGE_FAILED, 'python') as r:
        executor.execute('raise', json('5'), None)
    check('ValueError: bad value 5' in r.error.message, f'python message: {r.error.message}')

    with raises_gerror(NixExec.error_quark(), NixExec.Error.STAGE_FAILED, 'javascript') as r:
        execute_async(executor, 'throw', json('1'))
    check('TypeError: nope 1' in r.error.message, f'javascript message: {r.error.message}')


@case('errors: TIMED_OUT')
def _():
    config = State.executor.config_snapshot()
    config.props.timeout_secs = 1
    quick = State.executor.rebuild_with_config(config)
    quick.register_with_effects('sleep', PY_SLEEP, 'python', None)
    warmup(quick)

    start = time.monotonic()
    with raises_gerror(NixExec.error_quark(), NixExec.Error.TIMED_OUT, 'async'):
        execute_async(quick, 'sleep', json('null'))
    seconds = time.monotonic() - start
    check(seconds < 15, f'timed out after {seconds:.1f}s')

    with raises_gerror(NixExec.error_quark(), NixExec.Error.TIMED_OUT, 'sync'):
        quick.execute('sleep', None, None)


@case('errors: OUTPUT_TOO_LARGE')
def _():
    config = State.executor.config_snapshot()
    config.set_max_output_bytes(1024)
    small = State.executor.rebuild_with_config(config)
    small.register_with_effects('flood', PY_FLOOD, 'python', None)
    with raises_gerror(NixExec.error_quark(), NixExec.Error.OUTPUT_TOO_LARGE, 'flood'):
        small.execute('flood', None, None)


@case('cancel: a running stage reports IO_ERROR CANCELLED')
def _():
    executor = State.executor
    executor.register_with_effects('sleep', PY_SLEEP, 'python', None)
    # The runtime is resolved already, so the cancellation hits the stage.
    warmup(executor)

    cancellable = Gio.Cancellable()
    GLib.timeout_add(500, lambda: cancellable.cancel() or GLib.SOURCE_REMOVE)
    start = time.monotonic()
    with raises_gerror(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED, 'cancelled run'):
        execute_async(executor, 'sleep', json('null'), cancellable)
    seconds = time.monotonic() - start
    check(seconds < 10, f'cancelled after {seconds:.1f}s')

    # Synchronously too, with a cancellable that is already cancelled.
    with raises_gerror(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED, 'pre-cancelled'):
        executor.execute('py', json('{"xs": []}'), cancellable)


# ---------------------------------------------------------------------------
# Configuration of a built executor

@case('config_snapshot is a copy')
def _():
    executor = State.executor
    snapshot = executor.config_snapshot()
    check_equal(snapshot.props.flake_ref, FLAKE, 'flake-ref')
    check_equal(snapshot.props.offline, True, 'offline')
    check_equal(list(snapshot.props.nix_options), NIX_OPTIONS, 'nix-options')
    check_equal(snapshot.props.cache_dir, CACHE_DIR, 'cache-dir')

    snapshot.props.timeout_secs = 3
    snapshot.set_flake_ref('path:/changed')
    again = executor.config_snapshot()
    check_equal(again.props.timeout_secs, 30, 'timeout-secs unchanged')
    check_equal(again.get_flake_ref(), FLAKE, 'flake-ref unchanged')
    check_equal(executor.props.config.props.timeout_secs, 30, 'config property unchanged')
    check(executor.props.config != executor.props.config, 'the config property gives copies')


@case('rebuild_with_config keeps the stages')
def _():
    executor = State.executor
    config = executor.config_snapshot()
    config.props.timeout_secs = 12
    config.set_max_output_bytes(1 << 20)
    rebuilt = executor.rebuild_with_config(config)

    check_equal(rebuilt.list_stage_ids(), executor.list_stage_ids(), 'stage ids')
    for stage_id in ('py', 'js', 'sh'):
        check(rebuilt.has_implementation(stage_id), f'rebuilt has {stage_id}')
    check_equal(rebuilt.config_snapshot().props.timeout_secs, 12, 'new timeout')
    check_equal(rebuilt.config_snapshot().get_max_output_bytes(), 1 << 20, 'new max output')
    check_equal(executor.config_snapshot().props.timeout_secs, 30, 'the original is unchanged')

    rebuilt.register_with_effects('only-rebuilt', PY_SUM, 'python', None)
    check(not executor.has_implementation('only-rebuilt'), 'not in the original')

    result = rebuilt.execute('sh', json('[1]'), None)
    check_equal(Json.to_string(result, False), '{"wrapped":[1],"lang":"bash"}', 'runs')


@case('stage store: list_stages')
def _():
    store = make_store()
    for round_number in range(3):
        stages = store.list_stages()
        check_equal([stage.props.id for stage in stages], ['py', 'js', 'sh'],
                    f'round {round_number}')
        del stages
        gc.collect()
    check_equal(store.lookup('py').props.id, 'py', 'the store keeps its stages')


# ---------------------------------------------------------------------------
# Threads

PY_PID = '''import os
def execute(input):
    return os.getpid()
'''


def count_fds():
    return len(os.listdir('/proc/self/fd'))


def count_children():
    me = os.getpid()
    total = 0
    for task in os.listdir(f'/proc/{me}/task'):
        with open(f'/proc/{me}/task/{task}/children') as f:
            total += len(f.read().split())
    return total


@case('threads: sync calls from Python threads share workers and leave nothing')
def _():
    def make_executor():
        config = make_config()
        config.props.isolation = NixExec.Isolation.NONE
        config.props.keep_alive_secs = 60
        executor = NixExec.Executor.new(config)
        executor.add_stage(NixExec.Stage.new('pid', PY_PID, 'python', None))
        return executor

    # The library's thread and nix's runtime come with the first executor.
    first = make_executor()
    first.execute('pid', None, None)
    del first
    gc.collect()
    check_equal(count_children(), 0, 'children after the first executor')
    fds_before = count_fds()

    executor = make_executor()
    pids = []
    errors = []

    def call():
        try:
            pids.append(executor.execute('pid', None, None).get_int())
        except GLib.Error as e:
            errors.append(e)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    check_equal(errors, [], 'errors')
    check_equal(len(pids), 20, 'answers')
    check(1 <= len(set(pids)) <= 4, f'served by the pool\'s few workers, not {len(set(pids))}')

    del executor
    gc.collect()
    check_equal(count_children(), 0, 'children once the executor is gone')
    check_equal(count_fds(), fds_before, 'fds once the executor is gone')


@case('language: NixExec.Language.from_tag and Executor.add_stage')
def _():
    check_equal(NixExec.Language.from_tag('PY' + 'THON3'), (True, NixExec.Language.PYTHON),
                'python3')
    check_equal(NixExec.Language.from_tag('js'), (True, NixExec.Language.JAVASCRIPT), 'js')
    with raises_gerror(NixExec.error_quark(), NixExec.Error.INVALID_STAGE, 'ruby'):
        NixExec.Language.from_tag('ruby')
    executor = State.executor
    with raises_gerror(NixExec.error_quark(), NixExec.Error.INVALID_STAGE, 'add_stage ruby'):
        executor.add_stage(NixExec.Stage.new('rb', 'def execute(i) i end', 'ruby', None))
    check(executor.add_stage(NixExec.Stage.new('added', PY_PID, 'python', None)), 'add_stage')
    check(executor.has_implementation('added'), 'has the added stage')
    check(executor.props.isolation_active or executor.props.isolation_reason,
          'isolation-reason says why when not isolated')


# ---------------------------------------------------------------------------

def main():
    if not FLAKE:
        print('Bail out! NIXEXEC_TEST_FLAKE is not set')
        return 1
    try:
        failed = run_cases()
    finally:
        State.executor = None
        gc.collect()
        shutil.rmtree(CACHE_DIR, ignore_errors=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
