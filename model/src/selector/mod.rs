//! Calico label selectors.
