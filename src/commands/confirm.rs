//! `fleetreset confirm`.
