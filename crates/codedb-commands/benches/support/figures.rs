//! What the benchmarks share: the `--runs N` argument, and a figure as its median with its
//! spread (min, max).
#![allow(dead_code)]

/// `--runs N` among `args`, else `default`.
pub(crate) fn runs(args: &[String], default: usize) -> usize {
    args.iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .map_or(default, |n| n.parse().expect("--runs N"))
}

/// Median, min and max.
pub(crate) fn spread(mut xs: Vec<f64>) -> (f64, f64, f64) {
    xs.sort_by(f64::total_cmp);
    (xs[xs.len() / 2], xs[0], xs[xs.len() - 1])
}

pub(crate) fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// `name` and `{"median", "min", "max"}` of `xs`, rounded to `digits`.
pub(crate) fn figure(name: &str, xs: Vec<f64>, digits: i32) -> (String, serde_json::Value) {
    let (median, min, max) = spread(xs);
    (
        name.to_owned(),
        serde_json::json!({
            "median": round(median, digits),
            "min": round(min, digits),
            "max": round(max, digits),
        }),
    )
}
