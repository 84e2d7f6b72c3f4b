; C++. Rules in the README's table.

; Namespaces qualify what they hold (`ns::Class::method`) and are not counted.
(namespace_definition name: (_) @name) @scope

; Classes: classes, structs, unions and enums with a body and a name (specializations
; too, named without their arguments); `typedef struct {...} X` is `X`.
(class_specifier name: (_) @name body: (field_declaration_list)) @definition.class
(struct_specifier name: (_) @name body: (field_declaration_list)) @definition.class
(union_specifier name: (_) @name body: (field_declaration_list)) @definition.class
(enum_specifier name: (_) @name body: (enumerator_list)) @definition.class
(type_definition
  type: [(struct_specifier !name body: (_)) (union_specifier !name body: (_)) (enum_specifier !name body: (_)) (class_specifier !name body: (_))]
  .
  declarator: (type_identifier) @name) @definition.class

; Functions with a body (`= default` and `= delete` ones too). In a class body they are
; methods; `A::f` outside is a method of `A` unless `A` is a namespace of the file.
(function_definition declarator: (_) @name) @definition.function

; Imports: each #include.
(preproc_include path: (_) @module) @import
