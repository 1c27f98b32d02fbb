/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nixexec-bench: what a stage call costs, measured on this machine.
 *
 *   nixexec-bench [--calls N] [--flake REF] [--json FILE] [--quick] …
 *
 * Sequential latency, per language, of one trivial stage that returns its
 * input, run on one input again and again with warm caches:
 *
 *  - floor:    GSubprocess of `<runtime>/bin/<interpreter> <script>`, the
 *              very store path and wrapped script the executor runs, with
 *              no library in between: what a process per call cannot beat;
 *  - executor: nix_exec_executor_execute(), one process per call;
 *  - nix run:  the reference strategy, `nix run <flake>#<attr> -- <script>`
 *              per call, on the same flake and the same script;
 *  - warm:     the executor with the config property `keep-alive-secs`
 *              set, when this build of the library has it.
 *
 * The floor, executor and nix run calls are interleaved (one of each per
 * round) so that drift in the machine's load is shared between them.
 *
 * Concurrency, per language and max-concurrency setting: N execute_async()
 * calls fired at once on one main loop, with this process's peak RSS
 * (VmHWM, reset through /proc/self/clear_refs, and VmRSS sampled), its
 * thread count sampled every 5 ms, its open fds before and after, and its
 * child processes left over.
 *
 * The file store: on a store file of N stages (100,000 by default), the
 * best of three of loading it, adding a stage and removing it, measured in
 * turns; an add or a remove should cost no more than two loads.
 *
 * Everything uses the public API of the library, as an application would.
 * The targets of issue #6 are marked PASS or FAIL; that is a measurement,
 * not a verdict: the exit status is non-zero only when something did not
 * run (a call failed or gave a wrong answer, the JSON could not be
 * written).
 */
#include "bench-config.h"

#include <fcntl.h>
#include <ftw.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include <nixexec-glib.h>

#define DEFAULT_CALLS         200
#define QUICK_CALLS           10
#define WARMUP_CALLS          5
#define QUICK_WARMUP_CALLS    2
#define SAMPLE_INTERVAL_MS    5
/* How long a run's fds may take to be closed after its last call has
 * completed before they count as leaked. */
#define FD_SETTLE_MS          1000
#define KEEP_ALIVE_SECS       30
/* Long enough that an overloaded machine shows up as slowness in the
 * numbers, not as timed-out calls. */
#define BENCH_TIMEOUT_SECS    300
#define DEFAULT_CONCURRENCY   "1,8,64,512"
#define QUICK_CONCURRENCY     "1,8"
#define DEFAULT_MAX_CONC      "default,0"

/* The targets of issue #6. */
#define TARGET_FLOOR_RATIO    1.25
#define TARGET_NIX_RUN_RATIO  2.0
#define TARGET_WARM_RATIO     20.0
#define TARGET_CONCURRENT_N   512
/* Not issue #6: a file store's add and remove against its load. */
#define TARGET_STORE_RATIO    2.0
#define TARGET_STORE_SLACK_MS 50.0

#define DEFAULT_STORE_STAGES  100000
#define QUICK_STORE_STAGES    10000
#define STORE_ROUNDS          3

typedef struct
{
  const char *name;       /* as given to --languages; also the stage id */
  const char *tag;        /* the executor's language tag */
  const char *attr;       /* the flake attribute `nix run` runs */
  const char *extension;  /* of the wrapped script in the script cache */
  const char *code;
} Language;

static const Language all_languages[] = {
  { "python", "python", "python3", "py",
    "def execute(input):\n"
    "    return input\n" },
  { "node", "javascript", "nodejs", "js",
    "function execute(input) { return input; }\n" },
  { "bash", "bash", "bash", "sh",
    "execute() { printf '%s' \"$1\"; }\n" },
};

static const char *input_text = "{\"id\": 7, \"text\": \"hello, bench\", \"values\": [1, 2, 3]}";

typedef enum {
  MODE_FLOOR,
  MODE_EXECUTOR,
  MODE_SANDBOXED,
  MODE_NIX_RUN,
  MODE_WARM,
  N_MODES
} Mode;

static const struct {
  const char *key;    /* in the JSON */
  const char *label;  /* in the table */
} modes[N_MODES] = {
  [MODE_FLOOR] = { "floor", "physical floor (direct exec)" },
  [MODE_EXECUTOR] = { "executor", "executor, process per call" },
  [MODE_SANDBOXED] = { "executor_sandboxed", "executor, sandboxed (bwrap)" },
  [MODE_NIX_RUN] = { "nix_run", "nix run per call" },
  [MODE_WARM] = { "warm", "warm workers" },
};

typedef struct
{
  gboolean  measured;
  char     *unavailable;  /* why not, when not measured */
  GArray   *samples;      /* gint64, µs of wall time per call */
  guint     failures;
  double    median_ms;
  double    p95_ms;
  double    mean_ms;
  double    min_ms;
  double    max_ms;
  double    calls_per_sec;
} Series;

typedef struct
{
  const Language *language;
  char           *runtime_path;
  char           *interpreter;
  char           *script_path;
  Series          series[N_MODES];
} SequentialResult;

typedef struct
{
  const Language *language;
  guint           max_concurrency;
  gboolean        max_concurrency_is_default;
  guint           n;
  gint64          wall_us;
  double          calls_per_sec;
  guint           completed;
  guint           failed;
  char           *first_error;
  guint64         rss_before_kib;
  guint64         peak_rss_kib;
  gboolean        hwm_was_reset;
  guint           threads_before;
  guint           threads_peak;
  guint           threads_after;
  guint           samples;
  guint           fds_before;
  guint           fds_after;
  gint64          fds_settle_us;
  guint           children_left;
} ConcurrencyResult;

typedef struct
{
  guint    stages;        /* 0 when not measured */
  guint64  file_bytes;
  double   load_ms[STORE_ROUNDS];
  double   add_ms[STORE_ROUNDS];
  double   remove_ms[STORE_ROUNDS];
  double   best_load_ms;
  double   best_add_ms;
  double   best_remove_ms;
} StoreResult;

typedef enum {
  TARGET_PASS,
  TARGET_FAIL,
  TARGET_PENDING,
  TARGET_NOT_MEASURED,
} TargetStatus;

static const char *target_status_names[] = {
  [TARGET_PASS] = "PASS",
  [TARGET_FAIL] = "FAIL",
  [TARGET_PENDING] = "PENDING",
  [TARGET_NOT_MEASURED] = "NOT MEASURED",
};

typedef struct
{
  const char   *id;
  char         *description;
  TargetStatus  status;
  char         *detail;
} Target;

typedef struct
{
  /* Options. */
  int                  calls;
  int                  nix_run_calls;
  char                *flake;
  gboolean             bundled_flake;
  gboolean             offline;
  char               **nix_options;
  char                *json_path;
  gboolean             quick;
  guint                warmup_calls;
  GPtrArray           *languages;         /* const Language * */
  GArray              *concurrency;       /* gint, each at least 1 */
  GArray              *max_concurrency;   /* gint: -1 for the default, else the value */
  guint                store_stages;      /* 0: the file store is not measured */

  /* Setup. */
  char                *tmp_dir;
  char                *cache_dir;
  char                *warm_cache_dir;
  char                *nix_version;
  char                *load_before;       /* /proc/loadavg, 1, 5 and 15 min */
  char                *load_after;
  guint                default_max_concurrency;
  guint64              fd_limit;
  gboolean             warm_available;
  JsonNode            *input;
  GBytes              *input_bytes;

  /* Results. */
  GPtrArray           *sequential;        /* SequentialResult *, owned */
  GPtrArray           *concurrent;        /* ConcurrencyResult *, owned */
  GPtrArray           *targets;           /* Target *, owned */
  StoreResult          store;
  guint                errors;
} Bench;

/* ---------------------------------------------------------------- helpers */

static void
bench_error (Bench      *bench,
             const char *format,
             ...) G_GNUC_PRINTF (2, 3);

static void
bench_error (Bench      *bench,
             const char *format,
             ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_printerr ("nixexec-bench: error: %s\n", message);
  bench->errors++;
}

static void
progress (const char *format,
          ...) G_GNUC_PRINTF (1, 2);

static void
progress (const char *format,
          ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_printerr ("nixexec-bench: %s\n", message);
}

static void
series_clear (Series *series)
{
  g_clear_pointer (&series->samples, g_array_unref);
  g_clear_pointer (&series->unavailable, g_free);
}

static void
sequential_result_free (SequentialResult *result)
{
  g_free (result->runtime_path);
  g_free (result->interpreter);
  g_free (result->script_path);
  for (guint i = 0; i < N_MODES; i++)
    series_clear (&result->series[i]);
  g_free (result);
}

static void
concurrency_result_free (ConcurrencyResult *result)
{
  g_free (result->first_error);
  g_free (result);
}

static void
target_free (Target *target)
{
  g_free (target->description);
  g_free (target->detail);
  g_free (target);
}

static int
compare_gint64 (gconstpointer a,
                gconstpointer b)
{
  gint64 x = *(const gint64 *) a;
  gint64 y = *(const gint64 *) b;

  return (x > y) - (x < y);
}

static void
series_compute (Series *series)
{
  g_autoptr(GArray) sorted = NULL;
  guint n = series->samples != NULL ? series->samples->len : 0;
  gint64 sum = 0;
  guint rank;

  if (n == 0)
    return;

  sorted = g_array_copy (series->samples);
  g_array_sort (sorted, compare_gint64);
  for (guint i = 0; i < n; i++)
    sum += g_array_index (sorted, gint64, i);

  if (n % 2 == 1)
    series->median_ms = g_array_index (sorted, gint64, n / 2) / 1000.0;
  else
    series->median_ms = (g_array_index (sorted, gint64, n / 2 - 1) +
                         g_array_index (sorted, gint64, n / 2)) / 2000.0;

  /* Nearest rank: the smallest sample at or above 95 % of them. */
  rank = (guint) ceil (0.95 * n);
  series->p95_ms = g_array_index (sorted, gint64, MAX (rank, 1) - 1) / 1000.0;
  series->mean_ms = sum / 1000.0 / n;
  series->min_ms = g_array_index (sorted, gint64, 0) / 1000.0;
  series->max_ms = g_array_index (sorted, gint64, n - 1) / 1000.0;
  /* Back to back calls: the rate is the inverse of the mean. */
  series->calls_per_sec = sum > 0 ? n * 1e6 / sum : 0.0;
}

static int
rm_rf_one (const char        *path,
           const struct stat *st,
           int                flag,
           struct FTW        *ftw)
{
  remove (path);
  return 0;
}

static void
rm_rf (const char *path)
{
  if (path != NULL)
    nftw (path, rm_rf_one, 16, FTW_DEPTH | FTW_PHYS);
}

typedef struct
{
  guint64 rss_kib;
  guint64 hwm_kib;
  guint   threads;
} ProcStatus;

static gboolean
read_proc_status (ProcStatus *status)
{
  g_autofree char *text = NULL;
  char *line;

  memset (status, 0, sizeof *status);
  if (!g_file_get_contents ("/proc/self/status", &text, NULL, NULL))
    return FALSE;

  for (line = text; line != NULL && *line != '\0';)
    {
      char *end = strchr (line, '\n');

      if (end != NULL)
        *end = '\0';
      if (g_str_has_prefix (line, "VmRSS:"))
        status->rss_kib = g_ascii_strtoull (line + strlen ("VmRSS:"), NULL, 10);
      else if (g_str_has_prefix (line, "VmHWM:"))
        status->hwm_kib = g_ascii_strtoull (line + strlen ("VmHWM:"), NULL, 10);
      else if (g_str_has_prefix (line, "Threads:"))
        status->threads = (guint) g_ascii_strtoull (line + strlen ("Threads:"), NULL, 10);
      line = end != NULL ? end + 1 : NULL;
    }
  return TRUE;
}

/* Resets VmHWM to the current RSS (Linux ≥ 4.0), so that each run reports
 * its own peak rather than the process's. */
static gboolean
reset_peak_rss (void)
{
  int fd = open ("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  gboolean done;

  if (fd < 0)
    return FALSE;
  done = write (fd, "5", 1) == 1;
  close (fd);
  return done;
}

static void drain_main_context (void);

static guint
count_open_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint count = 0;

  if (dir == NULL)
    return 0;
  while (g_dir_read_name (dir) != NULL)
    count++;
  /* Less the one GDir itself holds open while it reads. */
  return count > 0 ? count - 1 : 0;
}

/* The fd count once it has stopped changing. GLib (2.74 on Debian) watches
 * each child through a pidfd that its worker thread closes just after the
 * child is reaped, so a count taken at that moment can be one or two high
 * for a millisecond. */
static guint
count_settled_fds (void)
{
  gint64 deadline = g_get_monotonic_time () + FD_SETTLE_MS * 1000;
  guint count = count_open_fds ();

  while (g_get_monotonic_time () < deadline)
    {
      guint again;

      g_usleep (2000);
      drain_main_context ();
      again = count_open_fds ();
      if (again == count)
        break;
      count = again;
    }
  return count;
}

/* Our children, zombies included: anything the executor failed to reap or
 * left running shows up here. */
static guint
count_child_processes (void)
{
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  pid_t self = getpid ();
  const char *name;
  guint count = 0;

  if (proc == NULL)
    return 0;
  while ((name = g_dir_read_name (proc)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *stat = NULL;
      const char *after;
      char state;
      long ppid;

      if (!g_ascii_isdigit (name[0]))
        continue;
      path = g_build_filename ("/proc", name, "stat", NULL);
      if (!g_file_get_contents (path, &stat, NULL, NULL))
        continue;
      /* The command name may hold spaces and parentheses: skip to the last
       * ')' before reading "state ppid". */
      after = strrchr (stat, ')');
      if (after == NULL || sscanf (after + 1, " %c %ld", &state, &ppid) != 2)
        continue;
      if (ppid == self)
        count++;
    }
  return count;
}

/* The 1, 5 and 15 minute load averages: other work on the machine shows in
 * every number here, so the report says how busy it was. */
static char *
read_load_average (void)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) fields = NULL;

  if (!g_file_get_contents ("/proc/loadavg", &text, NULL, NULL))
    return g_strdup ("unknown");
  fields = g_strsplit (g_strstrip (text), " ", 4);
  if (g_strv_length (fields) < 3)
    return g_strdup ("unknown");
  return g_strdup_printf ("%s %s %s", fields[0], fields[1], fields[2]);
}

static void
drain_main_context (void)
{
  while (g_main_context_pending (NULL))
    g_main_context_iteration (NULL, FALSE);
}

static double
ratio (double numerator,
       double denominator)
{
  return denominator > 0 ? numerator / denominator : NAN;
}

/* ---------------------------------------------------------- the executor */

static NixExecConfig *
bench_config_new (Bench      *bench,
                  const char *cache_dir)
{
  NixExecConfig *config = nix_exec_config_new ();

  nix_exec_config_set_flake_ref (config, bench->flake);
  nix_exec_config_set_cache_dir (config, cache_dir);
  nix_exec_config_set_offline (config, bench->offline);
  nix_exec_config_set_nix_options (config, (const char * const *) bench->nix_options);
  nix_exec_config_set_timeout_secs (config, BENCH_TIMEOUT_SECS);
  /* What the library itself costs is measured unconfined; the sandbox's
   * cost has a row of its own (bench_sandboxed_config_new). */
  nix_exec_config_set_isolation (config, NIX_EXEC_ISOLATION_NONE);
  return config;
}

static NixExecConfig *
bench_sandboxed_config_new (Bench      *bench,
                            const char *cache_dir)
{
  /* The bundled flake's runtimes are the host's interpreters. */
  static const char * const host_binds[] = { "/usr", "/bin", "/lib", "/lib64", NULL };
  NixExecConfig *config = bench_config_new (bench, cache_dir);

  nix_exec_config_set_isolation (config, NIX_EXEC_ISOLATION_BWRAP);
  nix_exec_config_set_extra_ro_binds (config, host_binds);
  return config;
}

typedef struct
{
  gboolean  done;
  GError   *error;
} Waiter;

static void
on_warmup_done (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Waiter *waiter = user_data;

  nix_exec_executor_warmup_finish (NIX_EXEC_EXECUTOR (source), result, &waiter->error);
  waiter->done = TRUE;
}

/* An executor with every selected stage registered and its runtimes
 * resolved. */
static NixExecExecutor *
bench_executor_new (Bench          *bench,
                    NixExecConfig  *config,
                    GError        **error)
{
  g_autoptr(NixExecExecutor) executor = NULL;
  g_autoptr(NixExecEffectSet) effects = nix_exec_effect_set_new_pure ();
  Waiter waiter = { FALSE, NULL };

  executor = nix_exec_executor_new (config, error);
  if (executor == NULL)
    return NULL;

  for (guint i = 0; i < bench->languages->len; i++)
    {
      const Language *language = g_ptr_array_index (bench->languages, i);

      if (!nix_exec_executor_register_with_effects (executor, language->name, language->code,
                                                    language->tag, effects, error))
        return NULL;
    }

  nix_exec_executor_warmup_async (executor, NULL, on_warmup_done, &waiter);
  while (!waiter.done)
    g_main_context_iteration (NULL, TRUE);

  if (waiter.error != NULL)
    {
      g_propagate_error (error, waiter.error);
      return NULL;
    }
  return g_steal_pointer (&executor);
}

/* ------------------------------------------------------------- sequential */

static gboolean
check_output_node (Bench     *bench,
                   JsonNode  *output,
                   GError   **error)
{
  g_autofree char *text = NULL;

  if (output != NULL && json_node_equal (output, bench->input))
    return TRUE;

  text = output != NULL ? json_to_string (output, FALSE) : g_strdup ("nothing");
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               "wrong answer: %s instead of the input", text);
  return FALSE;
}

static gboolean
check_output_bytes (Bench   *bench,
                    GBytes  *bytes,
                    GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  gsize length = 0;
  const char *data = bytes != NULL ? g_bytes_get_data (bytes, &length) : NULL;

  if (!json_parser_load_from_data (parser, data != NULL ? data : "", length, error))
    {
      g_prefix_error (error, "the output is not JSON: ");
      return FALSE;
    }
  return check_output_node (bench, json_parser_get_root (parser), error);
}

/* Runs @argv with @input on stdin to its end. The time covers spawning and
 * communicating, not checking the answer. */
static gboolean
run_command (const char * const  *argv,
             GBytes              *input,
             gint64              *elapsed_us,
             GBytes             **stdout_bytes,
             GError             **error)
{
  g_autoptr(GSubprocess) subprocess = NULL;
  g_autoptr(GBytes) out = NULL;
  g_autoptr(GBytes) err = NULL;
  gint64 start = g_get_monotonic_time ();

  subprocess = g_subprocess_newv (argv,
                                  G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                  G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                  G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                  error);
  if (subprocess == NULL)
    return FALSE;
  if (!g_subprocess_communicate (subprocess, input, NULL, &out, &err, error))
    {
      g_subprocess_force_exit (subprocess);
      return FALSE;
    }
  *elapsed_us = g_get_monotonic_time () - start;

  if (!g_subprocess_get_if_exited (subprocess) || g_subprocess_get_exit_status (subprocess) != 0)
    {
      g_autofree char *text = g_strndup (g_bytes_get_data (err, NULL), g_bytes_get_size (err));

      g_autofree char *how = g_subprocess_get_if_exited (subprocess)
        ? g_strdup_printf ("exited with status %d", g_subprocess_get_exit_status (subprocess))
        : g_strdup_printf ("was killed by signal %d", g_subprocess_get_term_sig (subprocess));

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s %s: %s",
                   argv[0], how, g_strstrip (text));
      return FALSE;
    }

  *stdout_bytes = g_steal_pointer (&out);
  return TRUE;
}

/* The wrapped script the executor ran: the cache directory is this run's
 * own, and holds one script per language. */
static char *
find_script (const char  *cache_dir,
             const char  *extension,
             GError     **error)
{
  g_autofree char *scripts = g_build_filename (cache_dir, "scripts", NULL);
  g_autofree char *suffix = g_strconcat (".", extension, NULL);
  g_autoptr(GDir) dir = g_dir_open (scripts, 0, error);
  g_autofree char *found = NULL;
  const char *name;

  if (dir == NULL)
    return NULL;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      if (!g_str_has_suffix (name, suffix))
        continue;
      if (found != NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                       "more than one *%s script in %s", suffix, scripts);
          return NULL;
        }
      found = g_build_filename (scripts, name, NULL);
    }

  if (found == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "no *%s script in %s", suffix, scripts);
  return g_steal_pointer (&found);
}

/* The reference strategy's command line: an evaluation of the flake on
 * every call, with the same flags the executor gives nix. */
static GStrv
nix_run_argv_new (Bench           *bench,
                  const char      *nix_path,
                  const Language  *language,
                  const char      *script)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autofree char *installable = g_strdup_printf ("%s#%s", bench->flake, language->attr);

  g_strv_builder_add_many (builder, nix_path,
                           "--extra-experimental-features", "nix-command flakes", NULL);
  if (bench->offline)
    {
      g_strv_builder_add (builder, "--offline");
      g_strv_builder_add_many (builder, "--option", "substituters", "", NULL);
    }
  for (guint i = 0; bench->nix_options != NULL && bench->nix_options[i] != NULL; i++)
    {
      const char *eq = strchr (bench->nix_options[i], '=');
      g_autofree char *name = NULL;

      if (eq == NULL)
        continue;
      name = g_strndup (bench->nix_options[i], eq - bench->nix_options[i]);
      g_strv_builder_add_many (builder, "--option", name, eq + 1, NULL);
    }
  g_strv_builder_add_many (builder, "run", installable, "--", script, NULL);
  return g_strv_builder_end (builder);
}

/* One call in @mode; on failure the mode is given up, so that one broken
 * mode reports once instead of for every call. */
static gboolean
timed_call (Bench              *bench,
            SequentialResult   *result,
            Mode                mode,
            NixExecExecutor    *executor,
            const char * const *argv,
            gboolean            record)
{
  Series *series = &result->series[mode];
  g_autoptr(GError) error = NULL;
  gint64 elapsed = 0;

  if (!series->measured)
    return FALSE;

  if (executor != NULL)
    {
      g_autoptr(JsonNode) output = NULL;
      gint64 start = g_get_monotonic_time ();

      output = nix_exec_executor_execute (executor, result->language->name, bench->input,
                                          NULL, &error);
      elapsed = g_get_monotonic_time () - start;
      if (output != NULL)
        check_output_node (bench, output, &error);
    }
  else
    {
      g_autoptr(GBytes) out = NULL;

      if (run_command (argv, bench->input_bytes, &elapsed, &out, &error))
        check_output_bytes (bench, out, &error);
    }

  if (error != NULL)
    {
      bench_error (bench, "%s, %s: %s", result->language->name, modes[mode].label,
                   error->message);
      series->failures++;
      series->measured = FALSE;
      series->unavailable = g_strdup_printf ("failed: %s", error->message);
      return FALSE;
    }

  if (record)
    g_array_append_val (series->samples, elapsed);
  return TRUE;
}

static void
measure_sequential (Bench           *bench,
                    NixExecExecutor *executor,
                    NixExecExecutor *warm_executor,
                    NixExecExecutor *sandboxed_executor,
                    const Language  *language)
{
  SequentialResult *result = g_new0 (SequentialResult, 1);
  g_autoptr(NixExecResult) first = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) nix_run_argv = NULL;
  const char *floor_argv[3] = { NULL, NULL, NULL };
  guint rounds;

  result->language = language;
  g_ptr_array_add (bench->sequential, result);
  for (guint m = 0; m < N_MODES; m++)
    {
      result->series[m].samples = g_array_new (FALSE, FALSE, sizeof (gint64));
      result->series[m].measured = TRUE;
    }
  if (warm_executor == NULL)
    {
      result->series[MODE_WARM].measured = FALSE;
      result->series[MODE_WARM].unavailable = g_strdup ("not available in this build");
    }
  if (sandboxed_executor == NULL)
    {
      result->series[MODE_SANDBOXED].measured = FALSE;
      result->series[MODE_SANDBOXED].unavailable = g_strdup ("bubblewrap is not usable here");
    }

  progress ("%s: sequential calls (%d per mode)", language->name, bench->calls);

  /* The first call says which interpreter ran, and leaves its script in
   * the cache for the floor and nix run to run as well. */
  first = nix_exec_executor_execute_full (executor, language->name, bench->input, NULL, &error);
  if (first != NULL)
    check_output_node (bench, nix_exec_result_get_output (first), &error);
  if (error == NULL)
    {
      result->runtime_path = g_strdup (nix_exec_result_get_runtime_path (first));
      result->interpreter = g_strdup (nix_exec_result_get_interpreter (first));
      result->script_path = find_script (bench->cache_dir, language->extension, &error);
    }
  if (error != NULL)
    {
      bench_error (bench, "%s: the first call failed: %s", language->name, error->message);
      for (guint m = 0; m < N_MODES; m++)
        {
          if (!result->series[m].measured)
            continue;
          result->series[m].measured = FALSE;
          result->series[m].unavailable = g_strdup ("not measured: the first call failed");
        }
      return;
    }

  floor_argv[0] = result->interpreter;
  floor_argv[1] = result->script_path;
  nix_run_argv = nix_run_argv_new (bench, nix_exec_executor_get_nix_path (executor),
                                   language, result->script_path);

  for (guint i = 0; i < bench->warmup_calls; i++)
    {
      timed_call (bench, result, MODE_FLOOR, NULL, floor_argv, FALSE);
      timed_call (bench, result, MODE_EXECUTOR, executor, NULL, FALSE);
      if (sandboxed_executor != NULL)
        timed_call (bench, result, MODE_SANDBOXED, sandboxed_executor, NULL, FALSE);
      timed_call (bench, result, MODE_NIX_RUN, NULL, (const char * const *) nix_run_argv, FALSE);
    }

  rounds = MAX (bench->calls, bench->nix_run_calls);
  for (guint i = 0; i < rounds; i++)
    {
      if (i < (guint) bench->calls)
        {
          timed_call (bench, result, MODE_FLOOR, NULL, floor_argv, TRUE);
          timed_call (bench, result, MODE_EXECUTOR, executor, NULL, TRUE);
          if (sandboxed_executor != NULL)
            timed_call (bench, result, MODE_SANDBOXED, sandboxed_executor, NULL, TRUE);
        }
      if (i < (guint) bench->nix_run_calls)
        timed_call (bench, result, MODE_NIX_RUN, NULL, (const char * const *) nix_run_argv, TRUE);
    }

  if (warm_executor != NULL)
    {
      progress ("%s: sequential calls with warm workers", language->name);
      for (guint i = 0; i < bench->warmup_calls; i++)
        timed_call (bench, result, MODE_WARM, warm_executor, NULL, FALSE);
      for (guint i = 0; i < (guint) bench->calls; i++)
        timed_call (bench, result, MODE_WARM, warm_executor, NULL, TRUE);
    }

  for (guint m = 0; m < N_MODES; m++)
    series_compute (&result->series[m]);
}

/* ------------------------------------------------------------ concurrency */

typedef struct
{
  Bench             *bench;
  ConcurrencyResult *result;
  guint              remaining;
  guint64            peak_rss_kib;
  guint              peak_threads;
  guint              samples;
} ConcurrentRun;

static void
concurrent_run_sample (ConcurrentRun *run)
{
  ProcStatus status;

  if (!read_proc_status (&status))
    return;
  run->peak_rss_kib = MAX (run->peak_rss_kib, status.rss_kib);
  run->peak_threads = MAX (run->peak_threads, status.threads);
  run->samples++;
}

static gboolean
on_sample_tick (gpointer user_data)
{
  concurrent_run_sample (user_data);
  return G_SOURCE_CONTINUE;
}

static void
on_concurrent_call_done (GObject      *source,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  ConcurrentRun *run = user_data;
  g_autoptr(JsonNode) output = NULL;
  g_autoptr(GError) error = NULL;

  output = nix_exec_executor_execute_finish (NIX_EXEC_EXECUTOR (source), result, &error);
  if (output != NULL)
    check_output_node (run->bench, output, &error);

  if (error == NULL)
    {
      run->result->completed++;
    }
  else
    {
      run->result->failed++;
      if (run->result->first_error == NULL)
        run->result->first_error = g_strdup (error->message);
    }

  g_assert (run->remaining > 0);
  run->remaining--;
}

static void
measure_concurrency (Bench           *bench,
                     NixExecExecutor *executor,
                     const Language  *language,
                     gint             max_setting,
                     guint            n)
{
  ConcurrencyResult *result = g_new0 (ConcurrencyResult, 1);
  ConcurrentRun run = { bench, result, n, 0, 0, 0 };
  g_autoptr(NixExecConfig) config = nix_exec_executor_config_snapshot (executor);
  g_autoptr(GSource) sampler = NULL;
  ProcStatus status;
  gint64 start;

  result->language = language;
  result->n = n;
  result->max_concurrency = nix_exec_config_get_max_concurrency (config);
  result->max_concurrency_is_default = max_setting < 0;
  g_ptr_array_add (bench->concurrent, result);

  drain_main_context ();
  result->fds_before = count_settled_fds ();
  read_proc_status (&status);
  result->threads_before = status.threads;
  result->rss_before_kib = status.rss_kib;
  result->hwm_was_reset = reset_peak_rss ();
  concurrent_run_sample (&run);

  sampler = g_timeout_source_new (SAMPLE_INTERVAL_MS);
  g_source_set_callback (sampler, on_sample_tick, &run, NULL);
  g_source_set_static_name (sampler, "[nixexec-bench] sampler");
  g_source_attach (sampler, NULL);

  start = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    nix_exec_executor_execute_async (executor, language->name, bench->input, NULL,
                                     on_concurrent_call_done, &run);
  concurrent_run_sample (&run);
  while (run.remaining > 0)
    g_main_context_iteration (NULL, TRUE);
  result->wall_us = g_get_monotonic_time () - start;

  g_source_destroy (sampler);
  concurrent_run_sample (&run);
  read_proc_status (&status);

  result->calls_per_sec = result->wall_us > 0 ? n * 1e6 / result->wall_us : 0.0;
  result->peak_rss_kib = result->hwm_was_reset ? MAX (status.hwm_kib, run.peak_rss_kib)
                                               : run.peak_rss_kib;
  result->threads_peak = run.peak_threads;
  result->samples = run.samples;

  /* The last pidfds may still be on their way to being closed (see
   * count_settled_fds()): an fd counts as leaked if it is still open
   * FD_SETTLE_MS after the last call completed. */
  start = g_get_monotonic_time ();
  for (;;)
    {
      drain_main_context ();
      result->fds_after = count_open_fds ();
      result->fds_settle_us = g_get_monotonic_time () - start;
      if (result->fds_after <= result->fds_before ||
          result->fds_settle_us >= FD_SETTLE_MS * 1000)
        break;
      g_usleep (1000);
    }
  read_proc_status (&status);
  result->threads_after = status.threads;
  result->children_left = count_child_processes ();

  if (result->failed > 0)
    bench_error (bench, "%s, %u concurrent calls: %u failed, the first with: %s",
                 language->name, n, result->failed, result->first_error);
}

/* ------------------------------------------------------------ file store */

static double
min_of (const double *values,
        guint         n)
{
  double best = values[0];

  for (guint i = 1; i < n; i++)
    best = MIN (best, values[i]);
  return best;
}

/* A store file of @n stages, in the layout the store writes. */
static gboolean
write_store_file (const char  *path,
                  guint        n,
                  guint64     *out_bytes,
                  GError     **error)
{
  g_autoptr(GString) text = g_string_new ("{\n  \"stages\": [");

  for (guint i = 0; i < n; i++)
    g_string_append_printf (text,
                            "%s\n    {\n"
                            "      \"id\": \"stage-%06u\",\n"
                            "      \"name\": \"stage %u\",\n"
                            "      \"implementation_code\": \"def execute(x):\\n    return x + %u\\n\",\n"
                            "      \"implementation_language\": \"python\",\n"
                            "      \"signature\": {\n"
                            "        \"input\": \"Number\",\n"
                            "        \"output\": \"Number\",\n"
                            "        \"effects\": {\n"
                            "          \"effects\": [\n"
                            "            {\n"
                            "              \"effect\": \"Pure\"\n"
                            "            }\n"
                            "          ]\n"
                            "        }\n"
                            "      },\n"
                            "      \"lifecycle\": \"Active\"\n"
                            "    }",
                            i == 0 ? "" : ",", i, i, i);
  g_string_append (text, "\n  ]\n}");
  *out_bytes = text->len;
  return g_file_set_contents (path, text->str, text->len, error);
}

/* Loading the store (a new NixExecFileStore on the file, dropped again),
 * adding a new stage to an open store and removing it, in turns so that
 * drift in the machine's load is shared between them. */
static void
measure_store (Bench *bench)
{
  StoreResult *result = &bench->store;
  g_autofree char *path = g_build_filename (bench->tmp_dir, "store.json", NULL);
  g_autoptr(NixExecFileStore) store = NULL;
  g_autoptr(GError) error = NULL;

  progress ("file store: %u stages, %d rounds", bench->store_stages, STORE_ROUNDS);
  if (!write_store_file (path, bench->store_stages, &result->file_bytes, &error) ||
      (store = nix_exec_file_store_new (path, &error)) == NULL)
    {
      bench_error (bench, "file store: %s", error->message);
      return;
    }

  for (guint round = 0; round < STORE_ROUNDS; round++)
    {
      g_autofree char *id = g_strdup_printf ("bench-new-%u", round);
      g_autoptr(NixExecStage) stage = nix_exec_stage_new (id, "x", "bash", NULL);
      gint64 start;

      start = g_get_monotonic_time ();
      {
        g_autoptr(NixExecFileStore) loaded = nix_exec_file_store_new (path, &error);

        if (loaded == NULL)
          {
            bench_error (bench, "file store: load: %s", error->message);
            return;
          }
      }
      result->load_ms[round] = (g_get_monotonic_time () - start) / 1000.0;

      start = g_get_monotonic_time ();
      if (!nix_exec_file_store_add (store, stage, &error))
        {
          bench_error (bench, "file store: add: %s", error->message);
          return;
        }
      result->add_ms[round] = (g_get_monotonic_time () - start) / 1000.0;

      start = g_get_monotonic_time ();
      if (!nix_exec_file_store_remove (store, id, &error))
        {
          bench_error (bench, "file store: remove: %s", error->message);
          return;
        }
      result->remove_ms[round] = (g_get_monotonic_time () - start) / 1000.0;
    }

  result->stages = bench->store_stages;
  result->best_load_ms = min_of (result->load_ms, STORE_ROUNDS);
  result->best_add_ms = min_of (result->add_ms, STORE_ROUNDS);
  result->best_remove_ms = min_of (result->remove_ms, STORE_ROUNDS);
  g_unlink (path);
}

/* ---------------------------------------------------------------- targets */

static Target *
add_target (Bench        *bench,
            const char   *id,
            TargetStatus  status,
            const char   *description,
            const char   *detail_format,
            ...) G_GNUC_PRINTF (5, 6);

static Target *
add_target (Bench        *bench,
            const char   *id,
            TargetStatus  status,
            const char   *description,
            const char   *detail_format,
            ...)
{
  Target *target = g_new0 (Target, 1);
  va_list args;

  va_start (args, detail_format);
  target->id = id;
  target->status = status;
  target->description = g_strdup (description);
  target->detail = g_strdup_vprintf (detail_format, args);
  va_end (args);

  g_ptr_array_add (bench->targets, target);
  return target;
}

static SequentialResult *
find_sequential (Bench      *bench,
                 const char *language)
{
  for (guint i = 0; i < bench->sequential->len; i++)
    {
      SequentialResult *result = g_ptr_array_index (bench->sequential, i);

      if (g_str_equal (result->language->name, language))
        return result;
    }
  return NULL;
}

static void
evaluate_targets (Bench *bench)
{
  SequentialResult *python = find_sequential (bench, "python");
  Series *floor = python != NULL ? &python->series[MODE_FLOOR] : NULL;
  Series *executor = python != NULL ? &python->series[MODE_EXECUTOR] : NULL;
  Series *nix_run = python != NULL ? &python->series[MODE_NIX_RUN] : NULL;
  Series *warm = python != NULL ? &python->series[MODE_WARM] : NULL;
  guint min_n = G_MAXUINT, max_n = 0;
  guint runs_at_target = 0, failed_at_target = 0;
  guint leaked_fds = 0, children_left = 0;
  guint threads_at_min = 0, threads_at_max = 0;
  gboolean threads_grew = FALSE;
  const char *target_description;

  target_description = "Python, process per call: median within 1.25x of the physical floor";
  if (floor != NULL && executor != NULL && floor->measured && executor->measured)
    {
      double r = ratio (executor->median_ms, floor->median_ms);

      add_target (bench, "executor_vs_floor", r <= TARGET_FLOOR_RATIO ? TARGET_PASS : TARGET_FAIL,
                  target_description, "%.2fx (%.2f ms vs %.2f ms)",
                  r, executor->median_ms, floor->median_ms);
    }
  else
    {
      add_target (bench, "executor_vs_floor", TARGET_NOT_MEASURED, target_description,
                  "%s", "Python was not measured");
    }

  target_description = "Python, process per call: at least 2x faster than nix run per call";
  if (nix_run != NULL && executor != NULL && nix_run->measured && executor->measured)
    {
      double r = ratio (nix_run->median_ms, executor->median_ms);

      add_target (bench, "nix_run_vs_executor", r >= TARGET_NIX_RUN_RATIO ? TARGET_PASS : TARGET_FAIL,
                  target_description, "%.2fx (%.2f ms vs %.2f ms)",
                  r, nix_run->median_ms, executor->median_ms);
    }
  else
    {
      add_target (bench, "nix_run_vs_executor", TARGET_NOT_MEASURED, target_description,
                  "%s", "Python was not measured");
    }

  target_description = "Python, warm workers: at least 20x the calls/s of a process per call";
  if (!bench->warm_available)
    {
      add_target (bench, "warm_vs_executor", TARGET_PENDING, target_description,
                  "%s", "warm workers: not available in this build");
    }
  else if (warm != NULL && executor != NULL && warm->measured && executor->measured)
    {
      double r = ratio (warm->calls_per_sec, executor->calls_per_sec);

      add_target (bench, "warm_vs_executor", r >= TARGET_WARM_RATIO ? TARGET_PASS : TARGET_FAIL,
                  target_description, "%.1fx (%.1f vs %.1f calls/s)",
                  r, warm->calls_per_sec, executor->calls_per_sec);
    }
  else
    {
      add_target (bench, "warm_vs_executor", TARGET_NOT_MEASURED, target_description,
                  "%s", "Python was not measured");
    }

  for (guint i = 0; i < bench->concurrent->len; i++)
    {
      ConcurrencyResult *result = g_ptr_array_index (bench->concurrent, i);

      min_n = MIN (min_n, result->n);
      max_n = MAX (max_n, result->n);
      if (result->n == TARGET_CONCURRENT_N)
        {
          runs_at_target++;
          if (result->failed > 0 || result->completed != result->n)
            failed_at_target++;
        }
      if (result->fds_after > result->fds_before)
        leaked_fds += result->fds_after - result->fds_before;
      children_left += result->children_left;
    }

  /* Per language and max-concurrency setting: the peak at the largest N
   * against the peak at the smallest. */
  for (guint i = 0; i < bench->concurrent->len; i++)
    {
      ConcurrencyResult *small = g_ptr_array_index (bench->concurrent, i);

      if (small->n != min_n)
        continue;
      for (guint j = 0; j < bench->concurrent->len; j++)
        {
          ConcurrencyResult *large = g_ptr_array_index (bench->concurrent, j);

          if (large->n != max_n || large->language != small->language ||
              large->max_concurrency != small->max_concurrency)
            continue;
          threads_at_min = MAX (threads_at_min, small->threads_peak);
          threads_at_max = MAX (threads_at_max, large->threads_peak);
          if (large->threads_peak > small->threads_peak)
            threads_grew = TRUE;
        }
    }

  target_description = "512 concurrent execute_async calls complete";
  if (runs_at_target > 0)
    add_target (bench, "concurrent_512_complete",
                failed_at_target == 0 ? TARGET_PASS : TARGET_FAIL, target_description,
                "%u of %u runs of %d calls completed without an error",
                runs_at_target - failed_at_target, runs_at_target, TARGET_CONCURRENT_N);
  else
    add_target (bench, "concurrent_512_complete", TARGET_NOT_MEASURED, target_description,
                "largest N measured: %u", bench->concurrent->len > 0 ? max_n : 0);

  target_description = "thread count does not grow with N";
  if (bench->concurrent->len > 0 && min_n < max_n)
    add_target (bench, "threads_flat", threads_grew ? TARGET_FAIL : TARGET_PASS,
                target_description, "peak %u threads at N=%u, %u at N=%u",
                threads_at_min, min_n, threads_at_max, max_n);
  else
    add_target (bench, "threads_flat", TARGET_NOT_MEASURED, target_description,
                "%s", "needs two values of N");

  target_description = "file store: an add and a remove cost at most 2x a load (+50 ms)";
  if (bench->store.stages > 0)
    {
      StoreResult *store = &bench->store;
      double limit = TARGET_STORE_RATIO * store->best_load_ms + TARGET_STORE_SLACK_MS;

      add_target (bench, "store_add_remove_linear",
                  store->best_add_ms <= limit && store->best_remove_ms <= limit
                  ? TARGET_PASS : TARGET_FAIL, target_description,
                  "%u stages: add %.2fx, remove %.2fx (%.1f and %.1f ms vs %.1f ms)",
                  store->stages, ratio (store->best_add_ms, store->best_load_ms),
                  ratio (store->best_remove_ms, store->best_load_ms),
                  store->best_add_ms, store->best_remove_ms, store->best_load_ms);
    }
  else
    {
      add_target (bench, "store_add_remove_linear", TARGET_NOT_MEASURED, target_description,
                  "%s", bench->store_stages == 0 ? "--store-stages 0" : "the store failed");
    }

  target_description = "no leaked fds or child processes";
  if (bench->concurrent->len > 0)
    add_target (bench, "no_leaks",
                leaked_fds == 0 && children_left == 0 ? TARGET_PASS : TARGET_FAIL,
                target_description, "%u fds and %u processes left over after %u runs",
                leaked_fds, children_left, bench->concurrent->len);
  else
    add_target (bench, "no_leaks", TARGET_NOT_MEASURED, target_description,
                "%s", "no concurrency runs");
}

/* ----------------------------------------------------------------- output */

static char *
format_max_concurrency (guint    value,
                        gboolean is_default)
{
  if (value == 0)
    return g_strdup ("0 (no limit)");
  if (is_default)
    return g_strdup_printf ("%u (default)", value);
  return g_strdup_printf ("%u", value);
}

static void
print_report (Bench *bench)
{
  g_autofree char *options = bench->nix_options != NULL ? g_strjoinv (", ", bench->nix_options)
                                                         : g_strdup ("none");
  g_autofree char *input = json_to_string (bench->input, FALSE);
  struct utsname uts;

  if (uname (&uts) != 0)
    memset (&uts, 0, sizeof uts);

  g_print ("nixexec-bench, nixexec-glib %s\n", NIX_EXEC_VERSION_S);
  g_print ("machine: %u CPUs, %s %s %s, %s\n", g_get_num_processors (), uts.sysname,
           uts.release, uts.machine, bench->nix_version);
  g_print ("load:    %s at the start, %s at the end (1, 5, 15 min)\n",
           bench->load_before, bench->load_after);
  g_print ("flake:   %s (%s; nix options: %s)\n", bench->flake,
           bench->offline ? "offline" : "online", options);
  g_print ("executor: timeout-secs %d, default max-concurrency %u; fd limit %" G_GUINT64_FORMAT "\n",
           BENCH_TIMEOUT_SECS, bench->default_max_concurrency, bench->fd_limit);
  g_print ("calls:   %d per mode (nix run: %d) after %u warm-up calls, on input %s\n",
           bench->calls, bench->nix_run_calls, bench->warmup_calls, input);

  g_print ("\nSequential latency, one call at a time (wall time per call, ms)\n");
  g_print ("%-9s %-29s %8s %8s %8s %9s %9s %12s\n",
           "language", "mode", "median", "p95", "mean", "calls/s", "vs floor", "vs executor");
  for (guint i = 0; i < bench->sequential->len; i++)
    {
      SequentialResult *result = g_ptr_array_index (bench->sequential, i);
      Series *floor = &result->series[MODE_FLOOR];
      Series *executor = &result->series[MODE_EXECUTOR];

      for (guint m = 0; m < N_MODES; m++)
        {
          Series *series = &result->series[m];

          if (!series->measured)
            {
              g_print ("%-9s %-29s %s\n", result->language->name, modes[m].label,
                       series->unavailable);
              continue;
            }
          g_print ("%-9s %-29s %8.2f %8.2f %8.2f %9.1f %8.2fx %11.2fx\n",
                   result->language->name, modes[m].label,
                   series->median_ms, series->p95_ms, series->mean_ms, series->calls_per_sec,
                   floor->measured ? ratio (series->median_ms, floor->median_ms) : NAN,
                   executor->measured ? ratio (series->median_ms, executor->median_ms) : NAN);
        }
    }

  g_print ("\nRatios (of medians; warm workers by calls/s)\n");
  for (guint i = 0; i < bench->sequential->len; i++)
    {
      SequentialResult *result = g_ptr_array_index (bench->sequential, i);
      Series *floor = &result->series[MODE_FLOOR];
      Series *executor = &result->series[MODE_EXECUTOR];
      Series *nix_run = &result->series[MODE_NIX_RUN];
      Series *warm = &result->series[MODE_WARM];
      g_autofree char *warm_text = NULL;

      if (warm->measured && executor->measured)
        warm_text = g_strdup_printf ("%.1fx", ratio (warm->calls_per_sec, executor->calls_per_sec));
      else
        warm_text = g_strdup ("n/a");

      g_print ("%-9s executor/floor %.2fx   nix run/executor %.2fx   warm/executor %s\n",
               result->language->name,
               floor->measured && executor->measured ? ratio (executor->median_ms, floor->median_ms) : NAN,
               nix_run->measured && executor->measured ? ratio (nix_run->median_ms, executor->median_ms) : NAN,
               warm_text);
    }

  if (bench->concurrent->len > 0)
    {
      g_print ("\nConcurrent execute_async calls on one main loop\n");
      g_print ("%-9s %-13s %5s %9s %9s %5s %6s %11s %11s %12s %8s\n",
               "language", "max-conc", "N", "wall ms", "calls/s", "ok", "failed",
               "RSS MiB", "threads", "fds", "children");
      g_print ("%-9s %-13s %5s %9s %9s %5s %6s %11s %11s %12s %8s\n",
               "", "", "", "", "", "", "", "before/peak", "before/peak", "before/after", "left");
      for (guint i = 0; i < bench->concurrent->len; i++)
        {
          ConcurrencyResult *result = g_ptr_array_index (bench->concurrent, i);
          g_autofree char *max = format_max_concurrency (result->max_concurrency,
                                                         result->max_concurrency_is_default);
          g_autofree char *threads = g_strdup_printf ("%u/%u", result->threads_before,
                                                      result->threads_peak);
          g_autofree char *fds = g_strdup_printf ("%u/%u", result->fds_before, result->fds_after);
          g_autofree char *rss = g_strdup_printf ("%.1f/%.1f", result->rss_before_kib / 1024.0,
                                                  result->peak_rss_kib / 1024.0);

          g_print ("%-9s %-13s %5u %9.1f %9.1f %5u %6u %11s %11s %12s %8u\n",
                   result->language->name, max, result->n, result->wall_us / 1000.0,
                   result->calls_per_sec, result->completed, result->failed,
                   rss, threads, fds, result->children_left);
        }
    }

  if (bench->store.stages > 0)
    {
      StoreResult *store = &bench->store;

      g_print ("\nFile store, %u stages, %.1f MiB (ms, best of %d, measured in turns)\n",
               store->stages, store->file_bytes / 1048576.0, STORE_ROUNDS);
      g_print ("load %.1f   add %.1f (%.2fx)   remove %.1f (%.2fx)\n",
               store->best_load_ms,
               store->best_add_ms, ratio (store->best_add_ms, store->best_load_ms),
               store->best_remove_ms, ratio (store->best_remove_ms, store->best_load_ms));
    }

  g_print ("\nTargets (issue #6)\n");
  for (guint i = 0; i < bench->targets->len; i++)
    {
      Target *target = g_ptr_array_index (bench->targets, i);

      g_print ("%-12s %s: %s\n", target_status_names[target->status], target->description,
               target->detail);
    }
}

static void
add_double (JsonBuilder *builder,
            const char  *name,
            double       value)
{
  json_builder_set_member_name (builder, name);
  if (isfinite (value))
    json_builder_add_double_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

static void
add_int (JsonBuilder *builder,
         const char  *name,
         gint64       value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, value);
}

static void
add_string (JsonBuilder *builder,
            const char  *name,
            const char  *value)
{
  json_builder_set_member_name (builder, name);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

static void
add_series (JsonBuilder *builder,
            Series      *series)
{
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "measured");
  json_builder_add_boolean_value (builder, series->measured);
  if (!series->measured)
    {
      add_string (builder, "unavailable", series->unavailable);
      json_builder_end_object (builder);
      return;
    }
  add_int (builder, "calls", series->samples->len);
  add_double (builder, "median_ms", series->median_ms);
  add_double (builder, "p95_ms", series->p95_ms);
  add_double (builder, "mean_ms", series->mean_ms);
  add_double (builder, "min_ms", series->min_ms);
  add_double (builder, "max_ms", series->max_ms);
  add_double (builder, "calls_per_sec", series->calls_per_sec);
  json_builder_set_member_name (builder, "samples_us");
  json_builder_begin_array (builder);
  for (guint i = 0; i < series->samples->len; i++)
    json_builder_add_int_value (builder, g_array_index (series->samples, gint64, i));
  json_builder_end_array (builder);
  json_builder_end_object (builder);
}

static JsonNode *
build_json (Bench *bench)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  struct utsname uts;

  if (uname (&uts) != 0)
    memset (&uts, 0, sizeof uts);

  json_builder_begin_object (builder);
  add_int (builder, "format_version", 1);
  add_string (builder, "nixexec_glib_version", NIX_EXEC_VERSION_S);

  json_builder_set_member_name (builder, "machine");
  json_builder_begin_object (builder);
  add_int (builder, "cpus", g_get_num_processors ());
  add_string (builder, "kernel", uts.release);
  add_string (builder, "arch", uts.machine);
  add_string (builder, "nix_version", bench->nix_version);
  add_int (builder, "fd_limit", (gint64) bench->fd_limit);
  add_string (builder, "load_average_before", bench->load_before);
  add_string (builder, "load_average_after", bench->load_after);
  json_builder_end_object (builder);

  json_builder_set_member_name (builder, "settings");
  json_builder_begin_object (builder);
  add_int (builder, "calls", bench->calls);
  add_int (builder, "nix_run_calls", bench->nix_run_calls);
  add_int (builder, "warmup_calls", bench->warmup_calls);
  add_string (builder, "flake", bench->flake);
  json_builder_set_member_name (builder, "offline");
  json_builder_add_boolean_value (builder, bench->offline);
  json_builder_set_member_name (builder, "nix_options");
  json_builder_begin_array (builder);
  for (guint i = 0; bench->nix_options != NULL && bench->nix_options[i] != NULL; i++)
    json_builder_add_string_value (builder, bench->nix_options[i]);
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "quick");
  json_builder_add_boolean_value (builder, bench->quick);
  add_int (builder, "timeout_secs", BENCH_TIMEOUT_SECS);
  add_int (builder, "default_max_concurrency", bench->default_max_concurrency);
  json_builder_set_member_name (builder, "input");
  json_builder_add_value (builder, json_node_copy (bench->input));
  json_builder_set_member_name (builder, "warm_workers_available");
  json_builder_add_boolean_value (builder, bench->warm_available);
  json_builder_end_object (builder);

  json_builder_set_member_name (builder, "sequential");
  json_builder_begin_object (builder);
  for (guint i = 0; i < bench->sequential->len; i++)
    {
      SequentialResult *result = g_ptr_array_index (bench->sequential, i);
      Series *floor = &result->series[MODE_FLOOR];
      Series *executor = &result->series[MODE_EXECUTOR];
      Series *nix_run = &result->series[MODE_NIX_RUN];
      Series *warm = &result->series[MODE_WARM];

      json_builder_set_member_name (builder, result->language->name);
      json_builder_begin_object (builder);
      add_string (builder, "runtime_path", result->runtime_path);
      add_string (builder, "interpreter", result->interpreter);
      add_string (builder, "script", result->script_path);
      for (guint m = 0; m < N_MODES; m++)
        {
          json_builder_set_member_name (builder, modes[m].key);
          add_series (builder, &result->series[m]);
        }
      json_builder_set_member_name (builder, "ratios");
      json_builder_begin_object (builder);
      add_double (builder, "executor_over_floor",
                  floor->measured && executor->measured
                  ? ratio (executor->median_ms, floor->median_ms) : NAN);
      add_double (builder, "nix_run_over_executor",
                  nix_run->measured && executor->measured
                  ? ratio (nix_run->median_ms, executor->median_ms) : NAN);
      add_double (builder, "warm_over_executor_calls_per_sec",
                  warm->measured && executor->measured
                  ? ratio (warm->calls_per_sec, executor->calls_per_sec) : NAN);
      json_builder_end_object (builder);
      json_builder_end_object (builder);
    }
  json_builder_end_object (builder);

  json_builder_set_member_name (builder, "concurrency");
  json_builder_begin_array (builder);
  for (guint i = 0; i < bench->concurrent->len; i++)
    {
      ConcurrencyResult *result = g_ptr_array_index (bench->concurrent, i);

      json_builder_begin_object (builder);
      add_string (builder, "language", result->language->name);
      add_int (builder, "max_concurrency", result->max_concurrency);
      json_builder_set_member_name (builder, "max_concurrency_is_default");
      json_builder_add_boolean_value (builder, result->max_concurrency_is_default);
      add_int (builder, "n", result->n);
      add_double (builder, "wall_ms", result->wall_us / 1000.0);
      add_double (builder, "calls_per_sec", result->calls_per_sec);
      add_int (builder, "completed", result->completed);
      add_int (builder, "failed", result->failed);
      add_string (builder, "first_error", result->first_error);
      add_int (builder, "rss_before_kib", (gint64) result->rss_before_kib);
      add_int (builder, "peak_rss_kib", (gint64) result->peak_rss_kib);
      json_builder_set_member_name (builder, "peak_rss_from_vmhwm");
      json_builder_add_boolean_value (builder, result->hwm_was_reset);
      add_int (builder, "threads_before", result->threads_before);
      add_int (builder, "threads_peak", result->threads_peak);
      add_int (builder, "threads_after", result->threads_after);
      add_int (builder, "samples", result->samples);
      add_int (builder, "fds_before", result->fds_before);
      add_int (builder, "fds_after", result->fds_after);
      add_double (builder, "fds_settle_ms", result->fds_settle_us / 1000.0);
      add_int (builder, "children_left", result->children_left);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);

  json_builder_set_member_name (builder, "store");
  if (bench->store.stages > 0)
    {
      StoreResult *store = &bench->store;
      const struct { const char *name; const double *values; } series[] = {
        { "load_ms", store->load_ms }, { "add_ms", store->add_ms }, { "remove_ms", store->remove_ms },
      };

      json_builder_begin_object (builder);
      add_int (builder, "stages", store->stages);
      add_int (builder, "file_bytes", (gint64) store->file_bytes);
      for (guint i = 0; i < G_N_ELEMENTS (series); i++)
        {
          json_builder_set_member_name (builder, series[i].name);
          json_builder_begin_array (builder);
          for (guint r = 0; r < STORE_ROUNDS; r++)
            json_builder_add_double_value (builder, series[i].values[r]);
          json_builder_end_array (builder);
        }
      add_double (builder, "best_load_ms", store->best_load_ms);
      add_double (builder, "best_add_ms", store->best_add_ms);
      add_double (builder, "best_remove_ms", store->best_remove_ms);
      add_double (builder, "add_over_load", ratio (store->best_add_ms, store->best_load_ms));
      add_double (builder, "remove_over_load", ratio (store->best_remove_ms, store->best_load_ms));
      json_builder_end_object (builder);
    }
  else
    {
      json_builder_add_null_value (builder);
    }

  json_builder_set_member_name (builder, "targets");
  json_builder_begin_array (builder);
  for (guint i = 0; i < bench->targets->len; i++)
    {
      Target *target = g_ptr_array_index (bench->targets, i);

      json_builder_begin_object (builder);
      add_string (builder, "id", target->id);
      add_string (builder, "description", target->description);
      add_string (builder, "status", target_status_names[target->status]);
      add_string (builder, "detail", target->detail);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);

  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

/* Writes the JSON, then reads it back: the smoke test relies on the exit
 * status to know that the file is valid and complete. */
static gboolean
write_json (Bench       *bench,
            const char  *path,
            GError     **error)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(JsonNode) root = build_json (bench);
  static const char * const required[] = {
    "machine", "settings", "sequential", "concurrency", "targets",
  };
  JsonObject *object;

  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  if (!json_generator_to_file (generator, path, error))
    return FALSE;

  if (!json_parser_load_from_file (parser, path, error))
    return FALSE;
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: not a JSON object", path);
      return FALSE;
    }
  object = json_node_get_object (json_parser_get_root (parser));
  for (guint i = 0; i < G_N_ELEMENTS (required); i++)
    {
      if (!json_object_has_member (object, required[i]))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "%s: no member \"%s\"", path, required[i]);
          return FALSE;
        }
    }
  if (json_array_get_length (json_object_get_array_member (object, "targets")) != bench->targets->len)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: targets missing", path);
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------ setup */

static gboolean
parse_languages (Bench       *bench,
                 const char  *list,
                 GError     **error)
{
  g_auto(GStrv) names = g_strsplit (list, ",", -1);

  for (guint i = 0; names[i] != NULL; i++)
    {
      const char *name = g_strstrip (names[i]);
      const Language *found = NULL;

      if (*name == '\0')
        continue;
      if (g_str_equal (name, "javascript") || g_str_equal (name, "js"))
        name = "node";
      for (guint l = 0; l < G_N_ELEMENTS (all_languages); l++)
        if (g_str_equal (all_languages[l].name, name))
          found = &all_languages[l];
      if (found == NULL)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "unknown language “%s” (python, node or bash)", name);
          return FALSE;
        }
      if (!g_ptr_array_find (bench->languages, found, NULL))
        g_ptr_array_add (bench->languages, (gpointer) found);
    }

  if (bench->languages->len == 0)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "no language given");
      return FALSE;
    }
  return TRUE;
}

/* A comma-separated list of numbers; "default" stands for -1 when
 * @allow_default. */
static gboolean
parse_numbers (const char  *option,
               const char  *list,
               gboolean     allow_default,
               guint        minimum,
               GArray      *out,
               GError     **error)
{
  g_auto(GStrv) items = g_strsplit (list, ",", -1);

  for (guint i = 0; items[i] != NULL; i++)
    {
      const char *item = g_strstrip (items[i]);
      guint64 value;
      gint number;

      if (*item == '\0')
        continue;
      if (allow_default && g_str_equal (item, "default"))
        {
          number = -1;
        }
      else
        {
          if (!g_ascii_string_to_unsigned (item, 10, minimum, G_MAXINT, &value, NULL))
            {
              g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           "%s: “%s” is not a number of at least %u%s", option, item, minimum,
                           allow_default ? " or “default”" : "");
              return FALSE;
            }
          number = (gint) value;
        }
      g_array_append_val (out, number);
    }
  return TRUE;
}

static char *
query_nix_version (const char *nix_path)
{
  const char *argv[] = { nix_path, "--version", NULL };
  g_autofree char *out = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                     &out, NULL, &status, NULL) || !g_spawn_check_wait_status (status, NULL))
    return g_strdup ("nix (version unknown)");
  return g_strdup (g_strstrip (out));
}

/* 512 calls at once with no limit hold about 1024 pipe ends. */
static guint64
raise_fd_limit (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0)
    return 0;
  if (limit.rlim_cur < limit.rlim_max)
    {
      limit.rlim_cur = limit.rlim_max;
      setrlimit (RLIMIT_NOFILE, &limit);
      getrlimit (RLIMIT_NOFILE, &limit);
    }
  return limit.rlim_cur;
}

static void
bench_clear (Bench *bench)
{
  rm_rf (bench->tmp_dir);
  g_clear_pointer (&bench->tmp_dir, g_free);
  g_clear_pointer (&bench->cache_dir, g_free);
  g_clear_pointer (&bench->warm_cache_dir, g_free);
  g_clear_pointer (&bench->flake, g_free);
  g_clear_pointer (&bench->nix_options, g_strfreev);
  g_clear_pointer (&bench->json_path, g_free);
  g_clear_pointer (&bench->nix_version, g_free);
  g_clear_pointer (&bench->load_before, g_free);
  g_clear_pointer (&bench->load_after, g_free);
  g_clear_pointer (&bench->languages, g_ptr_array_unref);
  g_clear_pointer (&bench->concurrency, g_array_unref);
  g_clear_pointer (&bench->max_concurrency, g_array_unref);
  g_clear_pointer (&bench->input, json_node_unref);
  g_clear_pointer (&bench->input_bytes, g_bytes_unref);
  g_clear_pointer (&bench->sequential, g_ptr_array_unref);
  g_clear_pointer (&bench->concurrent, g_ptr_array_unref);
  g_clear_pointer (&bench->targets, g_ptr_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Bench, bench_clear)

static gboolean
config_has_keep_alive (NixExecConfig *config)
{
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (config),
                                                    "keep-alive-secs");

  return pspec != NULL && (pspec->flags & G_PARAM_WRITABLE) != 0 &&
         g_value_type_transformable (G_TYPE_UINT, pspec->value_type);
}

static void
config_set_keep_alive (NixExecConfig *config,
                       guint          seconds)
{
  GValue value = G_VALUE_INIT;

  g_value_init (&value, G_TYPE_UINT);
  g_value_set_uint (&value, seconds);
  g_object_set_property (G_OBJECT (config), "keep-alive-secs", &value);
  g_value_unset (&value);
}

int
main (int    argc,
      char **argv)
{
  static const char * const bundled_nix_options[] = {
    /* No nixbld group and no daemon on the machines the suite runs on. */
    "build-users-group=",
    "sandbox=false",
    NULL
  };
  g_auto(Bench) bench_storage = { 0 };
  Bench *bench = &bench_storage;
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(NixExecConfig) config = NULL;
  g_autoptr(NixExecExecutor) executor = NULL;
  g_autoptr(NixExecExecutor) warm_executor = NULL;
  g_autoptr(NixExecExecutor) sandboxed_executor = NULL;
  g_autofree char *languages = NULL;
  g_autofree char *concurrency = NULL;
  g_autofree char *max_concurrency = NULL;
  g_autofree char *flake = NULL;
  g_autofree char *json_path = NULL;
  g_auto(GStrv) nix_options = NULL;
  gboolean offline = FALSE;
  gboolean no_offline = FALSE;
  gboolean quick = FALSE;
  int calls = -1;
  int nix_run_calls = -1;
  int store_stages = -1;
  const GOptionEntry entries[] = {
    { "calls", 0, 0, G_OPTION_ARG_INT, &calls,
      "Calls per mode and language (default 200; 10 with --quick)", "N" },
    { "nix-run-calls", 0, 0, G_OPTION_ARG_INT, &nix_run_calls,
      "Calls of nix run per language (default: as --calls)", "N" },
    { "flake", 0, 0, G_OPTION_ARG_STRING, &flake,
      "The flake providing python3, nodejs and bash (default: the bundled runtime flake)", "REF" },
    { "offline", 0, 0, G_OPTION_ARG_NONE, &offline,
      "Run nix offline (the default for the bundled flake)", NULL },
    { "no-offline", 0, 0, G_OPTION_ARG_NONE, &no_offline,
      "Let nix use the network", NULL },
    { "nix-option", 0, 0, G_OPTION_ARG_STRING_ARRAY, &nix_options,
      "A nix setting, NAME=VALUE; repeatable (default for the bundled flake: "
      "build-users-group= and sandbox=false)", "NAME=VALUE" },
    { "json", 0, 0, G_OPTION_ARG_FILENAME, &json_path,
      "Also write every number to FILE as JSON", "FILE" },
    { "languages", 0, 0, G_OPTION_ARG_STRING, &languages,
      "Languages to measure (default python,node,bash)", "LIST" },
    { "concurrency", 0, 0, G_OPTION_ARG_STRING, &concurrency,
      "Numbers of concurrent calls (default " DEFAULT_CONCURRENCY "; "
      QUICK_CONCURRENCY " with --quick)", "LIST" },
    { "max-concurrency", 0, 0, G_OPTION_ARG_STRING, &max_concurrency,
      "max-concurrency settings to run them under: numbers, 0 for no limit, or "
      "“default” (default " DEFAULT_MAX_CONC ")", "LIST" },
    { "store-stages", 0, 0, G_OPTION_ARG_INT, &store_stages,
      "Stages in the file store measured (default 100000; 10000 with --quick; 0: none)", "N" },
    { "quick", 0, 0, G_OPTION_ARG_NONE, &quick,
      "Few calls, for a smoke test; the numbers mean little", NULL },
    G_OPTION_ENTRY_NULL
  };

  /* Messages in the user's language, numbers always with a '.'. */
  setlocale (LC_ALL, "");
  setlocale (LC_NUMERIC, "C");

  context = g_option_context_new ("— measure what a stage call costs");
  g_option_context_set_summary (context,
    "Measures, side by side, the executor (one process per call), nix run per\n"
    "call, a direct exec of the same interpreter and script, and warm workers\n"
    "when the library has them; then concurrent calls, with the process's\n"
    "peak RSS, threads, fds and children; and a file store's load, add and\n"
    "remove. Prints a table; --json writes it all.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("nixexec-bench: %s\n", error->message);
      return 2;
    }

  bench->quick = quick;
  bench->calls = calls > 0 ? calls : quick ? QUICK_CALLS : DEFAULT_CALLS;
  bench->nix_run_calls = nix_run_calls > 0 ? nix_run_calls : bench->calls;
  bench->warmup_calls = quick ? QUICK_WARMUP_CALLS : WARMUP_CALLS;
  bench->store_stages = store_stages >= 0 ? (guint) store_stages
                                          : quick ? QUICK_STORE_STAGES : DEFAULT_STORE_STAGES;
  bench->flake = g_strdup (flake != NULL ? flake : NIXEXEC_BENCH_DEFAULT_FLAKE);
  bench->bundled_flake = g_str_equal (bench->flake, NIXEXEC_BENCH_DEFAULT_FLAKE);
  bench->offline = !no_offline && (offline || bench->bundled_flake);
  if (nix_options != NULL)
    bench->nix_options = g_steal_pointer (&nix_options);
  else if (bench->bundled_flake)
    bench->nix_options = g_strdupv ((char **) bundled_nix_options);
  bench->json_path = g_steal_pointer (&json_path);
  bench->languages = g_ptr_array_new ();
  bench->concurrency = g_array_new (FALSE, FALSE, sizeof (gint));
  bench->max_concurrency = g_array_new (FALSE, FALSE, sizeof (gint));
  bench->sequential = g_ptr_array_new_with_free_func ((GDestroyNotify) sequential_result_free);
  bench->concurrent = g_ptr_array_new_with_free_func ((GDestroyNotify) concurrency_result_free);
  bench->targets = g_ptr_array_new_with_free_func ((GDestroyNotify) target_free);
  bench->input = json_from_string (input_text, NULL);
  bench->input_bytes = g_bytes_new_static (input_text, strlen (input_text));

  if (!parse_languages (bench, languages != NULL ? languages : "python,node,bash", &error) ||
      !parse_numbers ("--concurrency",
                      concurrency != NULL ? concurrency : quick ? QUICK_CONCURRENCY
                                                                : DEFAULT_CONCURRENCY,
                      FALSE, 1, bench->concurrency, &error) ||
      !parse_numbers ("--max-concurrency",
                      max_concurrency != NULL ? max_concurrency : DEFAULT_MAX_CONC,
                      TRUE, 0, bench->max_concurrency, &error))
    {
      g_printerr ("nixexec-bench: %s\n", error->message);
      return 2;
    }

  bench->fd_limit = raise_fd_limit ();
  bench->load_before = read_load_average ();
  bench->tmp_dir = g_dir_make_tmp ("nixexec-bench-XXXXXX", &error);
  if (bench->tmp_dir == NULL)
    {
      g_printerr ("nixexec-bench: %s\n", error->message);
      return 1;
    }
  /* A fresh script cache, so that each language's wrapped script is the
   * only one with its extension; warm workers get their own. */
  bench->cache_dir = g_build_filename (bench->tmp_dir, "cache", NULL);
  bench->warm_cache_dir = g_build_filename (bench->tmp_dir, "cache-warm", NULL);

  progress ("resolving runtimes on %s", bench->flake);
  config = bench_config_new (bench, bench->cache_dir);
  bench->default_max_concurrency = nix_exec_config_get_max_concurrency (config);
  executor = bench_executor_new (bench, config, &error);
  if (executor == NULL)
    {
      g_printerr ("nixexec-bench: could not set up the executor: %s\n", error->message);
      return 1;
    }
  bench->nix_version = query_nix_version (nix_exec_executor_get_nix_path (executor));

  bench->warm_available = config_has_keep_alive (config);
  if (bench->warm_available)
    {
      g_autoptr(NixExecConfig) warm_config = bench_config_new (bench, bench->warm_cache_dir);

      config_set_keep_alive (warm_config, KEEP_ALIVE_SECS);
      warm_executor = bench_executor_new (bench, warm_config, &error);
      if (warm_executor == NULL)
        {
          bench_error (bench, "could not set up the warm-worker executor: %s", error->message);
          g_clear_error (&error);
          bench->warm_available = FALSE;
        }
    }
  else
    {
      progress ("warm workers: not available in this build (no keep-alive-secs property)");
    }

  {
    g_autofree char *sandboxed_cache = g_build_filename (bench->tmp_dir, "cache-sandboxed", NULL);
    g_autoptr(NixExecConfig) sandboxed_config = bench_sandboxed_config_new (bench, sandboxed_cache);

    sandboxed_executor = bench_executor_new (bench, sandboxed_config, &error);
    if (sandboxed_executor == NULL)
      {
        progress ("sandboxed: not measured: %s", error->message);
        g_clear_error (&error);
      }
  }

  for (guint i = 0; i < bench->languages->len; i++)
    measure_sequential (bench, executor, warm_executor, sandboxed_executor,
                        g_ptr_array_index (bench->languages, i));
  g_clear_object (&sandboxed_executor);
  /* Workers kept alive would be counted as our children below. */
  g_clear_object (&warm_executor);

  for (guint s = 0; s < bench->max_concurrency->len; s++)
    {
      gint setting = g_array_index (bench->max_concurrency, gint, s);
      g_autoptr(NixExecExecutor) limited = NULL;
      NixExecExecutor *used = executor;

      if (setting >= 0)
        {
          g_autoptr(NixExecConfig) limited_config = bench_config_new (bench, bench->cache_dir);

          nix_exec_config_set_max_concurrency (limited_config, (guint) setting);
          limited = bench_executor_new (bench, limited_config, &error);
          if (limited == NULL)
            {
              bench_error (bench, "could not set up an executor with max-concurrency %d: %s",
                           setting, error->message);
              g_clear_error (&error);
              continue;
            }
          used = limited;
        }

      for (guint i = 0; i < bench->languages->len; i++)
        {
          const Language *language = g_ptr_array_index (bench->languages, i);
          g_autoptr(JsonNode) output = NULL;

          /* One call first, so that whatever GLib sets up on the first
           * child (its worker thread, the SIGCHLD watch) is in place
           * before the fds and threads are counted. */
          output = nix_exec_executor_execute (used, language->name, bench->input, NULL, &error);
          if (output == NULL)
            {
              bench_error (bench, "%s: %s", language->name, error->message);
              g_clear_error (&error);
              continue;
            }

          for (guint c = 0; c < bench->concurrency->len; c++)
            {
              guint n = g_array_index (bench->concurrency, gint, c);
              g_autofree char *max = format_max_concurrency (
                setting < 0 ? bench->default_max_concurrency : (guint) setting, setting < 0);

              progress ("%s: %u concurrent calls, max-concurrency %s", language->name, n, max);
              measure_concurrency (bench, used, language, setting, n);
            }
        }
    }

  if (bench->store_stages > 0)
    measure_store (bench);

  bench->load_after = read_load_average ();
  evaluate_targets (bench);
  print_report (bench);

  if (bench->json_path != NULL)
    {
      if (!write_json (bench, bench->json_path, &error))
        {
          bench_error (bench, "could not write %s: %s", bench->json_path, error->message);
          g_clear_error (&error);
        }
      else
        {
          progress ("wrote %s", bench->json_path);
        }
    }

  if (bench->errors > 0)
    {
      g_printerr ("nixexec-bench: %u error%s\n", bench->errors, bench->errors == 1 ? "" : "s");
      return 1;
    }
  return 0;
}
