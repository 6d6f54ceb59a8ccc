//! TEMPORARY: replaced by the real evaluation.
