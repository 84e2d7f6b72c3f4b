; C. Rules in the README's table.

; Classes: structs, unions and enums with a body and a name; an unnamed one takes the name
; of the typedef that declares it (`typedef struct {...} X` is `X`).
(struct_specifier name: (type_identifier) @name body: (field_declaration_list)) @definition.class
(union_specifier name: (type_identifier) @name body: (field_declaration_list)) @definition.class
(enum_specifier name: (type_identifier) @name body: (enumerator_list)) @definition.class
(type_definition
  type: [(struct_specifier !name body: (_)) (union_specifier !name body: (_)) (enum_specifier !name body: (_))]
  .
  declarator: (type_identifier) @name) @definition.class

; Functions: definitions with a body (prototypes are declarations, not counted).
(function_definition declarator: (_) @name) @definition.function

; Imports: each #include.
(preproc_include path: (_) @module) @import
