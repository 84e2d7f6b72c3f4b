//! codedb's schema layer: not built yet.
//!
//! This crate will hold the declarative schema model, the introspection trait each backend
//! implements, `diff(live, desired)` with its safety classes, and the backup policy (see the
//! design brief, answers to Q1-Q8, and the schema issue). Until then it exports nothing, so
//! that nothing can depend on a schema feature that does not exist.
