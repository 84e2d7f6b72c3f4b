; What JavaScript, TypeScript and TSX share. Rules in the README's table.

; Classes: class declarations, and class expressions bound to a name by a declaration
; (`const A = class {...}`: the class is `A`).
(class_declaration name: (_) @name) @definition.class
(variable_declarator name: (identifier) @name value: (class)) @definition.class

; Functions: declarations, and functions or arrow functions bound to a name by a
; declaration (`const f = () => ...`). Function expressions elsewhere, object-literal
; methods and CommonJS assignments (`exports.f = function`) are values, not declarations.
(function_declaration name: (identifier) @name) @definition.function
(generator_function_declaration name: (identifier) @name) @definition.function
(variable_declarator
  name: (identifier) @name
  value: [(arrow_function) (function_expression) (generator_function)]) @definition.function

; Methods: in the body of a class declaration or of a class bound to a name.
(class_declaration body: (class_body (method_definition name: (_) @name) @definition.method))
(variable_declarator value: (class body: (class_body (method_definition name: (_) @name) @definition.method)))

; Imports: import statements (`import type` and `import x = require("m")` too) and
; `require("m")` calls with one string argument, wherever they are.
(import_statement source: (string) @module) @import
(call_expression
  function: (identifier) @_require
  arguments: (arguments . (string) @module .)
  (#eq? @_require "require")) @import
