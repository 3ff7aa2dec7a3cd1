//! IAM policy documents: parsing, and evaluation of one request against them.
