; Go. Rules in the README's table.

; Classes: type specs whose type is a struct or an interface (aliases `type A = B` and
; defined types without a body, `type N int`, are not).
(type_spec name: (type_identifier) @name type: [(struct_type) (interface_type)]) @definition.class

; Methods: functions with a receiver (`Type.Method`), and the method lists of interfaces.
(method_declaration
  receiver: (parameter_list (parameter_declaration type: (_) @owner))
  name: (field_identifier) @name) @definition.method
(type_spec type: (interface_type (method_elem name: (field_identifier) @name) @definition.method))

; Functions: declarations without a receiver (function literals are values).
(function_declaration name: (identifier) @name) @definition.function

; Imports: each import spec.
(import_spec path: (_) @module) @import
