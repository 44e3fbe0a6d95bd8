//! Dense linear algebra on const-size symmetric matrices.
