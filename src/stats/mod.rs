//! Statistics for qualification evidence: basis values (typical, B-basis, A-basis) under normal,
//! lognormal, Weibull and non-parametric models, goodness of fit, outlier screening, batch
//! pooling and equivalency. Distributions and special functions come from statrs.
//!
//! Knows nothing about packages or profiles: it takes numbers and returns numbers with the
//! reasons behind them.
