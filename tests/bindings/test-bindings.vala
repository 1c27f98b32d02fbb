/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The whole NixExec API from Vala, through the generated vapi, on real nix and
 * the bundled offline runtime flake (NIXEXEC_TEST_FLAKE). Prints TAP.
 */

errordomain TestError {
    FAILED
}

const string PY_SUM = "def execute(input):\n    return {'sum': sum(input['xs']), 'lang': 'python'}\n";
const string JS_SUM = "function execute(input) {\n  return { sum: input.xs.reduce((a, b) => a + b, 0), lang: 'javascript' };\n}\n";
const string SH_WRAP = "execute() {\n  printf '{\"wrapped\":%s,\"lang\":\"bash\"}' \"$1\"\n}\n";
const string PY_SLEEP = "import time\ndef execute(input):\n    time.sleep(60)\n    return None\n";
const string PY_RAISE = "def execute(input):\n    raise ValueError('bad value %s' % input)\n";
const string JS_THROW = "function execute(input) {\n  throw new TypeError('nope ' + input);\n}\n";
const string PY_FLOOD = "def execute(input):\n    return 'x' * 100000\n";
const string NETWORK_FS_READ = "{\"effects\":[{\"effect\":\"Network\"},{\"effect\":\"FsRead\",\"path\":\"/usr/share\"}]}";

delegate void SyncCase () throws GLib.Error;

class BindingsTest : GLib.Object {
    private int number = 0;
    private int failed = 0;
    private string flake;
    private string cache_dir;
    private NixExec.Executor? executor = null;

    /* ---------------------------------------------------------------------
     * A tiny TAP harness. The plan is printed at the end. */

    private static void check (bool condition, string message) throws TestError {
        if (!condition)
            throw new TestError.FAILED (message);
    }

    private static void check_str (string? actual, string? expected, string what) throws TestError {
        if (actual != expected)
            throw new TestError.FAILED ("%s: expected “%s”, got “%s”".printf (what, expected ?? "(null)", actual ?? "(null)"));
    }

    private static void check_int (int64 actual, int64 expected, string what) throws TestError {
        if (actual != expected)
            throw new TestError.FAILED ("%s: expected %lld, got %lld".printf (what, expected, actual));
    }

    private static void check_strv (string[]? actual, string[] expected, string what) throws TestError {
        check_str (string.joinv (",", actual ?? new string[0]), string.joinv (",", expected), what);
    }

    private static void unexpected_success (string what) throws TestError {
        throw new TestError.FAILED ("%s: expected an error, but it succeeded".printf (what));
    }

    private void report (string name, GLib.Error? error) {
        number++;
        if (error == null) {
            print ("ok %d - %s\n", number, name);
            return;
        }
        failed++;
        print ("not ok %d - %s\n", number, name);
        var text = "%s %d: %s".printf (error.domain.to_string (), error.code, error.message);
        foreach (var line in text.split ("\n"))
            print ("# %s\n", line);
    }

    private void run_sync (string name, SyncCase fn) {
        try {
            fn ();
            report (name, null);
        } catch (GLib.Error error) {
            report (name, error);
        }
    }

    /* ---------------------------------------------------------------------
     * Fixtures */

    private NixExec.Config make_config () {
        var config = new NixExec.Config ();
        config.flake_ref = flake;
        config.offline = true;
        config.nix_options = { "build-users-group=", "sandbox=false" };
        config.extra_ro_binds = { "/usr", "/bin", "/lib", "/lib64" };
        config.cache_dir = cache_dir;
        return config;
    }

    private static NixExec.EffectSet network_fs_read () {
        var effects = new NixExec.EffectSet ();
        effects.add (NixExec.EffectKind.NETWORK);
        effects.add_fs_read ("/usr/share");
        return effects;
    }

    private static NixExec.MemoryStore make_store () {
        var store = new NixExec.MemoryStore ();
        store.add (new NixExec.Stage ("py", PY_SUM, "python", new NixExec.EffectSet.pure ()));
        store.add (new NixExec.Stage ("js", JS_SUM, "javascript", network_fs_read ()));
        store.add (new NixExec.Stage ("sh", SH_WRAP, "bash", null));
        return store;
    }

    private static Json.Node json (string text) throws GLib.Error {
        return Json.from_string (text);
    }

    private static void delete_tree (File file) {
        try {
            var children = file.enumerate_children ("standard::name,standard::type",
                                                    FileQueryInfoFlags.NOFOLLOW_SYMLINKS);
            FileInfo? info;
            while ((info = children.next_file ()) != null) {
                var child = file.get_child (info.get_name ());
                if (info.get_file_type () == FileType.DIRECTORY)
                    delete_tree (child);
                else
                    child.delete ();
            }
        } catch (GLib.Error error) {
            /* Not a directory. */
        }
        try {
            file.delete ();
        } catch (GLib.Error error) {
            print ("# could not remove %s: %s\n", file.get_path (), error.message);
        }
    }

    /* ---------------------------------------------------------------------
     * Effect sets */

    private void test_effects_json () throws GLib.Error {
        var pure = new NixExec.EffectSet.pure ();
        check (pure.is_pure (), "new_pure() is pure");
        check_str (pure.to_string (), "{\"effects\":[{\"effect\":\"Pure\"}]}", "pure JSON");
        check_str (new NixExec.EffectSet ().to_string (), "{\"effects\":[]}", "empty JSON");
        check_str (new NixExec.EffectSet.unknown ().to_string (),
                   "{\"effects\":[{\"effect\":\"Unknown\"}]}", "unknown JSON");

        var effects = network_fs_read ();
        var text = effects.to_string ();
        check_str (text, NETWORK_FS_READ, "network + fs-read JSON");
        check (effects.contains (NixExec.EffectKind.NETWORK), "contains NETWORK");
        check (effects.contains (NixExec.EffectKind.FS_READ), "contains FS_READ");
        check (!effects.contains (NixExec.EffectKind.PURE), "does not contain PURE");
        check (!effects.is_pure (), "not pure");
        check_strv (effects.get_read_paths (), { "/usr/share" }, "read paths");
        check_strv (effects.get_write_paths (), {}, "write paths");

        var parsed = new NixExec.EffectSet.from_string (text);
        check (parsed.equal (effects), "from_string(to_string()) is equal");
        check_str (parsed.to_string (), text, "round trip");
        check (new NixExec.EffectSet.from_json (effects.to_json ()).equal (effects),
               "from_json(to_json()) is equal");

        var copy = effects.copy ();
        copy.add_cost (5);
        check_int ((int64) copy.get_cost_cents (), 5, "cost of the copy");
        check_int ((int64) effects.get_cost_cents (), 0, "cost of the original");
    }

    private void test_effects_invalid () throws GLib.Error {
        try {
            new NixExec.EffectSet.from_string ("{\"effects\":[{\"effect\":\"Bogus\"}]}");
            unexpected_success ("unknown effect");
        } catch (NixExec.Error.INVALID_EFFECTS error) {
            check (error.matches (NixExec.Error.quark (), NixExec.Error.INVALID_EFFECTS), "matches");
            check (error.domain == NixExec.Error.quark (), "Error.quark()");
        }
        try {
            new NixExec.EffectSet.from_string ("not json");
            unexpected_success ("not JSON");
        } catch (NixExec.Error.INVALID_EFFECTS error) {
        }
    }

    /* ---------------------------------------------------------------------
     * Config */

    private void test_config_defaults () throws GLib.Error {
        var config = new NixExec.Config ();
        check_int (config.timeout_secs, 30, "timeout-secs");
        check_int (config.timeout_secs, NixExec.DEFAULT_TIMEOUT_SECS, "DEFAULT_TIMEOUT_SECS");
        check_int ((int64) config.max_output_bytes, 10 * 1024 * 1024, "max-output-bytes");
        check_int ((int64) config.max_stderr_bytes, 64 * 1024, "max-stderr-bytes");
        check_str (config.flake_ref, "nixpkgs", "flake-ref");
        check_str (config.flake_ref, NixExec.DEFAULT_FLAKE_REF, "DEFAULT_FLAKE_REF");
        check (!config.offline, "offline");
        check_strv (config.nix_options, {}, "nix-options");
        check_str (config.nix_path, null, "nix-path");
        check (config.cache_dir.length > 0, "cache-dir has a default");
    }

    private void test_config_properties () throws GLib.Error {
        var config = new NixExec.Config ();
        var notified = "";
        config.notify.connect ((object, pspec) => {
            notified += pspec.get_name () + " ";
        });

        /* Property syntax, read back through the getters. */
        config.timeout_secs = 7;
        config.max_output_bytes = 4096;
        config.flake_ref = "path:/somewhere";
        config.nix_options = { "a=b", "c=" };
        config.offline = true;
        check_int (config.get_timeout_secs (), 7, "get_timeout_secs");
        check_int ((int64) config.get_max_output_bytes (), 4096, "get_max_output_bytes");
        check_str (config.get_flake_ref (), "path:/somewhere", "get_flake_ref");
        check_strv (config.get_nix_options (), { "a=b", "c=" }, "get_nix_options");
        check (config.get_offline (), "get_offline");
        check_str (notified, "timeout-secs max-output-bytes flake-ref nix-options offline ",
                   "notifications");

        /* Setters, read back through the properties. */
        notified = "";
        config.set_timeout_secs (9);
        config.set_timeout_secs (9);
        config.set_max_output_bytes (uint64.MAX);
        config.set_flake_ref ("path:/elsewhere");
        config.set_nix_options ({ "x=y" });
        config.set_offline (false);
        check_int (config.timeout_secs, 9, "timeout_secs");
        check (config.max_output_bytes == uint64.MAX, "64-bit max_output_bytes");
        check_str (config.flake_ref, "path:/elsewhere", "flake_ref");
        check_strv (config.nix_options, { "x=y" }, "nix_options");
        check (!config.offline, "offline");
        check_str (notified, "timeout-secs max-output-bytes flake-ref nix-options offline ",
                   "one notification per change");

        /* The generic GObject API. */
        config.set ("timeout-secs", 11);
        uint timeout = 0;
        config.get ("timeout-secs", out timeout);
        check_int (timeout, 11, "get(\"timeout-secs\")");

        /* null restores the defaults. */
        config.set_flake_ref (null);
        check_str (config.flake_ref, "nixpkgs", "flake-ref reset");
        config.set_nix_options (null);
        check_strv (config.nix_options, {}, "nix-options cleared");

        var copy = config.copy ();
        copy.timeout_secs = 99;
        check_int (config.timeout_secs, 11, "the copy is independent");
        check (copy.max_output_bytes == uint64.MAX, "the copy has the settings");
    }

    /* ---------------------------------------------------------------------
     * Stages and stores */

    private void test_stage () throws GLib.Error {
        var stage = new NixExec.Stage ("py", PY_SUM, "python", new NixExec.EffectSet.pure ());
        check_str (stage.id, "py", "id");
        check_str (stage.get_code (), PY_SUM, "code");
        check_str (stage.language, "python", "language");
        check_str (stage.effects.to_string (), "{\"effects\":[{\"effect\":\"Pure\"}]}", "effects");
        check_str (stage.name, null, "name");
        stage.name = "Sum";
        check_str (stage.get_name (), "Sum", "get_name");
        stage.set_name (null);
        check_str (stage.name, null, "name cleared");

        var undeclared = new NixExec.Stage ("x", PY_SUM, "python", null);
        check_str (undeclared.get_effects ().to_string (), "{\"effects\":[{\"effect\":\"Unknown\"}]}",
                   "no effects means Unknown");
    }

    private void test_memory_store () throws GLib.Error {
        var store = make_store ();
        check_int (store.get_n_items (), 3, "n_items");
        check_int (store.n_items, 3, "n-items property");
        check_str (((NixExec.Stage) store.get_item (0)).id, "py", "first item");
        check (store.get_item_type () == typeof (NixExec.Stage), "item type");
        check_str (store.lookup ("js").effects.to_string (), NETWORK_FS_READ, "js effects");
        check (store.lookup ("missing") == null, "lookup of a missing id");

        var changed = "";
        store.items_changed.connect ((position, removed, added) => {
            changed += "%u %u %u".printf (position, removed, added);
        });
        check (store.remove ("js"), "remove js");
        check (!store.remove ("js"), "remove js twice");
        check_str (changed, "1 1 0", "items-changed");
        check_int (store.get_n_items (), 2, "n_items after remove");
    }

    private void test_list_stages () throws GLib.Error {
        var store = make_store ();
        for (int round = 0; round < 3; round++) {
            var stages = store.list_stages ();
            string[] ids = {};
            for (uint i = 0; i < stages.length; i++)
                ids += stages[i].id;
            check_strv (ids, { "py", "js", "sh" }, "round %d".printf (round));
        }
        check_str (store.lookup ("py").id, "py", "the store keeps its stages");
    }

    /* ---------------------------------------------------------------------
     * Executor construction */

    private void test_new_from_store_with_config () throws GLib.Error {
        executor = new NixExec.Executor.from_store_with_config (make_store (), make_config ());
        check_strv (executor.list_stage_ids (), { "js", "py", "sh" }, "stage ids");
        check (executor.has_implementation ("py"), "has py");
        check (!executor.has_implementation ("nope"), "has no nope");
        check (Path.is_absolute (executor.get_nix_path ()), "nix path is absolute");
        check_str (executor.nix_path, executor.get_nix_path (), "nix-path property");
        check (NixExec.Executor.find_nix () != null, "find_nix");
    }

    private void test_new_and_register () throws GLib.Error {
        var empty = new NixExec.Executor (make_config ());
        check_strv (empty.list_stage_ids (), {}, "no stages");
        check (empty.register_with_effects ("py", PY_SUM, "python3", new NixExec.EffectSet.pure ()),
               "register python");
        check (empty.register_with_effects ("js", JS_SUM, "js", network_fs_read ()),
               "register javascript");
        check (empty.register_with_effects ("sh", SH_WRAP, "sh", null), "register bash");
        check_strv (empty.list_stage_ids (), { "js", "py", "sh" }, "stage ids");

        var result = empty.execute ("js", json ("{\"xs\": [4, 5]}"));
        check_int (result.get_object ().get_int_member ("sum"), 9, "sum");
    }

    private void test_initable () throws GLib.Error {
        var initable = (NixExec.Executor) Initable.new (typeof (NixExec.Executor), null,
                                                        "config", make_config ());
        check (Path.is_absolute (initable.nix_path), "nix path after init");
        check_strv (initable.list_stage_ids (), {}, "no stages");
    }

    private void test_constructor_errors () throws GLib.Error {
        var config = make_config ();
        config.nix_path = "relative/nix";
        try {
            new NixExec.Executor (config);
            unexpected_success ("Executor.new");
        } catch (NixExec.Error.NIX_NOT_FOUND error) {
        }
        try {
            new NixExec.Executor.from_store_with_config (make_store (), config);
            unexpected_success ("Executor.new_from_store_with_config");
        } catch (NixExec.Error.NIX_NOT_FOUND error) {
        }
    }

    private void test_registration_errors () throws GLib.Error {
        try {
            executor.register_with_effects ("rb", "def execute(i) i end", "ruby", null);
            unexpected_success ("ruby");
        } catch (NixExec.Error.INVALID_STAGE error) {
        }
        try {
            executor.register_with_effects ("blank", " \n", "python", null);
            unexpected_success ("blank code");
        } catch (NixExec.Error.INVALID_STAGE error) {
        }
        try {
            executor.add_stage (new NixExec.Stage ("rb", "def execute(i) i end", "ruby", null));
            unexpected_success ("add_stage ruby");
        } catch (NixExec.Error.INVALID_STAGE error) {
        }

        NixExec.Language language;
        check (NixExec.Language.from_tag ("Python3", out language), "Python3 is a tag");
        check (language == NixExec.Language.PYTHON, "Python3 is Python");
        try {
            NixExec.Language.from_tag ("ruby", out language);
            unexpected_success ("from_tag ruby");
        } catch (NixExec.Error.INVALID_STAGE error) {
        }

        var added = new NixExec.Executor (make_config ());
        check (added.add_stage (new NixExec.Stage ("sh", SH_WRAP, "bash", null)), "add_stage");
        check (Json.to_string (added.execute ("sh", json ("7")), false) == "{\"wrapped\":7,\"lang\":\"bash\"}",
               "an added stage runs");
    }

    /* ---------------------------------------------------------------------
     * Running stages */

    private void test_execute_sync () throws GLib.Error {
        var input = json ("{\"xs\": [1, 2, 3]}");

        var py = executor.execute ("py", input);
        check_int (py.get_object ().get_int_member ("sum"), 6, "python sum");
        check_str (py.get_object ().get_string_member ("lang"), "python", "python lang");

        var js = executor.execute ("js", input, null);
        check_str (Json.to_string (js, false), "{\"sum\":6,\"lang\":\"javascript\"}", "javascript");

        var sh = executor.execute ("sh", input, null);
        check_str (Json.to_string (sh, false), "{\"wrapped\":{\"xs\":[1,2,3]},\"lang\":\"bash\"}",
                   "bash");
    }

    private async void test_execute_async () throws GLib.Error {
        var input = json ("{\"xs\": [10, 20]}");

        var py = yield executor.execute_async ("py", input, null);
        check_int (py.get_object ().get_int_member ("sum"), 30, "python sum");

        /* Three at once, on one main loop. */
        string[] ids = { "py", "js", "sh" };
        var texts = new string[3];
        GLib.Error? first_error = null;
        int pending = ids.length;
        for (int i = 0; i < ids.length; i++) {
            int index = i;
            executor.execute_async.begin (ids[i], input, null, (object, result) => {
                try {
                    texts[index] = Json.to_string (executor.execute_async.end (result), false);
                } catch (GLib.Error error) {
                    first_error = error;
                }
                if (--pending == 0)
                    test_execute_async.callback ();
            });
        }
        yield;
        if (first_error != null)
            throw first_error;
        check_str (texts[0], "{\"sum\":30,\"lang\":\"python\"}", "python");
        check_str (texts[1], "{\"sum\":30,\"lang\":\"javascript\"}", "javascript");
        check_str (texts[2], "{\"wrapped\":{\"xs\":[10,20]},\"lang\":\"bash\"}", "bash");
    }

    private async void test_null_input () throws GLib.Error {
        executor.register_with_effects ("is-null", "def execute(input):\n    return input is None\n",
                                        "python", new NixExec.EffectSet.pure ());
        check (executor.execute ("is-null", null).get_boolean (), "sync");
        var result = yield executor.execute_async ("is-null", null, null);
        check (result.get_boolean (), "async");
    }

    private async void test_warmup () throws GLib.Error {
        var fresh = executor.rebuild_with_config (make_config ());
        check (yield fresh.warmup_async (null), "warmup result");
        var result = yield fresh.execute_async ("py", json ("{\"xs\": [2]}"), null);
        check_int (result.get_object ().get_int_member ("sum"), 2, "after warmup");
    }

    /* ---------------------------------------------------------------------
     * Errors */

    private async void test_stage_not_found () throws GLib.Error {
        try {
            executor.execute ("missing", json ("1"));
            unexpected_success ("sync");
        } catch (NixExec.Error.STAGE_NOT_FOUND error) {
            check (error.message.contains ("missing"), "message names the stage: " + error.message);
        }
        try {
            yield executor.execute_async ("missing", json ("1"), null);
            unexpected_success ("async");
        } catch (NixExec.Error.STAGE_NOT_FOUND error) {
        }
    }

    private async void test_stage_failed () throws GLib.Error {
        executor.register_with_effects ("raise", PY_RAISE, "python", null);
        executor.register_with_effects ("throw", JS_THROW, "javascript", null);
        try {
            executor.execute ("raise", json ("5"));
            unexpected_success ("python raise");
        } catch (NixExec.Error.STAGE_FAILED error) {
            check (error.message.contains ("ValueError: bad value 5"), "python message: " + error.message);
        }
        try {
            yield executor.execute_async ("throw", json ("1"), null);
            unexpected_success ("javascript throw");
        } catch (NixExec.Error.STAGE_FAILED error) {
            check (error.message.contains ("TypeError: nope 1"), "javascript message: " + error.message);
        }
    }

    private async void test_timed_out () throws GLib.Error {
        var config = executor.config_snapshot ();
        config.timeout_secs = 1;
        var quick = executor.rebuild_with_config (config);
        quick.register_with_effects ("sleep", PY_SLEEP, "python", null);
        yield quick.warmup_async (null);

        var start = get_monotonic_time ();
        try {
            yield quick.execute_async ("sleep", json ("null"), null);
            unexpected_success ("async");
        } catch (NixExec.Error.TIMED_OUT error) {
        }
        var seconds = (get_monotonic_time () - start) / 1000000;
        check (seconds < 15, "timed out after %lld s".printf (seconds));

        try {
            quick.execute ("sleep", null);
            unexpected_success ("sync");
        } catch (NixExec.Error.TIMED_OUT error) {
        }
    }

    private void test_output_too_large () throws GLib.Error {
        var config = executor.config_snapshot ();
        config.set_max_output_bytes (1024);
        var small = executor.rebuild_with_config (config);
        small.register_with_effects ("flood", PY_FLOOD, "python", null);
        try {
            small.execute ("flood", null);
            unexpected_success ("flood");
        } catch (NixExec.Error.OUTPUT_TOO_LARGE error) {
        }
    }

    private async void test_cancel () throws GLib.Error {
        executor.register_with_effects ("sleep", PY_SLEEP, "python", null);
        /* The runtime is resolved already, so the cancellation hits the stage. */
        yield executor.warmup_async (null);

        var cancellable = new Cancellable ();
        Timeout.add (500, () => {
            cancellable.cancel ();
            return Source.REMOVE;
        });
        var start = get_monotonic_time ();
        try {
            yield executor.execute_async ("sleep", json ("null"), cancellable);
            unexpected_success ("cancelled run");
        } catch (IOError.CANCELLED error) {
        }
        var seconds = (get_monotonic_time () - start) / 1000000;
        check (seconds < 10, "cancelled after %lld s".printf (seconds));

        try {
            executor.execute ("py", json ("{\"xs\": []}"), cancellable);
            unexpected_success ("pre-cancelled run");
        } catch (IOError.CANCELLED error) {
        }
    }

    /* ---------------------------------------------------------------------
     * Configuration of a built executor */

    private void test_config_snapshot () throws GLib.Error {
        var snapshot = executor.config_snapshot ();
        check_str (snapshot.flake_ref, flake, "flake-ref");
        check (snapshot.offline, "offline");
        check_strv (snapshot.nix_options, { "build-users-group=", "sandbox=false" }, "nix-options");
        check_str (snapshot.cache_dir, cache_dir, "cache-dir");

        snapshot.timeout_secs = 3;
        snapshot.set_flake_ref ("path:/changed");
        var again = executor.config_snapshot ();
        check_int (again.timeout_secs, 30, "timeout-secs unchanged");
        check_str (again.get_flake_ref (), flake, "flake-ref unchanged");
        check_int (executor.config.timeout_secs, 30, "config property unchanged");
        check (executor.config != executor.config, "the config property gives copies");
    }

    private void test_rebuild () throws GLib.Error {
        var config = executor.config_snapshot ();
        config.timeout_secs = 12;
        config.set_max_output_bytes (1 << 20);
        var rebuilt = executor.rebuild_with_config (config);

        check_strv (rebuilt.list_stage_ids (), executor.list_stage_ids (), "stage ids");
        foreach (var id in new string[] { "py", "js", "sh" })
            check (rebuilt.has_implementation (id), "rebuilt has " + id);
        check_int (rebuilt.config_snapshot ().timeout_secs, 12, "new timeout");
        check_int ((int64) rebuilt.config_snapshot ().max_output_bytes, 1 << 20, "new max output");
        check_int (executor.config_snapshot ().timeout_secs, 30, "the original is unchanged");

        rebuilt.register_with_effects ("only-rebuilt", PY_SUM, "python", null);
        check (!executor.has_implementation ("only-rebuilt"), "not in the original");

        var result = rebuilt.execute ("sh", json ("[1]"));
        check_str (Json.to_string (result, false), "{\"wrapped\":[1],\"lang\":\"bash\"}", "runs");
    }

    /* ---------------------------------------------------------------------
     * Running the cases; async ones cannot be delegates, so each is spelled
     * out. */

    private async void run_cases () {
        run_sync ("effects: reference JSON form", test_effects_json);
        run_sync ("effects: invalid JSON raises INVALID_EFFECTS", test_effects_invalid);
        run_sync ("config: defaults", test_config_defaults);
        run_sync ("config: properties and setters", test_config_properties);
        run_sync ("stage: properties", test_stage);
        run_sync ("memory store: add, lookup, remove, GListModel", test_memory_store);
        run_sync ("executor: new_from_store_with_config", test_new_from_store_with_config);
        if (executor == null) {
            print ("Bail out! no executor\n");
            failed++;
            return;
        }
        run_sync ("executor: new(config) and register_with_effects", test_new_and_register);
        run_sync ("executor: GInitable construction", test_initable);
        run_sync ("executor: constructor errors are GLib.Error", test_constructor_errors);
        run_sync ("executor: registration errors", test_registration_errors);
        run_sync ("execute: synchronous, every language", test_execute_sync);

        try {
            yield test_execute_async ();
            report ("execute: asynchronous with yield, concurrently", null);
        } catch (GLib.Error error) {
            report ("execute: asynchronous with yield, concurrently", error);
        }
        try {
            yield test_null_input ();
            report ("execute: a null input is JSON null", null);
        } catch (GLib.Error error) {
            report ("execute: a null input is JSON null", error);
        }
        try {
            yield test_warmup ();
            report ("warmup_async", null);
        } catch (GLib.Error error) {
            report ("warmup_async", error);
        }
        try {
            yield test_stage_not_found ();
            report ("errors: STAGE_NOT_FOUND", null);
        } catch (GLib.Error error) {
            report ("errors: STAGE_NOT_FOUND", error);
        }
        try {
            yield test_stage_failed ();
            report ("errors: STAGE_FAILED (raise, throw)", null);
        } catch (GLib.Error error) {
            report ("errors: STAGE_FAILED (raise, throw)", error);
        }
        try {
            yield test_timed_out ();
            report ("errors: TIMED_OUT", null);
        } catch (GLib.Error error) {
            report ("errors: TIMED_OUT", error);
        }
        run_sync ("errors: OUTPUT_TOO_LARGE", test_output_too_large);
        try {
            yield test_cancel ();
            report ("cancel: a running stage reports IO_ERROR CANCELLED", null);
        } catch (GLib.Error error) {
            report ("cancel: a running stage reports IO_ERROR CANCELLED", error);
        }

        run_sync ("config_snapshot is a copy", test_config_snapshot);
        run_sync ("rebuild_with_config keeps the stages", test_rebuild);
        run_sync ("stage store: list_stages", test_list_stages);
    }

    public int run () {
        flake = Environment.get_variable ("NIXEXEC_TEST_FLAKE");
        if (flake == null) {
            print ("Bail out! NIXEXEC_TEST_FLAKE is not set\n");
            return 1;
        }
        try {
            cache_dir = DirUtils.make_tmp ("nixexec-vala-XXXXXX");
        } catch (FileError error) {
            print ("Bail out! %s\n", error.message);
            return 1;
        }

        var loop = new MainLoop ();
        run_cases.begin ((object, result) => {
            run_cases.end (result);
            loop.quit ();
        });
        loop.run ();
        print ("1..%d\n", number);

        executor = null;
        delete_tree (File.new_for_path (cache_dir));
        return failed > 0 ? 1 : 0;
    }
}

int main (string[] args) {
    return new BindingsTest ().run ();
}
