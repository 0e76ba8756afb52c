//! The RIB: see the module docs once written.
