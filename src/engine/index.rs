//! Feature extraction and the feature dictionary: word stems (with synonyms),
//! word bigrams and character n-grams, hashed to 64 bits and interned to dense
//! ids at build time; TF-IDF weighting with one L2-normalised block per kind.

use std::collections::HashMap;

use super::normalize::{is_number, tokenize_into};
use super::sparse::{SparseVec, fnv1a};
use super::stem::stem;
use super::typo::TypoIndex;

/// Words that carry little meaning in an intent request. Question words,
/// negations, modals and pronouns are deliberately NOT here.
const STOP_WORDS: &[&str] = &[
    "a", "an", "the", "to", "of", "for", "in", "on", "at", "and", "or", "is", "are", "am", "be",
    "please", "um", "uh", "so", "just", "some", "any",
];

pub fn is_stop_word(w: &str) -> bool {
    STOP_WORDS.contains(&w)
}

/// Built-in synonym table: surface word → canonical word (extendable via config).
pub const BUILTIN_SYNONYMS: &[(&str, &str)] = &[
    ("hi", "hello"),
    ("hey", "hello"),
    ("howdy", "hello"),
    ("greetings", "hello"),
    ("bye", "goodbye"),
    ("cya", "goodbye"),
    ("thx", "thanks"),
    ("thank", "thanks"),
    ("ty", "thanks"),
    ("purchase", "buy"),
    ("purchased", "buy"),
    ("bought", "buy"),
    ("cost", "price"),
    ("costs", "price"),
    ("film", "movie"),
    ("films", "movie"),
    ("automobile", "car"),
    ("cellphone", "phone"),
    ("smartphone", "phone"),
    ("television", "tv"),
    ("pic", "photo"),
    ("picture", "photo"),
    ("reimburse", "refund"),
    ("reimbursement", "refund"),
    ("okay", "ok"),
    ("u", "you"),
    ("ur", "your"),
    ("pls", "please"),
    ("plz", "please"),
    ("e-mail", "email"),
    ("passcode", "password"),
    ("vacation", "holiday"),
    // general workplace vocabulary (shared services: finance, HR, IT, procurement)
    ("salary", "pay"),
    ("wages", "pay"),
    ("wage", "pay"),
    ("paycheck", "pay"),
    ("payslip", "pay"),
    ("payslips", "pay"),
    ("remuneration", "pay"),
    ("holidays", "holiday"),
    ("leave", "holiday"),
    ("pto", "holiday"),
    ("ill", "sick"),
    ("illness", "sick"),
    ("sickness", "sick"),
    ("unwell", "sick"),
    ("flu", "sick"),
    ("laptop", "computer"),
    ("pc", "computer"),
    ("desktop", "computer"),
    ("notebook", "computer"),
    ("pinched", "stolen"),
    ("nicked", "stolen"),
    ("theft", "stolen"),
    ("stole", "stolen"),
    ("lost", "missing"),
    ("misplaced", "missing"),
    ("expenses", "expense"),
    ("claim", "expense"),
    ("claims", "expense"),
    ("reimbursed", "refund"),
    ("repay", "refund"),
    ("repaid", "refund"),
    ("bill", "invoice"),
    ("bills", "invoice"),
    ("billed", "invoice"),
    ("supplier", "vendor"),
    ("suppliers", "vendor"),
    ("contractor", "vendor"),
    ("boss", "manager"),
    ("supervisor", "manager"),
    ("approve", "authorise"),
    ("approval", "authorise"),
    ("authorize", "authorise"),
    ("authorization", "authorise"),
    ("authorisation", "authorise"),
    ("signoff", "authorise"),
    ("quit", "resign"),
    ("resignation", "resign"),
    ("mobile", "phone"),
    ("cell", "phone"),
    ("login", "password"),
    ("signin", "password"),
    ("hire", "recruit"),
    ("hiring", "recruit"),
    ("newcomer", "starter"),
    ("joiner", "starter"),
    ("onboarding", "starter"),
    ("pension", "retirement"),
    ("overtime", "hours"),
    ("timesheet", "hours"),
    ("doctor", "medical"),
    ("physician", "medical"),
    ("mileage", "travel"),
    ("trip", "travel"),
    ("flight", "travel"),
    ("spend", "buy"),
    ("buying", "buy"),
    ("order", "buy"),
    ("delivered", "receipt"),
    ("scam", "phishing"),
    ("suspicious", "phishing"),
    ("spam", "phishing"),
];

/// Feature block: word-level (stems, synonyms, bigrams) or character n-grams.
pub const BLOCK_WORD: u8 = 0;
pub const BLOCK_CHAR: u8 = 1;

#[derive(Clone, Debug)]
pub struct FeatureParams {
    pub char_min: usize,
    pub char_max: usize,
    pub bigrams: bool,
    pub word_weight: f32,
    pub char_weight: f32,
    pub stop_words: bool,
    pub skip_bigrams: bool,
    pub cross_word_chars: bool,
    pub surface_unigrams: bool,
    pub edge_words: bool,
    pub chars_from_original: bool,
    pub content_bigrams: bool,
    pub light_stem: bool,
}

/// Result of analysing one text: tokens after typo correction and stems.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    pub tokens: Vec<String>,
    /// Tokens before typo repair (character n-grams may use these).
    pub original: Vec<String>,
    pub stems: Vec<String>,
    /// (original, corrected) pairs
    pub corrections: Vec<(String, String)>,
}

/// One raw feature occurrence: hash, block and (only when asked) a readable name.
pub struct RawFeature {
    pub hash: u64,
    pub block: u8,
}

/// Hasher for keys that are already hashes (feature hashes are FNV-1a of the feature): one
/// multiply spreads them over the table's bits. SipHash was a fifth of the analysis and
/// vector time of a large build, for keys no caller chooses.
#[derive(Clone, Copy, Debug, Default)]
pub struct HashedKey;

impl std::hash::BuildHasher for HashedKey {
    type Hasher = HashedKeyHasher;
    fn build_hasher(&self) -> HashedKeyHasher {
        HashedKeyHasher(0)
    }
}

#[derive(Debug)]
pub struct HashedKeyHasher(u64);

impl std::hash::Hasher for HashedKeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // not used for u64 keys; kept correct for any other
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// Names features for explanations while a build analyses its texts. A name is made only the
/// first time this namer sees a feature: a feature occurs in many texts, and a name per
/// occurrence was most of the memory (2.7 GB) and much of the time of building a large
/// knowledge base. The first occurrence overall is always the first in its namer's run of
/// texts, so every feature still gets its name.
#[derive(Debug, Default)]
pub struct Namer {
    seen: std::collections::HashSet<u64, HashedKey>,
    /// (position in the text's features, name) of the features this text named.
    pub named: Vec<(u32, String)>,
}

/// A text's features and the names it gave (see [`Namer`]).
pub type NamedFeatures = (Vec<RawFeature>, Vec<(u32, String)>);

/// Tells whether a token is in the training vocabulary.
pub type KnownFn<'a> = &'a dyn Fn(&str) -> bool;

#[derive(Clone)]
pub struct Analyzer {
    pub params: FeatureParams,
    pub synonyms: HashMap<String, String>,
}

impl Analyzer {
    pub fn new(params: FeatureParams, extra_synonyms: &[(String, String)]) -> Analyzer {
        let mut synonyms: HashMap<String, String> = BUILTIN_SYNONYMS
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        for (a, b) in extra_synonyms {
            let a = super::normalize::normalize(a);
            let b = super::normalize::normalize(b);
            if !a.is_empty() && !b.is_empty() {
                synonyms.insert(a, b);
            }
        }
        Analyzer { params, synonyms }
    }

    /// Tokenise, optionally typo-correct (`known` tells which tokens are in
    /// the vocabulary), and stem.
    pub fn analyze(&self, text: &str, typo: Option<(&TypoIndex, KnownFn<'_>)>) -> Analysis {
        let mut tokens = Vec::new();
        tokenize_into(text, &mut tokens);
        let mut corrections = Vec::new();
        let original = if self.params.chars_from_original {
            tokens.clone()
        } else {
            Vec::new()
        };
        if let Some((index, known)) = typo {
            for t in tokens.iter_mut() {
                if !known(t)
                    && !self.synonyms.contains_key(t.as_str())
                    && let Some((fixed, _)) = index.correct(t)
                {
                    corrections.push((t.clone(), fixed.to_string()));
                    *t = fixed.to_string();
                }
            }
        }
        let stems = tokens.iter().map(|t| self.stem_token(t)).collect();
        Analysis {
            tokens,
            original,
            stems,
            corrections,
        }
    }

    pub(crate) fn stem_token(&self, t: &str) -> String {
        if is_number(t) {
            "<num>".to_string()
        } else if self.params.light_stem {
            super::stem::light_stem(t)
        } else {
            cached_stem(t)
        }
    }

    /// Emit raw features of an analysed text. When `names` is given, a
    /// readable name is pushed for every feature (build time / explain).
    pub fn features(&self, a: &Analysis, out: &mut Vec<RawFeature>, mut names: Option<&mut Namer>) {
        out.clear();
        let mut push = |hash: u64, block: u8, name: &dyn Fn() -> String| {
            out.push(RawFeature { hash, block });
            if let Some(n) = names.as_deref_mut()
                && n.seen.insert(hash)
            {
                n.named.push((out.len() as u32 - 1, name()));
            }
        };
        for (i, s) in a.stems.iter().enumerate() {
            let tok = &a.tokens[i];
            if self.params.surface_unigrams && tok != s && !is_number(tok) {
                push(fnv1a(b's', tok.as_bytes()), BLOCK_WORD, &|| {
                    format!("={tok}")
                });
            }
            if self.params.edge_words && i == 0 {
                push(fnv1a(b'^', s.as_bytes()), BLOCK_WORD, &|| format!("^{s}"));
            }
            if !(self.params.stop_words && is_stop_word(tok)) {
                push(fnv1a(b'w', s.as_bytes()), BLOCK_WORD, &|| s.clone());
                if let Some(canon) = self.synonyms.get(tok.as_str()) {
                    let cs = stem(canon);
                    if &cs != s {
                        push(fnv1a(b'w', cs.as_bytes()), BLOCK_WORD, &|| cs.clone());
                    }
                }
            }
            if self.params.bigrams && i + 1 < a.stems.len() {
                let next = &a.stems[i + 1];
                let mut h = fnv1a(b'b', s.as_bytes());
                h ^= fnv1a(b'c', next.as_bytes()).rotate_left(17);
                push(h, BLOCK_WORD, &|| format!("{s} {next}"));
            }
            if self.params.skip_bigrams && i + 2 < a.stems.len() {
                let next = &a.stems[i + 2];
                let mut h = fnv1a(b'k', s.as_bytes());
                h ^= fnv1a(b'c', next.as_bytes()).rotate_left(17);
                push(h, BLOCK_WORD, &|| format!("{s} … {next}"));
            }
        }
        if self.params.content_bigrams {
            // bigrams of content words, skipping stop-words ("reset password")
            let content: Vec<&String> = a
                .stems
                .iter()
                .zip(&a.tokens)
                .filter(|(_, t)| {
                    !is_stop_word(t)
                        && !matches!(t.as_str(), "my" | "me" | "i" | "you" | "your" | "it")
                })
                .map(|(s, _)| s)
                .collect();
            for w in content.windows(2) {
                let (x, y) = (w[0], w[1]);
                let mut h = fnv1a(b'q', x.as_bytes());
                h ^= fnv1a(b'c', y.as_bytes()).rotate_left(17);
                push(h, BLOCK_WORD, &|| format!("{x} ~ {y}"));
            }
        }
        if self.params.char_max >= self.params.char_min && self.params.char_min > 0 {
            let mut buf: Vec<char> = Vec::new();
            let mut bytes: Vec<u8> = Vec::new();
            let mut s = String::new();
            let joined: Vec<&String> = if self.params.cross_word_chars {
                vec![]
            } else {
                if a.original.len() == a.tokens.len() {
                    a.original.iter().collect()
                } else {
                    a.tokens.iter().collect()
                }
            };
            let whole = if self.params.cross_word_chars {
                vec![a.tokens.join(" ")]
            } else {
                vec![]
            };
            for tok in joined.into_iter().chain(whole.iter()) {
                if is_number(tok) {
                    continue;
                }
                if tok.is_ascii() {
                    // One byte per character: windows over the bytes hash the same bytes as
                    // the windows over chars below, without building a string per n-gram.
                    bytes.clear();
                    bytes.push(b'<');
                    bytes.extend_from_slice(tok.as_bytes());
                    bytes.push(b'>');
                    for n in self.params.char_min..=self.params.char_max {
                        if bytes.len() < n {
                            break;
                        }
                        for w in bytes.windows(n) {
                            push(fnv1a(b'0' + n as u8, w), BLOCK_CHAR, &|| {
                                String::from_utf8_lossy(w).into_owned()
                            });
                        }
                    }
                    continue;
                }
                buf.clear();
                buf.push('<');
                buf.extend(tok.chars());
                buf.push('>');
                for n in self.params.char_min..=self.params.char_max {
                    if buf.len() < n {
                        break;
                    }
                    for w in buf.windows(n) {
                        s.clear();
                        s.extend(w.iter());
                        push(fnv1a(b'0' + n as u8, s.as_bytes()), BLOCK_CHAR, &|| {
                            s.clone()
                        });
                    }
                }
            }
        }
    }
}

/// Most words a thread's stem cache holds: about 10 MB. Past it, words are stemmed afresh, so
/// queries full of made-up words cannot grow it.
const STEM_CACHE_MAX: usize = 100_000;

thread_local! {
    static STEMS: std::cell::RefCell<HashMap<String, String>> = std::cell::RefCell::new(HashMap::new());
}

/// [`stem`], remembered per thread: words repeat (Zipf), and stemming every occurrence was
/// the largest part of analysing a large knowledge base's texts.
fn cached_stem(t: &str) -> String {
    STEMS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(s) = cache.get(t) {
            return s.clone();
        }
        let s = stem(t);
        if cache.len() < STEM_CACHE_MAX {
            cache.insert(t.to_string(), s.clone());
        }
        s
    })
}

/// Feature dictionary with IDF weights.
#[derive(Clone, Debug, Default)]
pub struct FeatureSpace {
    pub ids: HashMap<u64, u32, HashedKey>,
    pub names: Vec<String>,
    pub blocks: Vec<u8>,
    pub idf: Vec<f32>,
}

impl FeatureSpace {
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Intern features of all training texts and compute IDF. Ids are given in order of first
    /// occurrence. Each core takes a contiguous run of texts and lists its features in order of
    /// first occurrence there, with their document frequencies; the runs are then merged in
    /// order, which gives the same ids as one pass over all texts.
    pub fn build(per_doc: &[NamedFeatures]) -> FeatureSpace {
        use std::collections::hash_map::Entry;
        #[derive(Default)]
        struct Run {
            /// (hash, block, name if this text named it), by first occurrence in the run
            first: Vec<(u64, u8, Option<String>)>,
            /// hash → (texts of the run that have it, last such text)
            df: HashMap<u64, (u32, u32), HashedKey>,
        }
        let runs = super::parallel::par_chunks(per_doc.len(), &|texts| {
            let mut run = Run::default();
            for d in texts {
                let (raw, named) = &per_doc[d];
                let mut named = named.iter().peekable();
                for (k, f) in raw.iter().enumerate() {
                    let name = named.next_if(|(at, _)| *at as usize == k).map(|(_, n)| n);
                    match run.df.entry(f.hash) {
                        Entry::Vacant(e) => {
                            e.insert((1, d as u32));
                            run.first.push((f.hash, f.block, name.cloned()));
                        }
                        Entry::Occupied(mut e) => {
                            let (count, last) = e.get_mut();
                            if *last != d as u32 {
                                *count += 1;
                                *last = d as u32;
                            }
                        }
                    }
                }
            }
            vec![run]
        });
        let mut fs = FeatureSpace::default();
        let mut df: Vec<u32> = Vec::new();
        for run in runs {
            for (hash, block, name) in run.first {
                let next = fs.names.len() as u32;
                if let Entry::Vacant(e) = fs.ids.entry(hash) {
                    e.insert(next);
                    // The first occurrence overall is always named (see `Namer`); the hash
                    // stands in if not.
                    fs.names.push(name.unwrap_or_else(|| format!("#{hash:x}")));
                    fs.blocks.push(block);
                    df.push(0);
                }
            }
            for (hash, (count, _)) in run.df {
                if let Some(&id) = fs.ids.get(&hash) {
                    df[id as usize] += count;
                }
            }
        }
        let n = per_doc.len() as f32;
        fs.idf = df
            .iter()
            .map(|&d| ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0)
            .collect();
        fs
    }

    /// TF-IDF vector (sublinear tf), each block L2-normalised then scaled.
    pub fn vectorize(&self, raw: &[RawFeature], params: &FeatureParams) -> SparseVec {
        self.vectorize_with(raw, &[], params)
    }

    /// As [`FeatureSpace::vectorize`], with `extra` (feature id, weight) occurrences added to
    /// the counts: query expansion. A feature's term frequency is its count plus its extra
    /// weights; below 1 (only expanded, lightly) it scales the IDF linearly, which meets
    /// `1 + ln(tf)` at 1, so an expanded term never outweighs a typed one.
    pub fn vectorize_with(
        &self,
        raw: &[RawFeature],
        extra: &[(u32, f32)],
        params: &FeatureParams,
    ) -> SparseVec {
        let mut ids: Vec<(u32, f32)> = raw
            .iter()
            .filter_map(|f| self.ids.get(&f.hash).map(|&id| (id, 1.0)))
            .chain(extra.iter().copied())
            .collect();
        ids.sort_unstable_by_key(|&(id, _)| id);
        // sized exactly: a build holds one vector per text
        let distinct = ids.windows(2).filter(|p| p[0].0 != p[1].0).count() + 1;
        let distinct = if ids.is_empty() { 0 } else { distinct };
        let mut v = SparseVec {
            ids: Vec::with_capacity(distinct),
            vals: Vec::with_capacity(distinct),
        };
        let mut i = 0;
        while i < ids.len() {
            let id = ids[i].0;
            let mut tf = 0.0f32;
            while i < ids.len() && ids[i].0 == id {
                tf += ids[i].1;
                i += 1;
            }
            v.ids.push(id);
            let tf = if tf >= 1.0 { 1.0 + tf.ln() } else { tf };
            v.vals.push(tf * self.idf[id as usize]);
        }
        let mut norms = [0.0f32; 2];
        for (k, &id) in v.ids.iter().enumerate() {
            norms[self.blocks[id as usize] as usize] += v.vals[k] * v.vals[k];
        }
        let scale = [
            if norms[0] > 0.0 {
                params.word_weight / norms[0].sqrt()
            } else {
                0.0
            },
            if norms[1] > 0.0 {
                params.char_weight / norms[1].sqrt()
            } else {
                0.0
            },
        ];
        for (k, &id) in v.ids.iter().enumerate() {
            v.vals[k] *= scale[self.blocks[id as usize] as usize];
        }
        v
    }
}
