//! Routes: see the module docs once written.
