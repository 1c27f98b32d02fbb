// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A stage: JavaScript (a CommonJS script) that defines execute(input). Run
// it with
//
//   nixexec run examples/stages/greet.js --input '{"name": "world"}'

function execute(input) {
  return { greeting: `Hello, ${input.name}!` };
}
