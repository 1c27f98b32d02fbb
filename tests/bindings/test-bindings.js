// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The whole NixExec API from GJS, through the built typelib, on real nix and
// the bundled offline runtime flake (NIXEXEC_TEST_FLAKE). Prints TAP.
//
// Run with: gjs -m test-bindings.js

import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import Json from 'gi://Json?version=1.0';
import NixExec from 'gi://NixExec?version=1.0';
import System from 'system';

Gio._promisify(NixExec.Executor.prototype, 'execute_async', 'execute_finish');
Gio._promisify(NixExec.Executor.prototype, 'warmup_async', 'warmup_finish');

// ---------------------------------------------------------------------------
// A tiny TAP harness

const cases = [];

function test(name, fn) {
    cases.push({name, fn});
}

class AssertionError extends Error {
    constructor(message) {
        super(message);
        this.name = 'AssertionError';
    }
}

function assert(condition, message = 'assertion failed') {
    if (!condition)
        throw new AssertionError(message);
}

function assertEqual(actual, expected, what = 'value') {
    if (actual !== expected) {
        throw new AssertionError(
            `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
    }
}

function assertDeepEqual(actual, expected, what = 'value') {
    assertEqual(JSON.stringify(actual), JSON.stringify(expected), what);
}

function describeError(error) {
    if (error instanceof GLib.Error)
        return `GLib.Error ${GLib.quark_to_string(error.domain)} ${error.code}: ${error.message}`;
    return String(error);
}

function assertGError(error, domain, code, what) {
    if (!(error instanceof GLib.Error) || !error.matches(domain, code)) {
        throw new AssertionError(
            `${what}: expected error code ${code}, got ${describeError(error)}`);
    }
}

function assertThrows(fn, domain, code, what = 'call') {
    try {
        fn();
    } catch (error) {
        assertGError(error, domain, code, what);
        return error;
    }
    throw new AssertionError(`${what}: expected an error, but it succeeded`);
}

async function assertRejects(promise, domain, code, what = 'call') {
    try {
        await promise;
    } catch (error) {
        assertGError(error, domain, code, what);
        return error;
    }
    throw new AssertionError(`${what}: expected an error, but it succeeded`);
}

async function runCases() {
    print(`1..${cases.length}`);
    let failed = 0;
    for (const [index, {name, fn}] of cases.entries()) {
        try {
            // eslint-disable-next-line no-await-in-loop
            await fn();
            print(`ok ${index + 1} - ${name}`);
        } catch (error) {
            failed++;
            print(`not ok ${index + 1} - ${name}`);
            const text = `${describeError(error)}\n${error?.stack ?? ''}`;
            for (const line of text.trimEnd().split('\n'))
                print(`# ${line}`);
        }
    }
    return failed;
}

// ---------------------------------------------------------------------------
// Fixtures

const FLAKE = GLib.getenv('NIXEXEC_TEST_FLAKE');
const NIX_OPTIONS = ['build-users-group=', 'sandbox=false'];
const cacheDir = GLib.dir_make_tmp('nixexec-gjs-XXXXXX');

const PY_SUM = `def execute(input):
    return {'sum': sum(input['xs']), 'lang': 'python'}
`;
const JS_SUM = `function execute(input) {
  return { sum: input.xs.reduce((a, b) => a + b, 0), lang: 'javascript' };
}
`;
const SH_WRAP = `execute() {
  printf '{"wrapped":%s,"lang":"bash"}' "$1"
}
`;
const PY_SLEEP = `import time
def execute(input):
    time.sleep(60)
    return None
`;
const PY_RAISE = `def execute(input):
    raise ValueError('bad value %s' % input)
`;
const JS_THROW = `function execute(input) {
  throw new TypeError('nope ' + input);
}
`;
const PY_FLOOD = `def execute(input):
    return 'x' * 100000
`;

function makeConfig() {
    const config = new NixExec.Config();
    config.flake_ref = FLAKE;
    config.offline = true;
    config.nix_options = NIX_OPTIONS;
    config.extra_ro_binds = ['/usr', '/bin', '/lib', '/lib64'];
    config.cache_dir = cacheDir;
    return config;
}

function json(text) {
    return Json.from_string(text);
}

function deleteTree(file) {
    let children = null;
    try {
        children = file.enumerate_children('standard::name,standard::type',
            Gio.FileQueryInfoFlags.NOFOLLOW_SYMLINKS, null);
    } catch {
        // Not a directory.
    }
    if (children) {
        let info;
        while ((info = children.next_file(null)) !== null) {
            const child = file.get_child(info.get_name());
            if (info.get_file_type() === Gio.FileType.DIRECTORY)
                deleteTree(child);
            else
                child.delete(null);
        }
    }
    file.delete(null);
}

// Set by the executor cases, used by the later ones.
let executor = null;

// ---------------------------------------------------------------------------
// Effect sets

test('effects: reference JSON form', () => {
    const pure = NixExec.EffectSet.new_pure();
    assert(pure.is_pure(), 'new_pure() is pure');
    assertEqual(pure.to_string(), '{"effects":[{"effect":"Pure"}]}', 'pure JSON');
    assertEqual(NixExec.EffectSet.new().to_string(), '{"effects":[]}', 'empty JSON');
    assertEqual(NixExec.EffectSet.new_unknown().to_string(),
        '{"effects":[{"effect":"Unknown"}]}', 'unknown JSON');

    const effects = NixExec.EffectSet.new();
    effects.add(NixExec.EffectKind.NETWORK);
    effects.add_fs_read('/usr/share');
    const text = effects.to_string();
    assertEqual(text, '{"effects":[{"effect":"Network"},{"effect":"FsRead","path":"/usr/share"}]}',
        'network + fs-read JSON');
    assert(effects.contains(NixExec.EffectKind.NETWORK), 'contains NETWORK');
    assert(effects.contains(NixExec.EffectKind.FS_READ), 'contains FS_READ');
    assert(!effects.contains(NixExec.EffectKind.PURE), 'does not contain PURE');
    assert(!effects.is_pure(), 'not pure');
    assertDeepEqual(effects.get_read_paths(), ['/usr/share'], 'read paths');
    assertDeepEqual(effects.get_write_paths(), [], 'write paths');

    const parsed = NixExec.EffectSet.new_from_string(text);
    assert(parsed.equal(effects), 'new_from_string(to_string()) is equal');
    assertEqual(parsed.to_string(), text, 'round trip');

    const fromJson = NixExec.EffectSet.new_from_json(effects.to_json());
    assert(fromJson.equal(effects), 'new_from_json(to_json()) is equal');

    const copy = effects.copy();
    copy.add_cost(5);
    assertEqual(copy.get_cost_cents(), 5, 'cost of the copy');
    assertEqual(effects.get_cost_cents(), 0, 'cost of the original');
});

test('effects: invalid JSON raises INVALID_EFFECTS', () => {
    assertThrows(() => NixExec.EffectSet.new_from_string('{"effects":[{"effect":"Bogus"}]}'),
        NixExec.Error, NixExec.Error.INVALID_EFFECTS, 'unknown effect');
    const error = assertThrows(() => NixExec.EffectSet.new_from_string('not json'),
        NixExec.Error, NixExec.Error.INVALID_EFFECTS, 'not JSON');
    assertEqual(error.domain, NixExec.error_quark(), 'error domain');
});

// ---------------------------------------------------------------------------
// Config

test('config: defaults', () => {
    const config = new NixExec.Config();
    assertEqual(config.timeout_secs, 30, 'timeout-secs');
    assertEqual(config.max_output_bytes, 10 * 1024 * 1024, 'max-output-bytes');
    assertEqual(config.max_stderr_bytes, 64 * 1024, 'max-stderr-bytes');
    assertEqual(config.flake_ref, 'nixpkgs', 'flake-ref');
    assertEqual(config.flake_ref, NixExec.DEFAULT_FLAKE_REF, 'DEFAULT_FLAKE_REF');
    assertEqual(config.offline, false, 'offline');
    assertDeepEqual(config.nix_options, [], 'nix-options');
    assertEqual(config.nix_path, null, 'nix-path');
    assert(config.cache_dir.length > 0, 'cache-dir has a default');
});

test('config: properties and setters', () => {
    const config = NixExec.Config.new();
    const notified = [];
    config.connect('notify', (_object, pspec) => notified.push(pspec.get_name()));

    // Property syntax, read back through the getters.
    config.timeout_secs = 7;
    config.max_output_bytes = 4096;
    config.flake_ref = 'path:/somewhere';
    config.nix_options = ['a=b', 'c='];
    config.offline = true;
    assertEqual(config.get_timeout_secs(), 7, 'get_timeout_secs');
    assertEqual(config.get_max_output_bytes(), 4096, 'get_max_output_bytes');
    assertEqual(config.get_flake_ref(), 'path:/somewhere', 'get_flake_ref');
    assertDeepEqual(config.get_nix_options(), ['a=b', 'c='], 'get_nix_options');
    assertEqual(config.get_offline(), true, 'get_offline');
    assertDeepEqual(notified,
        ['timeout-secs', 'max-output-bytes', 'flake-ref', 'nix-options', 'offline'],
        'notifications');

    // Setters, read back through the properties.
    notified.length = 0;
    config.set_timeout_secs(9);
    config.set_timeout_secs(9);
    config.set_max_output_bytes(8192);
    config.set_flake_ref('path:/elsewhere');
    config.set_nix_options(['x=y']);
    config.set_offline(false);
    assertEqual(config.timeout_secs, 9, 'timeout_secs');
    assertEqual(config.max_output_bytes, 8192, 'max_output_bytes');
    assertEqual(config.flake_ref, 'path:/elsewhere', 'flake_ref');
    assertDeepEqual(config.nix_options, ['x=y'], 'nix_options');
    assertEqual(config.offline, false, 'offline');
    assertDeepEqual(notified,
        ['timeout-secs', 'max-output-bytes', 'flake-ref', 'nix-options', 'offline'],
        'one notification per change');

    // Also by the property's canonical name.
    config['timeout-secs'] = 11;
    assertEqual(config['timeout-secs'], 11, 'timeout-secs by name');
    assertEqual(config.timeoutSecs, 11, 'timeoutSecs');

    // NULL restores the defaults.
    config.set_flake_ref(null);
    assertEqual(config.flake_ref, 'nixpkgs', 'flake-ref reset');
    config.set_nix_options(null);
    assertDeepEqual(config.nix_options, [], 'nix-options cleared');

    const copy = config.copy();
    copy.timeout_secs = 99;
    assertEqual(config.timeout_secs, 11, 'the copy is independent');
    assertEqual(copy.max_output_bytes, 8192, 'the copy has the settings');
});

// ---------------------------------------------------------------------------
// Stages and stores

test('stage: properties', () => {
    const effects = NixExec.EffectSet.new_pure();
    const stage = NixExec.Stage.new('py', PY_SUM, 'python', effects);
    assertEqual(stage.id, 'py', 'id');
    assertEqual(stage.get_code(), PY_SUM, 'code');
    assertEqual(stage.language, 'python', 'language');
    assertEqual(stage.effects.to_string(), '{"effects":[{"effect":"Pure"}]}', 'effects');
    assertEqual(stage.name, null, 'name');
    stage.name = 'Sum';
    assertEqual(stage.get_name(), 'Sum', 'get_name');
    stage.set_name(null);
    assertEqual(stage.name, null, 'name cleared');

    const undeclared = NixExec.Stage.new('x', PY_SUM, 'python', null);
    assertEqual(undeclared.get_effects().to_string(), '{"effects":[{"effect":"Unknown"}]}',
        'no effects means Unknown');
});

function makeStore() {
    const store = NixExec.MemoryStore.new();
    const effects = NixExec.EffectSet.new();
    effects.add(NixExec.EffectKind.NETWORK);
    effects.add_fs_read('/usr/share');
    store.add(NixExec.Stage.new('py', PY_SUM, 'python', NixExec.EffectSet.new_pure()));
    store.add(NixExec.Stage.new('js', JS_SUM, 'javascript', effects));
    store.add(NixExec.Stage.new('sh', SH_WRAP, 'bash', null));
    return store;
}

test('memory store: add, lookup, remove, GListModel', () => {
    const store = makeStore();
    assertEqual(store.get_n_items(), 3, 'n_items');
    assertEqual(store.n_items, 3, 'n-items property');
    assertEqual(store.get_item(0).id, 'py', 'first item');
    assertEqual(store.get_item_type(), NixExec.Stage.$gtype, 'item type');
    assertEqual(store.lookup('js').effects.to_string(),
        '{"effects":[{"effect":"Network"},{"effect":"FsRead","path":"/usr/share"}]}', 'js effects');
    assertEqual(store.lookup('missing'), null, 'lookup of a missing id');

    let changed = null;
    store.connect('items-changed', (_model, position, removed, added) => {
        changed = [position, removed, added];
    });
    assert(store.remove('js'), 'remove js');
    assert(!store.remove('js'), 'remove js twice');
    assertDeepEqual(changed, [1, 1, 0], 'items-changed');
    assertEqual(store.get_n_items(), 2, 'n_items after remove');
});

// ---------------------------------------------------------------------------
// Executor construction

test('executor: new_from_store_with_config', () => {
    executor = NixExec.Executor.new_from_store_with_config(makeStore(), makeConfig());
    assertDeepEqual(executor.list_stage_ids(), ['js', 'py', 'sh'], 'stage ids');
    assert(executor.has_implementation('py'), 'has py');
    assert(!executor.has_implementation('nope'), 'has no nope');
    assert(GLib.path_is_absolute(executor.get_nix_path()), 'nix path is absolute');
    assertEqual(executor.nix_path, executor.get_nix_path(), 'nix-path property');
    assertEqual(typeof NixExec.Executor.find_nix(), 'string', 'find_nix');
});

test('executor: new(config) and register_with_effects', () => {
    const config = makeConfig();
    const empty = NixExec.Executor.new(config);
    assertDeepEqual(empty.list_stage_ids(), [], 'no stages');

    const effects = NixExec.EffectSet.new();
    effects.add(NixExec.EffectKind.NETWORK);
    effects.add_fs_read('/usr/share');
    assert(empty.register_with_effects('py', PY_SUM, 'python3', NixExec.EffectSet.new_pure()),
        'register python');
    assert(empty.register_with_effects('js', JS_SUM, 'js', effects), 'register javascript');
    assert(empty.register_with_effects('sh', SH_WRAP, 'sh', null), 'register bash');
    assertDeepEqual(empty.list_stage_ids(), ['js', 'py', 'sh'], 'stage ids');

    const result = empty.execute('js', json('{"xs": [4, 5]}'), null);
    assertEqual(result.get_object().get_int_member('sum'), 9, 'sum');
});

test('executor: made with the GObject constructor, without init', () => {
    // How a GJS user makes an object: set up without GInitable.init.
    const executor = new NixExec.Executor({config: makeConfig()});
    assert(GLib.path_is_absolute(executor.nix_path), 'nix path without init');
    assert(executor.register_with_effects('py', PY_SUM, 'python', null), 'register');
    const result = executor.execute('py', json('{"xs": [1, 2]}'), null);
    assertEqual(result.get_object().get_int_member('sum'), 3, 'sum');

    const config = makeConfig();
    config.nix_path = '/nonexistent/bin/nix';
    const unusable = new NixExec.Executor({config});
    assert(unusable.register_with_effects('py', PY_SUM, 'python', null), 'register');
    assertThrows(() => unusable.execute('py', json('{"xs": [1]}'), null),
        NixExec.Error, NixExec.Error.NIX_NOT_FOUND, 'execute');
});

test('executor: GInitable construction', () => {
    const initable = new NixExec.Executor({config: makeConfig()});
    assert(initable.init(null), 'init');
    assert(GLib.path_is_absolute(initable.nix_path), 'nix path after init');
    assertDeepEqual(initable.list_stage_ids(), [], 'no stages');
});

test('executor: constructor errors are GErrors', () => {
    const config = makeConfig();
    config.nix_path = 'relative/nix';
    assertThrows(() => NixExec.Executor.new(config),
        NixExec.Error, NixExec.Error.NIX_NOT_FOUND, 'Executor.new');
    assertThrows(() => NixExec.Executor.new_from_store_with_config(makeStore(), config),
        NixExec.Error, NixExec.Error.NIX_NOT_FOUND, 'Executor.new_from_store_with_config');
});

test('executor: registration errors', () => {
    assertThrows(() => executor.register_with_effects('rb', 'def execute(i) i end', 'ruby', null),
        NixExec.Error, NixExec.Error.INVALID_STAGE, 'ruby');
    assertThrows(() => executor.register_with_effects('blank', ' \n', 'python', null),
        NixExec.Error, NixExec.Error.INVALID_STAGE, 'blank code');
    assertThrows(() => executor.add_stage(NixExec.Stage.new('rb', 'def execute(i) i end', 'ruby', null)),
        NixExec.Error, NixExec.Error.INVALID_STAGE, 'add_stage ruby');
});

test('executor: add_stage and NixExec.Language', () => {
    const [known, language] = NixExec.Language.from_tag('JS');
    assert(known, 'JS is a tag');
    assertEqual(language, NixExec.Language.JAVASCRIPT, 'JS is JavaScript');
    assertThrows(() => NixExec.Language.from_tag('ruby'),
        NixExec.Error, NixExec.Error.INVALID_STAGE, 'from_tag ruby');

    const empty = NixExec.Executor.new(makeConfig());
    assert(empty.add_stage(NixExec.Stage.new('sh', SH_WRAP, 'bash', null)), 'add_stage');
    const result = empty.execute('sh', json('7'), null);
    assertEqual(Json.to_string(result, false), '{"wrapped":7,"lang":"bash"}', 'bash');
});

// ---------------------------------------------------------------------------
// Running stages

test('execute: synchronous, every language', () => {
    const input = json('{"xs": [1, 2, 3]}');

    const py = executor.execute('py', input, null);
    assertEqual(py.get_object().get_int_member('sum'), 6, 'python sum');
    assertEqual(py.get_object().get_string_member('lang'), 'python', 'python lang');

    const js = executor.execute('js', input, null);
    assertEqual(Json.to_string(js, false), '{"sum":6,"lang":"javascript"}', 'javascript result');

    const sh = executor.execute('sh', input, null);
    assertEqual(Json.to_string(sh, false), '{"wrapped":{"xs":[1,2,3]},"lang":"bash"}',
        'bash result');
});

test('execute: asynchronous (promisified), concurrently', async () => {
    const input = json('{"xs": [10, 20]}');
    const [py, js, sh] = await Promise.all([
        executor.execute_async('py', input, null),
        executor.execute_async('js', input, null),
        executor.execute_async('sh', input, null),
    ]);
    assertEqual(py.get_object().get_int_member('sum'), 30, 'python sum');
    assertEqual(js.get_object().get_int_member('sum'), 30, 'javascript sum');
    assertEqual(Json.to_string(sh, false), '{"wrapped":{"xs":[10,20]},"lang":"bash"}', 'bash');
});

test('execute: a null input is JSON null', async () => {
    executor.register_with_effects('is-null', 'def execute(input):\n    return input is None\n',
        'python', NixExec.EffectSet.new_pure());
    assertEqual(executor.execute('is-null', null, null).get_boolean(), true, 'sync');
    assertEqual((await executor.execute_async('is-null', null, null)).get_boolean(), true,
        'async');
});

test('warmup_async', async () => {
    const fresh = executor.rebuild_with_config(makeConfig());
    const ok = await fresh.warmup_async(null);
    assertEqual(ok, true, 'warmup result');
    const result = await fresh.execute_async('py', json('{"xs": [2]}'), null);
    assertEqual(result.get_object().get_int_member('sum'), 2, 'after warmup');
});

// ---------------------------------------------------------------------------
// Errors

test('errors: STAGE_NOT_FOUND', async () => {
    const error = assertThrows(() => executor.execute('missing', json('1'), null),
        NixExec.Error, NixExec.Error.STAGE_NOT_FOUND, 'sync');
    assert(error.message.includes('missing'), `message names the stage: ${error.message}`);
    await assertRejects(executor.execute_async('missing', json('1'), null),
        NixExec.Error, NixExec.Error.STAGE_NOT_FOUND, 'async');
});

test('errors: STAGE_FAILED (raise, throw)', async () => {
    executor.register_with_effects('raise', PY_RAISE, 'python', null);
    executor.register_with_effects('throw', JS_THROW, 'javascript', null);

    let error = assertThrows(() => executor.execute('raise', json('5'), null),
        NixExec.Error, NixExec.Error.STAGE_FAILED, 'python raise');
    assert(error.message.includes('ValueError: bad value 5'), `python message: ${error.message}`);

    error = await assertRejects(executor.execute_async('throw', json('1'), null),
        NixExec.Error, NixExec.Error.STAGE_FAILED, 'javascript throw');
    assert(error.message.includes('TypeError: nope 1'), `javascript message: ${error.message}`);
});

test('errors: TIMED_OUT', async () => {
    const config = executor.config_snapshot();
    config.timeout_secs = 1;
    const quick = executor.rebuild_with_config(config);
    quick.register_with_effects('sleep', PY_SLEEP, 'python', null);
    await quick.warmup_async(null);

    const start = GLib.get_monotonic_time();
    await assertRejects(quick.execute_async('sleep', json('null'), null),
        NixExec.Error, NixExec.Error.TIMED_OUT, 'async');
    const seconds = (GLib.get_monotonic_time() - start) / 1e6;
    assert(seconds < 15, `timed out after ${seconds}s`);

    assertThrows(() => quick.execute('sleep', null, null),
        NixExec.Error, NixExec.Error.TIMED_OUT, 'sync');
});

test('errors: OUTPUT_TOO_LARGE', () => {
    const config = executor.config_snapshot();
    config.max_output_bytes = 1024;
    const small = executor.rebuild_with_config(config);
    small.register_with_effects('flood', PY_FLOOD, 'python', null);
    assertThrows(() => small.execute('flood', null, null),
        NixExec.Error, NixExec.Error.OUTPUT_TOO_LARGE, 'flood');
});

test('cancel: a running stage reports IO_ERROR CANCELLED', async () => {
    executor.register_with_effects('sleep', PY_SLEEP, 'python', null);
    // The runtime is resolved already, so the cancellation hits the stage.
    await executor.warmup_async(null);

    const cancellable = new Gio.Cancellable();
    GLib.timeout_add(GLib.PRIORITY_DEFAULT, 500, () => {
        cancellable.cancel();
        return GLib.SOURCE_REMOVE;
    });
    const start = GLib.get_monotonic_time();
    await assertRejects(executor.execute_async('sleep', json('null'), cancellable),
        Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED, 'cancelled run');
    const seconds = (GLib.get_monotonic_time() - start) / 1e6;
    assert(seconds < 10, `cancelled after ${seconds}s`);

    // A cancellable that is already cancelled fails at once.
    await assertRejects(executor.execute_async('py', json('{"xs": []}'), cancellable),
        Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED, 'pre-cancelled run');
});

// ---------------------------------------------------------------------------
// Configuration of a built executor

test('config_snapshot is a copy', () => {
    const snapshot = executor.config_snapshot();
    assertEqual(snapshot.flake_ref, FLAKE, 'flake-ref');
    assertEqual(snapshot.offline, true, 'offline');
    assertDeepEqual(snapshot.nix_options, NIX_OPTIONS, 'nix-options');
    assertEqual(snapshot.cache_dir, cacheDir, 'cache-dir');

    snapshot.timeout_secs = 3;
    snapshot.flake_ref = 'path:/changed';
    const again = executor.config_snapshot();
    assertEqual(again.timeout_secs, 30, 'timeout-secs unchanged');
    assertEqual(again.flake_ref, FLAKE, 'flake-ref unchanged');
    assertEqual(executor.config.timeout_secs, 30, 'config property unchanged');
    assert(executor.config !== executor.config, 'the config property gives copies');
});

test('rebuild_with_config keeps the stages', () => {
    const config = executor.config_snapshot();
    config.timeout_secs = 12;
    config.set_max_output_bytes(1 << 20);
    const rebuilt = executor.rebuild_with_config(config);

    assertDeepEqual(rebuilt.list_stage_ids(), executor.list_stage_ids(), 'stage ids');
    for (const id of ['py', 'js', 'sh'])
        assert(rebuilt.has_implementation(id), `rebuilt has ${id}`);
    assertEqual(rebuilt.config_snapshot().timeout_secs, 12, 'new timeout');
    assertEqual(rebuilt.config_snapshot().max_output_bytes, 1 << 20, 'new max output');
    assertEqual(executor.config_snapshot().timeout_secs, 30, 'the original is unchanged');

    // Later registrations are not shared.
    rebuilt.register_with_effects('only-rebuilt', PY_SUM, 'python', null);
    assert(!executor.has_implementation('only-rebuilt'), 'not in the original');

    const result = rebuilt.execute('sh', json('[1]'), null);
    assertEqual(Json.to_string(result, false), '{"wrapped":[1],"lang":"bash"}', 'runs');
});

test('stage store: list_stages', () => {
    const store = makeStore();
    for (let round = 0; round < 3; round++) {
        let stages = store.list_stages();
        assertDeepEqual(stages.map(s => s.id), ['py', 'js', 'sh'], `round ${round}`);
        stages = null;
        System.gc();
    }
    assertEqual(store.lookup('py').id, 'py', 'the store keeps its stages');
});

// ---------------------------------------------------------------------------

const loop = new GLib.MainLoop(null, false);
let status = 1;

if (!FLAKE) {
    print('Bail out! NIXEXEC_TEST_FLAKE is not set');
    System.exit(1);
}

runCases().then(failed => {
    status = failed > 0 ? 1 : 0;
}).catch(error => {
    print(`Bail out! ${describeError(error)}`);
}).finally(() => {
    executor = null;
    try {
        deleteTree(Gio.File.new_for_path(cacheDir));
    } catch (error) {
        print(`# could not remove ${cacheDir}: ${error}`);
    }
    loop.quit();
});

loop.run();
System.exit(status);
