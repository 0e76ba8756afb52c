//! calico-sim: a deterministic turmoil simulation of whole clusters.
