/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

G_BEGIN_DECLS

/*
 * What the fuzz targets share (see README.md here). fuzz-util.c defines
 * LLVMFuzzerInitialize: GLib errors, criticals and warnings abort, so that
 * a broken precondition inside the library is a finding like a crash.
 */

/* The entry point every target defines. */
int         LLVMFuzzerTestOneInput (const uint8_t *data,
                                    size_t         size);
int         LLVMFuzzerInitialize   (int           *argc,
                                    char        ***argv);

/* The path of @name in a private directory of this process, made on first
 * use under TMPDIR and removed, with everything in it, when it exits. */
const char *nix_exec_fuzz_path     (const char    *name);

/* Replaces the contents of @path with @data, without syncing. */
void        nix_exec_fuzz_write    (const char    *path,
                                    const uint8_t *data,
                                    size_t         size);

G_END_DECLS
