//! The BGP session: see the module docs once written.
