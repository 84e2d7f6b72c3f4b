; Java. Rules in the README's table.

; Classes: every named type declaration, nested and local ones too.
(class_declaration name: (identifier) @name) @definition.class
(interface_declaration name: (identifier) @name) @definition.class
(enum_declaration name: (identifier) @name) @definition.class
(record_declaration name: (identifier) @name) @definition.class
(annotation_type_declaration name: (identifier) @name) @definition.class

; Methods: methods and constructors in the body of a named type; annotation elements.
; Anonymous classes and enum constant bodies have no name: their methods are not counted.
(class_declaration body: (class_body
  [(method_declaration name: (_) @name) (constructor_declaration name: (_) @name)] @definition.method))
(record_declaration body: (class_body
  [(method_declaration name: (_) @name)
   (constructor_declaration name: (_) @name)
   (compact_constructor_declaration name: (_) @name)] @definition.method))
(enum_declaration body: (enum_body (enum_body_declarations
  [(method_declaration name: (_) @name) (constructor_declaration name: (_) @name)] @definition.method)))
(interface_declaration body: (interface_body (method_declaration name: (_) @name) @definition.method))
(annotation_type_declaration body: (annotation_type_body
  (annotation_type_element_declaration name: (_) @name) @definition.method))

; Imports: each import declaration (static and on-demand ones too).
(import_declaration) @import
