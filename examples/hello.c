/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Runs one Python stage through nix and prints its result.
 *
 *   nixexec-example-c [NAME]
 *
 * NIXEXEC_FLAKE names the flake that provides the runtimes (default:
 * nixpkgs). NIXEXEC_OFFLINE=1 keeps nix off the network, lets it build as
 * root without a nix daemon, and shows the sandbox the host's /usr, which
 * the bundled test flake's runtimes (host interpreters) need.
 */
#include <stdlib.h>

#include <nixexec-glib.h>

static const char stage_code[] =
  "def execute(input):\n"
  "    return {'greeting': 'Hello, %s!' % input['name']}\n";

static NixExecConfig *
config_from_environment (void)
{
  static const char * const offline_options[] = {
    "build-users-group=",
    "sandbox=false",
    NULL
  };
  static const char * const host_binds[] = { "/usr", "/bin", "/lib", "/lib64", NULL };
  NixExecConfig *config = nix_exec_config_new ();
  const char *flake = g_getenv ("NIXEXEC_FLAKE");

  if (flake != NULL && *flake != '\0')
    nix_exec_config_set_flake_ref (config, flake);
  if (g_strcmp0 (g_getenv ("NIXEXEC_OFFLINE"), "1") == 0)
    {
      nix_exec_config_set_offline (config, TRUE);
      nix_exec_config_set_nix_options (config, offline_options);
      /* The bundled flake's runtimes are the host's interpreters. */
      nix_exec_config_set_extra_ro_binds (config, host_binds);
    }
  return config;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(NixExecConfig) config = config_from_environment ();
  g_autoptr(NixExecExecutor) executor = NULL;
  g_autoptr(NixExecEffectSet) effects = nix_exec_effect_set_new_pure ();
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) input = NULL;
  g_autoptr(JsonNode) output = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  executor = nix_exec_executor_new (config, &error);
  if (executor == NULL ||
      !nix_exec_executor_register_with_effects (executor, "hello", stage_code, "python",
                                                effects, &error))
    {
      g_printerr ("%s\n", error->message);
      return EXIT_FAILURE;
    }

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, argc > 1 ? argv[1] : "world");
  json_builder_end_object (builder);
  input = json_builder_get_root (builder);

  /* The first run resolves the Python runtime with nix; later runs of any
   * Python stage on this executor start the interpreter directly. */
  output = nix_exec_executor_execute (executor, "hello", input, NULL, &error);
  if (output == NULL)
    {
      g_printerr ("%s\n", error->message);
      return EXIT_FAILURE;
    }

  text = json_to_string (output, FALSE);
  g_print ("%s\n", text);
  return EXIT_SUCCESS;
}
