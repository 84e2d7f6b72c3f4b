; JavaScript's own: class fields bound to a function are methods.
(class_declaration body: (class_body
  (field_definition
    property: (_) @name
    value: [(arrow_function) (function_expression) (generator_function)]) @definition.method))
(variable_declarator value: (class body: (class_body
  (field_definition
    property: (_) @name
    value: [(arrow_function) (function_expression) (generator_function)]) @definition.method)))
