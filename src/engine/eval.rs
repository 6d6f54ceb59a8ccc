//! Evaluation: build an engine from labelled rows, measure accuracy, out-of-
//! scope recall, macro-F1, confusions and latency. Rows labelled `oos` are
//! out-of-scope: never used as an intent; when `val` is given the out-of-scope
//! threshold is picked on it (never on `test`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Instant;

use serde::Serialize;

use super::{Engine, EngineConfig, IntentDef};

pub const OOS: &str = "oos";

/// Labelled rows: (text, intent).
pub type Rows = Vec<(String, String)>;

#[derive(Clone, Debug, Serialize)]
pub struct EvalReport {
    pub train_rows: usize,
    pub test_rows: usize,
    pub intents: usize,
    /// Accuracy on in-scope test rows (a fallback counts as wrong when the
    /// data has out-of-scope rows; otherwise top-1 accuracy).
    pub in_scope_accuracy: f64,
    /// Top-1 accuracy on in-scope rows, ignoring the threshold.
    pub top1_accuracy: f64,
    /// Recall of `oos` rows (None when the test set has none).
    pub oos_recall: Option<f64>,
    pub macro_f1: f64,
    /// Share of answers that would be Clarify with the configured margin.
    pub clarify_rate: f64,
    /// (gold, predicted, count), top 10.
    pub confused_pairs: Vec<(String, String, usize)>,
    pub train_seconds: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub queries_per_second: f64,
    pub oos_threshold: f32,
    pub threshold_source: String,
    pub features: usize,
    /// Trade-off on the test rows: (threshold, in-scope accuracy, oos recall).
    pub curve: Vec<(f32, f64, f64)>,
}

/// Parse JSONL rows `{"text": ..., "intent": ...}`; errors name the line.
pub fn load_jsonl(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        let get = |k: &str| -> Result<String, String> {
            v.get(k)
                .and_then(|x| x.as_str())
                .map(str::to_string)
                .ok_or_else(|| format!("line {}: missing string field {k:?}", i + 1))
        };
        rows.push((get("text")?, get("intent")?));
    }
    Ok(rows)
}

/// Group rows into intent definitions (first-appearance order). `oos` rows become the
/// intent named `oos_intent` (the engine's `out_of_scope_intent`), or are skipped when it is
/// empty.
pub fn to_intents(rows: &[(String, String)], oos_intent: &str) -> Vec<IntentDef> {
    let mut order: Vec<IntentDef> = Vec::new();
    let mut pos: HashMap<&str, usize> = HashMap::new();
    for (text, intent) in rows {
        let intent = if intent == OOS {
            if oos_intent.is_empty() {
                continue;
            }
            oos_intent
        } else {
            intent.as_str()
        };
        let i = *pos.entry(intent).or_insert_with(|| {
            order.push(IntentDef {
                name: intent.to_string(),
                examples: Vec::new(),
                rules: Vec::new(),
                passages: Vec::new(),
            });
            order.len() - 1
        });
        order[i].examples.push(text.clone());
    }
    order
}

/// Deterministic holdout: every `k`-th row of each intent goes to the second set.
pub fn holdout_split(rows: &[(String, String)], k: usize) -> (Rows, Rows) {
    let mut count: HashMap<&str, usize> = HashMap::new();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for r in rows {
        let c = count.entry(r.1.as_str()).or_insert(0);
        *c += 1;
        if k > 0 && (*c).is_multiple_of(k) {
            b.push(r.clone());
        } else {
            a.push(r.clone());
        }
    }
    (a, b)
}

/// (gold, predicted top intent, confidence, top-2 margin) for each row.
fn score_rows(
    engine: &Engine,
    rows: &[(String, String)],
    latencies: Option<&mut Vec<f64>>,
    progress: &mut dyn FnMut(usize, usize),
) -> Vec<(String, Option<String>, f32, f32)> {
    let mut out = Vec::with_capacity(rows.len());
    let mut lat = latencies;
    for (i, (text, gold)) in rows.iter().enumerate() {
        let t0 = Instant::now();
        let c = engine.classify(text);
        let dt = t0.elapsed().as_secs_f64() * 1e6;
        if let Some(l) = lat.as_deref_mut() {
            l.push(dt);
        }
        let oos_intent = engine.config().out_of_scope_intent.as_str();
        let mut top = c.ranked.first().map(|s| s.intent.clone());
        let mut p1 = c.ranked.first().map_or(0.0, |s| s.confidence);
        // the out-of-scope intent ranked first: rejected at any threshold
        if top.as_deref() == Some(oos_intent) {
            top = Some(OOS.to_string());
            p1 = 0.0;
        }
        // the runner-up is an in-scope intent, as in the engine's `Clarify`
        let p2 = c
            .ranked
            .iter()
            .skip(1)
            .find(|s| s.intent != oos_intent)
            .map_or(0.0, |s| s.confidence);
        out.push((gold.clone(), top, p1, p1 - p2));
        if i % 256 == 0 || i + 1 == rows.len() {
            progress(i + 1, rows.len());
        }
    }
    out
}

/// Pick the threshold maximising expected accuracy when a share `oos_prior`
/// of traffic is out of scope: `(1 - prior) · in-scope accuracy + prior · oos
/// recall` (an in-scope row is right when accepted with the right intent, an
/// `oos` row when rejected). With `prior = None` the rows' own share is used,
/// i.e. plain accuracy over all rows. Ties go to the lowest threshold.
pub fn pick_threshold(
    scored: &[(String, Option<String>, f32, f32)],
    oos_prior: Option<f64>,
) -> f32 {
    let n_oos = scored.iter().filter(|r| r.0 == OOS).count();
    let n_in = scored.len() - n_oos;
    if n_oos == 0 || n_in == 0 {
        return 0.0;
    }
    let prior = oos_prior.unwrap_or(n_oos as f64 / scored.len() as f64);
    let mut cands: Vec<f32> = scored.iter().map(|r| r.2).collect();
    cands.push(0.0);
    cands.sort_by(f32::total_cmp);
    cands.dedup();
    let mut best = (f64::MIN, 0.0f32);
    for &t in &cands {
        let mut ok_in = 0usize;
        let mut ok_oos = 0usize;
        for (gold, pred, p, _) in scored {
            let rejected = *p < t;
            if gold == OOS {
                ok_oos += usize::from(rejected);
            } else if !rejected && pred.as_deref() == Some(gold.as_str()) {
                ok_in += 1;
            }
        }
        let j = (1.0 - prior) * ok_in as f64 / n_in as f64 + prior * ok_oos as f64 / n_oos as f64;
        if j > best.0 {
            best = (j, t);
        }
    }
    best.1
}

/// Fair threshold: k-fold cross-validation on `train` (each in-scope row is
/// scored by a model that did not see it; the `oos` rows, never trained on,
/// by every fold's model). `oos_prior` is the expected out-of-scope share
/// of traffic (train's own share is usually not representative).
pub fn cv_threshold(
    train: &[(String, String)],
    k: usize,
    oos_prior: Option<f64>,
    config: &EngineConfig,
    progress: &mut dyn FnMut(usize, usize),
) -> f32 {
    let k = k.max(2);
    let mut scored = Vec::new();
    let cfg = EngineConfig {
        oos_threshold: 0.0,
        clarify_margin: 0.0,
        ..config.clone()
    };
    // `oos` rows trained as an intent are folded like the others; otherwise none is trained
    // on and every fold's model scores all of them
    let oos_trained = !config.out_of_scope_intent.is_empty();
    for fold in 0..k {
        let mut tr = Vec::new();
        let mut te = Vec::new();
        let mut count: HashMap<&str, usize> = HashMap::new();
        for r in train {
            if r.1 == OOS && !oos_trained {
                continue;
            }
            let c = count.entry(r.1.as_str()).or_insert(0);
            *c += 1;
            if *c % k == fold {
                te.push(r.clone());
            } else {
                tr.push(r.clone());
            }
        }
        if !oos_trained {
            // every fold's model scores all `oos` rows, so the out-of-scope side is averaged
            // over the k models like the in-scope side
            te.extend(train.iter().filter(|r| r.1 == OOS).cloned());
        }
        let Ok(engine) =
            Engine::build(&to_intents(&tr, &cfg.out_of_scope_intent), &[], cfg.clone())
        else {
            continue;
        };
        scored.extend(score_rows(&engine, &te, None, progress));
    }
    pick_threshold(&scored, oos_prior)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Build on `train`, evaluate on `test`. With `val`, the out-of-scope threshold
/// is picked on `val`; otherwise `config.oos_threshold` is used (or 0 when
/// neither set has out-of-scope rows).
pub fn evaluate(
    train: &[(String, String)],
    test: &[(String, String)],
    val: Option<&[(String, String)]>,
    config: EngineConfig,
    progress: &mut dyn FnMut(usize, usize),
) -> EvalReport {
    let intents = to_intents(train, &config.out_of_scope_intent);
    let clarify_margin = config.clarify_margin;
    let mut cfg = config.clone();
    cfg.oos_threshold = 0.0;
    cfg.clarify_margin = 0.0;
    let t0 = Instant::now();
    let engine = Engine::build(&intents, &[], cfg);
    let train_seconds = t0.elapsed().as_secs_f64();
    let has_oos =
        test.iter().any(|r| r.1 == OOS) || val.is_some_and(|v| v.iter().any(|r| r.1 == OOS));
    let engine = match engine {
        Ok(e) => e,
        Err(_) => {
            return EvalReport {
                train_rows: train.len(),
                test_rows: test.len(),
                intents: intents.len(),
                in_scope_accuracy: 0.0,
                top1_accuracy: 0.0,
                oos_recall: None,
                macro_f1: 0.0,
                clarify_rate: 0.0,
                confused_pairs: Vec::new(),
                train_seconds,
                p50_us: 0.0,
                p99_us: 0.0,
                queries_per_second: 0.0,
                oos_threshold: config.oos_threshold,
                threshold_source: "engine build failed".into(),
                features: 0,
                curve: Vec::new(),
            };
        }
    };
    let (threshold, source) = match val {
        Some(v) if v.iter().any(|r| r.1 == OOS) => {
            let scored = score_rows(&engine, v, None, progress);
            (pick_threshold(&scored, None), "picked on val".to_string())
        }
        _ if !has_oos => (0.0, "none (no out-of-scope rows)".to_string()),
        _ => (config.oos_threshold, "config".to_string()),
    };
    // warm-up (thread-local scratch, caches), not timed
    for (t, _) in test.iter().take(50) {
        let _ = engine.classify(t);
    }
    let mut lat = Vec::with_capacity(test.len());
    let wall = Instant::now();
    let scored = score_rows(&engine, test, Some(&mut lat), progress);
    let wall = wall.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);

    let mut n_in = 0usize;
    let mut ok_in = 0usize;
    let mut ok_top1 = 0usize;
    let mut n_oos = 0usize;
    let mut ok_oos = 0usize;
    let mut clarify = 0usize;
    let mut confusion: BTreeMap<(String, String), usize> = BTreeMap::new();
    // per-label (tp, fp, fn)
    let mut f1: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    for (gold, top, p, margin) in &scored {
        let pred: String = if *p < threshold {
            OOS.to_string()
        } else {
            top.clone().unwrap_or_else(|| OOS.to_string())
        };
        if pred != OOS && *margin < clarify_margin {
            clarify += 1;
        }
        if gold == OOS {
            n_oos += 1;
            ok_oos += usize::from(pred == OOS);
        } else {
            n_in += 1;
            ok_in += usize::from(&pred == gold);
            ok_top1 += usize::from(top.as_deref() == Some(gold.as_str()));
        }
        if &pred == gold {
            f1.entry(gold.clone()).or_default().0 += 1;
        } else {
            f1.entry(pred.clone()).or_default().1 += 1;
            f1.entry(gold.clone()).or_default().2 += 1;
            *confusion.entry((gold.clone(), pred)).or_insert(0) += 1;
        }
    }
    let macro_f1 = if f1.is_empty() {
        0.0
    } else {
        f1.values()
            .map(|&(tp, fp, fneg)| {
                let d = 2 * tp + fp + fneg;
                if d == 0 {
                    0.0
                } else {
                    2.0 * tp as f64 / d as f64
                }
            })
            .sum::<f64>()
            / f1.len() as f64
    };
    let mut confused_pairs: Vec<(String, String, usize)> =
        confusion.into_iter().map(|((g, p), n)| (g, p, n)).collect();
    confused_pairs.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
    confused_pairs.truncate(10);
    EvalReport {
        train_rows: train.len(),
        test_rows: test.len(),
        intents: intents.len(),
        in_scope_accuracy: ok_in as f64 / n_in.max(1) as f64,
        top1_accuracy: ok_top1 as f64 / n_in.max(1) as f64,
        oos_recall: (n_oos > 0).then(|| ok_oos as f64 / n_oos as f64),
        macro_f1,
        clarify_rate: clarify as f64 / scored.len().max(1) as f64,
        confused_pairs,
        train_seconds,
        p50_us: percentile(&lat, 0.5),
        p99_us: percentile(&lat, 0.99),
        queries_per_second: if wall > 0.0 {
            scored.len() as f64 / wall
        } else {
            0.0
        },
        oos_threshold: threshold,
        threshold_source: source,
        features: engine.feature_count(),
        curve: tradeoff(&scored),
    }
}

/// In-scope accuracy and oos recall at a ladder of thresholds.
fn tradeoff(scored: &[(String, Option<String>, f32, f32)]) -> Vec<(f32, f64, f64)> {
    let n_oos = scored.iter().filter(|r| r.0 == OOS).count();
    let n_in = scored.len() - n_oos;
    if n_oos == 0 || n_in == 0 {
        return Vec::new();
    }
    let mut cands: Vec<f32> = scored.iter().filter(|r| r.0 == OOS).map(|r| r.2).collect();
    cands.sort_by(f32::total_cmp);
    let mut out = Vec::new();
    for q in [0.1, 0.2, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8] {
        let t = cands[((n_oos as f64 * q) as usize).min(n_oos - 1)] + 1e-6;
        let ok_in = scored
            .iter()
            .filter(|r| r.0 != OOS && r.2 >= t && r.1.as_deref() == Some(r.0.as_str()))
            .count();
        let ok_oos = scored.iter().filter(|r| r.0 == OOS && r.2 < t).count();
        out.push((t, ok_in as f64 / n_in as f64, ok_oos as f64 / n_oos as f64));
    }
    out
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "train rows {}  test rows {}  intents {}  features {}",
            self.train_rows, self.test_rows, self.intents, self.features
        )?;
        writeln!(
            f,
            "in-scope accuracy  {:.2}%",
            self.in_scope_accuracy * 100.0
        )?;
        writeln!(
            f,
            "top-1 accuracy     {:.2}%  (no threshold)",
            self.top1_accuracy * 100.0
        )?;
        match self.oos_recall {
            Some(r) => writeln!(f, "oos recall         {:.2}%", r * 100.0)?,
            None => writeln!(f, "oos recall         n/a")?,
        }
        writeln!(f, "macro-F1           {:.4}", self.macro_f1)?;
        writeln!(f, "clarify rate       {:.2}%", self.clarify_rate * 100.0)?;
        writeln!(
            f,
            "oos threshold      {:.4} ({})",
            self.oos_threshold, self.threshold_source
        )?;
        writeln!(f, "train seconds      {:.3}", self.train_seconds)?;
        writeln!(
            f,
            "latency            p50 {:.1} µs  p99 {:.1} µs  {:.0} q/s",
            self.p50_us, self.p99_us, self.queries_per_second
        )?;
        if !self.confused_pairs.is_empty() {
            writeln!(f, "most confused (gold → predicted):")?;
            for (g, p, n) in &self.confused_pairs {
                writeln!(f, "  {n:>4}  {g} → {p}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_errors_name_the_line() {
        let ok = load_jsonl("{\"text\": \"hi\", \"intent\": \"greet\"}\n\n").unwrap();
        assert_eq!(ok, vec![("hi".to_string(), "greet".to_string())]);
        let err = load_jsonl("{\"text\": \"hi\", \"intent\": \"greet\"}\n{oops").unwrap_err();
        assert!(err.starts_with("line 2"), "{err}");
        let err = load_jsonl("{\"text\": \"hi\"}").unwrap_err();
        assert!(err.contains("line 1") && err.contains("intent"), "{err}");
    }

    #[test]
    fn cv_threshold_rejects_train_oos_rows() {
        let mut rows: Rows = Vec::new();
        for (intent, words) in [
            (
                "pay",
                ["when is payday", "salary date", "when do I get paid"],
            ),
            ("vpn", ["vpn is down", "cannot connect to vpn", "vpn error"]),
            (
                "leave",
                ["book annual leave", "holiday request", "how much leave"],
            ),
        ] {
            for k in 0..4 {
                for w in words {
                    rows.push((format!("{w} {k}"), intent.to_string()));
                }
            }
        }
        for t in ["recipe for pancakes", "football scores", "weather in paris"] {
            rows.push((t.to_string(), OOS.to_string()));
        }
        let config = EngineConfig::default();
        let t = cv_threshold(&rows, 3, Some(0.1), &config, &mut |_, _| {});
        assert!(t > 0.0 && t <= 1.0, "{t}");
        // deterministic
        assert_eq!(
            t,
            cv_threshold(&rows, 3, Some(0.1), &config, &mut |_, _| {})
        );
    }

    #[test]
    fn holdout_is_deterministic() {
        let rows: Vec<(String, String)> = (0..30)
            .map(|i| (format!("t{i}"), format!("i{}", i % 3)))
            .collect();
        let (a, b) = holdout_split(&rows, 5);
        assert_eq!(a.len(), 24);
        assert_eq!(b.len(), 6);
        assert_eq!(holdout_split(&rows, 5).1, b);
    }
}
