; TypeScript's (and TSX's) own.

; Abstract classes, interfaces and enums are classes.
(abstract_class_declaration name: (_) @name) @definition.class
(interface_declaration name: (_) @name) @definition.class
(enum_declaration name: (_) @name) @definition.class

; Namespaces qualify what they hold (`N.M.f`) and are not counted. `declare module "m"`
; and `declare global` do not qualify.
(internal_module name: [(identifier) (nested_identifier)] @name) @scope
(module name: [(identifier) (nested_identifier)] @name) @scope

; Bodiless functions: overload signatures (merged with their implementation) and
; `declare function` (a run of them is one function).
(function_signature name: (identifier) @name) @definition.function

; Methods of classes (abstract ones too): implementations, overload signatures (merged),
; abstract members, and fields bound to a function.
(abstract_class_declaration body: (class_body (method_definition name: (_) @name) @definition.method))
(class_declaration body: (class_body [
  (method_signature name: (_) @name)
  (abstract_method_signature name: (_) @name)
  (public_field_definition
    name: (_) @name
    value: [(arrow_function) (function_expression) (generator_function)])
] @definition.method))
(abstract_class_declaration body: (class_body [
  (method_signature name: (_) @name)
  (abstract_method_signature name: (_) @name)
  (public_field_definition
    name: (_) @name
    value: [(arrow_function) (function_expression) (generator_function)])
] @definition.method))
(variable_declarator value: (class body: (class_body [
  (method_signature name: (_) @name)
  (abstract_method_signature name: (_) @name)
  (public_field_definition
    name: (_) @name
    value: [(arrow_function) (function_expression) (generator_function)])
] @definition.method)))

; Method signatures of interfaces (a run of overloads is one).
(interface_declaration body: (interface_body (method_signature name: (_) @name) @definition.method))

; `import x = require("m")` is an import statement.
(import_statement (import_require_clause source: (string) @module)) @import
