/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

#include "nixexec-child-private.h"
#include "nixexec-result.h"
#include "nixexec-runtimes-private.h"

G_BEGIN_DECLS

/*
 * How a stage's run ended, one-shot or warm alike: decoded from what the
 * process gave back, in one place, next to the wrapper protocol. See
 * nixexec-outcome.c.
 */
typedef enum {
  NIX_EXEC_OUTCOME_VALUE,    /* value: the stage returned it */
  NIX_EXEC_OUTCOME_REPORT,   /* report: the wrapper's account of a failure */
  NIX_EXEC_OUTCOME_EXITED,   /* exit_status: the process ended without an answer */
  NIX_EXEC_OUTCOME_SIGNALED, /* term_signal: killed by a signal */
  NIX_EXEC_OUTCOME_NO_SANDBOX, /* bwrap could not set the sandbox up; logs say why */
} NixExecOutcomeKind;

typedef struct
{
  NixExecOutcomeKind  kind;
  JsonNode           *value;        /* owned; VALUE only */
  JsonObject         *report;       /* owned; REPORT only */
  int                 exit_status;  /* EXITED; 0 for a one-shot VALUE */
  int                 term_signal;  /* SIGNALED */
  GBytes             *logs;         /* owned: what the stage wrote on stderr */
  gboolean            logs_truncated;
  gint64              duration;     /* microseconds */
} NixExecOutcome;

void            nix_exec_outcome_free    (NixExecOutcome      *outcome);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NixExecOutcome, nix_exec_outcome_free)

/*
 * Decodes a run: a one-shot child's exit and stdout, or a warm worker's
 * response frame or death (child->framed). @sandboxed: the process was bwrap,
 * which reports its stage's death by signal N as exit status 128 + N.
 * Fails with NIX_EXEC_ERROR_INVALID_OUTPUT when the output is not what the
 * protocol allows (not one JSON value, not a response object).
 */
NixExecOutcome *nix_exec_outcome_decode  (const char          *stage_id,
                                          NixExecChildResult  *child,
                                          gboolean             sandboxed,
                                          GError             **error);

/*
 * The caller's answer: a NixExecResult for VALUE, or the error that says
 * how the stage failed.
 */
NixExecResult  *nix_exec_outcome_to_result (NixExecOutcome       *outcome,
                                            const char           *stage_id,
                                            const NixExecRuntime *runtime,
                                            GError              **error);

G_END_DECLS
